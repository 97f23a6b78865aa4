"""The remote's `control`, `alert`, the new item kinds and the kiosk's files, without a browser.

The kiosk runs as the player serves it (KioskThread); where a page is needed, the test plays it: it
reads `/events` and posts to `/shown`, as tests/player/test_kiosk.py does. The pixels are checked in
tests/player/test_render_browser.py.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from classcast.protocol import DEFAULT_VIEW
from player.cache import ContentCache
from player.commands import Context, alert, apply_state, control, parse_state, show
from player.desired import StateFile
from player.items import parse_item
from player.kiosk import Kiosk
from player.showings import Showings
from player.usage import UsageOutbox
from tests.player.conftest import (
    HTTP_TIMEOUT,
    ContentServer,
    EventStream,
    KioskThread,
    post_json,
    request,
    solid_png,
    sse_data,
)
from tests.player.standin import wait_for

pytestmark = pytest.mark.timeout(60)

SHA = "ab" * 32
TEXT = {"kind": "text", "title": "Тема", "text": "<b>не разметка</b>"}
ALERT = {"id": "a7", "title": "Внимание", "text": "Эвакуация", "level": "danger"}
PAGE_TWO = {**DEFAULT_VIEW, "page": 1}


@pytest.fixture
def ctx(kiosk: KioskThread, cache: ContentCache, tmp_path: Path) -> Context:
    kiosk.kiosk.bundle_file = cache.bundle_file
    return Context(kiosk.kiosk, cache, show_timeout=3.0, state=StateFile(tmp_path / "state.json"))


def report(kiosk: KioskThread, **body: Any) -> None:
    """Report, as the page does, that a cast (`cast_id`) or a card or view (`id`) is on screen."""
    assert post_json(kiosk.url + "/shown", {"ok": True, "shown_at": 1.5, **body}).status == 204


def shown_cast(kiosk: KioskThread, ctx: Context, events: EventStream, item: dict[str, Any]) -> None:
    """Show `item` as the cast "c1", the test playing the page."""
    pending = kiosk.call(show, ctx, {"cast_id": "c1", "item": item})
    assert sse_data(events.next_block())["cast_id"] == "c1"
    report(kiosk, cast_id="c1")
    assert pending.result(HTTP_TIMEOUT)["ok"] is True


def pdf(content_server: ContentServer, count: int = 2) -> dict[str, Any]:
    colours = [(255, 0, 0), (0, 0, 255), (0, 255, 0)][:count]
    pages = [
        {"sha256": content_server.add(solid_png(rgb), "image/png"), "mime": "image/png"} for rgb in colours
    ]
    return {"kind": "pdf", "title": "Урок", "pages": pages}


# --- items ------------------------------------------------------------------------------------------

WELL_FORMED = {
    "image": (
        {"kind": "image", "sha256": SHA, "size": 5, "mime": "image/webp", "title": "T", "extra": 1},
        {"kind": "image", "sha256": SHA, "size": 5, "mime": "image/webp", "title": "T"},
    ),
    "video": (
        {"kind": "video", "sha256": SHA, "mime": "video/webm", "sound": True},
        {"kind": "video", "sha256": SHA, "mime": "video/webm", "sound": True, "title": ""},
    ),
    "pdf": (
        {"kind": "pdf", "pages": [{"sha256": SHA, "size": 1, "mime": "image/png", "x": 2}], "title": "P"},
        {"kind": "pdf", "pages": [{"sha256": SHA, "size": 1, "mime": "image/png"}], "title": "P"},
    ),
    "html5": (
        {"kind": "html5", "sha256": SHA, "size": 9, "entry": "game/index.html", "library": True},
        {
            "kind": "html5",
            "sha256": SHA,
            "size": 9,
            "mime": "application/zip",
            "entry": "game/index.html",
            "library": True,
            "title": "",
        },
    ),
    "text": (TEXT, {**TEXT}),
    "long title cut": ({**TEXT, "title": "Я" * 500}, {**TEXT, "title": "Я" * 200}),
}


@pytest.mark.parametrize(("given", "normalised"), list(WELL_FORMED.values()), ids=list(WELL_FORMED))
def test_each_kind_is_kept_with_its_own_fields(given: dict[str, Any], normalised: dict[str, Any]) -> None:
    assert parse_item(given) == normalised


MALFORMED_ITEMS: dict[str, Any] = {
    "kind not a string": {"kind": ["image"], "sha256": SHA, "mime": "image/png"},
    "image of another type": {"kind": "image", "sha256": SHA, "mime": "image/tiff"},
    "negative size": {"kind": "image", "sha256": SHA, "mime": "image/png", "size": -1},
    "size a bool": {"kind": "image", "sha256": SHA, "mime": "image/png", "size": True},
    "video of another type": {"kind": "video", "sha256": SHA, "mime": "video/ogg"},
    "sound not a bool": {"kind": "video", "sha256": SHA, "mime": "video/mp4", "sound": "yes"},
    "pdf without pages": {"kind": "pdf", "pages": []},
    "pdf pages not a list": {"kind": "pdf", "pages": {"0": {"sha256": SHA, "mime": "image/png"}}},
    "pdf page not an image": {"kind": "pdf", "pages": [{"sha256": SHA, "mime": "application/pdf"}]},
    "pdf page with a bad sha256": {"kind": "pdf", "pages": [{"sha256": "x" * 64, "mime": "image/png"}]},
    "html5 without entry": {"kind": "html5", "sha256": SHA},
    "html5 entry going up": {"kind": "html5", "sha256": SHA, "entry": "../index.html"},
    "html5 entry absolute": {"kind": "html5", "sha256": SHA, "entry": "/index.html"},
    "html5 entry with a dot folder": {"kind": "html5", "sha256": SHA, "entry": "a/./index.html"},
    "html5 entry with a query": {"kind": "html5", "sha256": SHA, "entry": "index.html?x=1"},
    "page without a host": {"kind": "page", "url": "http:///x"},
    "text too long": {"kind": "text", "text": "я" * 2001},
    "text not a string": {"kind": "text", "text": ["a"]},
}


@pytest.mark.parametrize("item", list(MALFORMED_ITEMS.values()), ids=list(MALFORMED_ITEMS))
def test_malformed_item_of_a_new_kind_is_bad_item(item: dict[str, Any], cache: ContentCache) -> None:
    ctx = Context(Kiosk(cache.get), cache, show_timeout=0.2)

    assert parse_item(item) is None
    assert show(ctx, {"cast_id": "c1", "item": item})["error"] == "bad_item"
    assert ctx.kiosk.current is None


@pytest.mark.parametrize(
    "view", [{"page": -1}, {"page": "2"}, {"page": True}, {"page": 1.5}, {"blank": 1}, {"frozen": None}, "x"]
)
def test_show_with_a_malformed_view_is_bad_item(view: Any, cache: ContentCache) -> None:
    ctx = Context(Kiosk(cache.get), cache, show_timeout=0.2)

    assert show(ctx, {"cast_id": "c1", "item": TEXT, "view": view})["error"] == "bad_item"


def test_pdf_is_shown_only_once_every_page_is_cached(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, events: EventStream
) -> None:
    item = pdf(content_server, 3)
    content_server.cut.add(item["pages"][2]["sha256"])  # the last page's download breaks

    failed = kiosk.call(show, ctx, {"cast_id": "c0", "item": item}).result(HTTP_TIMEOUT)

    assert failed["error"] == "fetch_failed"
    assert ctx.kiosk.current is None
    content_server.cut.clear()
    pending = kiosk.call(show, ctx, {"cast_id": "c1", "item": item, "view": {"page": 9}})
    sent = sse_data(events.next_block())
    for page in item["pages"]:
        assert (ctx.cache.root / page["sha256"]).exists()  # before the page was told
    assert sent["view"] == {**DEFAULT_VIEW, "page": 2}  # past the last page: the last
    report(kiosk, cast_id="c1")
    assert pending.result(HTTP_TIMEOUT)["ok"] is True


# --- control ----------------------------------------------------------------------------------------


def test_control_goes_to_the_page_and_is_acked_with_the_view_once_applied(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, events: EventStream, tmp_path: Path
) -> None:
    shown_cast(kiosk, ctx, events, pdf(content_server))

    pending = kiosk.call(control, ctx, {"cast_id": "c1", "view": {**PAGE_TWO, "blank": True}})
    sent = sse_data(events.next_block(), "control")
    assert not pending.done()  # the ack waits for the page
    report(kiosk, id=sent["id"])

    wanted = {**PAGE_TWO, "blank": True}
    assert sent == {"id": sent["id"], "cast_id": "c1", "view": wanted}
    assert pending.result(HTTP_TIMEOUT) == {"ok": True, "view": wanted, "shown_at": 1.5}
    # Kept, so a restarted panel shows this page; and a page that attaches now starts from it.
    wait_for(lambda: StateFile(tmp_path / "state.json").last["show"]["view"] == wanted, 5, "the kept view")
    late = EventStream(kiosk.url)
    try:
        late.next_block()
        assert sse_data(late.next_block())["view"] == wanted
    finally:
        late.close()

    # Past the last page: the page is told the last one, and so is the controller.
    pending = kiosk.call(control, ctx, {"cast_id": "c1", "view": {"page": 50}})
    sent = sse_data(events.next_block(), "control")
    report(kiosk, id=sent["id"])
    assert pending.result(HTTP_TIMEOUT)["view"] == PAGE_TWO


def test_control_of_a_cast_not_on_screen_is_not_shown(
    kiosk: KioskThread, ctx: Context, events: EventStream
) -> None:
    assert kiosk.call(control, ctx, {"cast_id": "c1", "view": DEFAULT_VIEW}).result(HTTP_TIMEOUT) == {
        "ok": False,
        "error": "not_shown",
    }
    shown_cast(kiosk, ctx, events, TEXT)

    answer = kiosk.call(control, ctx, {"cast_id": "c2", "view": DEFAULT_VIEW}).result(HTTP_TIMEOUT)

    assert answer == {"ok": False, "error": "not_shown"}


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "next",
        {"cast_id": "c1"},
        {"cast_id": "c1", "view": None},
        {"cast_id": "c1", "view": {"page": -2}},
        {"cast_id": "c1", "view": {"playing": "no"}},
        {"cast_id": ["c1"], "view": DEFAULT_VIEW},
        {"cast_id": True, "view": DEFAULT_VIEW},
    ],
)
def test_malformed_control_is_bad_control(payload: Any, cache: ContentCache) -> None:
    ctx = Context(Kiosk(cache.get), cache, show_timeout=0.2)

    answer = control(ctx, payload)

    assert answer["ok"] is False
    assert answer["error"] == "bad_control"


# --- alerts -----------------------------------------------------------------------------------------


def test_alert_is_shown_kept_and_cleared(
    kiosk: KioskThread, ctx: Context, events: EventStream, tmp_path: Path
) -> None:
    seen: list[Any] = []
    kiosk.kiosk.on_alert = seen.append

    pending = kiosk.call(alert, ctx, {"alert": ALERT})
    sent = sse_data(events.next_block(), "alert")
    assert StateFile(tmp_path / "state.json").last["alert"] == ALERT  # kept before it is shown
    report(kiosk, id=sent["id"], alert_id="a7")

    assert sent == {"id": sent["id"], "alert": ALERT}
    assert pending.result(HTTP_TIMEOUT) == {"ok": True, "shown_at": 1.5}
    assert seen == [ALERT]
    late = EventStream(kiosk.url)  # a browser restarted meanwhile shows it at once
    try:
        late.next_block()
        assert sse_data(late.next_block(), "alert")["alert"] == ALERT
    finally:
        late.close()

    pending = kiosk.call(alert, ctx, {"alert": None})
    sent = sse_data(events.next_block(), "alert")
    report(kiosk, id=sent["id"], alert_id=None)

    assert sent["alert"] is None
    assert pending.result(HTTP_TIMEOUT)["ok"] is True
    assert seen == [ALERT, None]
    assert StateFile(tmp_path / "state.json").last["alert"] is None


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"alert": "fire"},
        {"alert": {**ALERT, "level": "panic"}},
        {"alert": {**ALERT, "id": ""}},
        {"alert": {**ALERT, "id": 7}},
        {"alert": {**ALERT, "text": None}},
        {"alert": {**ALERT, "text": "я" * 2001}},
        {"alert": {**ALERT, "title": "я" * 201}},
    ],
)
def test_malformed_alert_is_bad_alert_and_nothing_is_kept(payload: Any, ctx: Context, tmp_path: Path) -> None:
    answer = alert(ctx, payload)

    assert answer["ok"] is False
    assert answer["error"] == "bad_alert"
    assert not (tmp_path / "state.json").exists()
    assert ctx.kiosk.alert is None


def test_state_brings_the_alert_and_the_view_of_the_cast_on_screen(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, events: EventStream
) -> None:
    item = pdf(content_server)
    shown_cast(kiosk, ctx, events, item)
    desired = parse_state(
        {"version": 3, "show": {"cast_id": "c1", "item": item, "view": PAGE_TWO}, "alert": ALERT}
    )

    pending = kiosk.call(apply_state, ctx, desired)
    first = sse_data(events.next_block(), "alert")
    report(kiosk, id=first["id"], alert_id="a7")
    second = sse_data(events.next_block(), "control")  # the cast is on screen: only its view changes
    report(kiosk, id=second["id"])

    assert pending.result(HTTP_TIMEOUT) == {"ok": True}
    assert (first["alert"], second["view"]) == (ALERT, PAGE_TWO)
    assert parse_state({"version": 1, "alert": {**ALERT, "level": "x"}}) is None


def test_alert_spans_cover_the_casts_in_the_usage_events(tmp_path: Path) -> None:
    with UsageOutbox(tmp_path) as outbox:
        showings = Showings(outbox)
        showings.changed({"cast_id": "12", "item": {"kind": "pdf", "title": "Урок"}})
        showings.alert_changed(ALERT)
        showings.alert_changed(ALERT)  # the same alert again (a reloaded page): no new span
        showings.alert_changed(None)
        showings.changed(None)
        bodies = sqlite3.connect(tmp_path / "usage-outbox.sqlite").execute("SELECT body FROM events")
        spans = [json.loads(body)["data"] for (body,) in bodies]

    for span in spans:
        del span["duration_s"]
    cast = {"source": "cast", "kind": "pdf", "lesson": True, "library": False, "cast_id": 12}
    assert spans == [
        {**cast, "part": 0},  # until the alert went up
        {"source": "alert", "kind": "text", "lesson": False, "part": 0},
        {**cast, "part": 1},  # the same showing, once the alert was gone: not a second lesson
    ]


# --- the kiosk's files, and who may talk to it -----------------------------------------------------


def test_cached_file_is_served_by_ranges(
    kiosk: KioskThread, cache: ContentCache, content_server: ContentServer
) -> None:
    data = bytes(range(256)) * 4
    sha256 = content_server.add(data, "video/webm")
    cache.ensure(sha256, "video/webm")
    url = f"{kiosk.url}/cache/{sha256}"

    whole = request(url)
    middle = request(url, headers={"Range": "bytes=10-19"})
    tail = request(url, headers={"Range": "bytes=-5"})
    rest = request(url, headers={"Range": "bytes=1000-"})
    past = request(url, headers={"Range": "bytes=5000-"})

    assert (whole.status, whole.body, whole.headers["Accept-Ranges"]) == (200, data, "bytes")
    assert (middle.status, middle.body, middle.headers["Content-Range"]) == (
        206,
        data[10:20],
        "bytes 10-19/1024",
    )
    assert (tail.status, tail.body) == (206, data[-5:])
    assert (rest.status, rest.body, rest.headers["Content-Length"]) == (206, data[1000:], "24")
    assert (past.status, past.headers["Content-Range"]) == (416, "bytes */1024")


def bundle_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_bundle_is_unpacked_once_and_served_inside_its_folder_only(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, events: EventStream
) -> None:
    page = b"<!doctype html><script src='app.js'></script>"
    sha256 = content_server.add(
        bundle_zip({"index.html": page, "app.js": b"1", "a b.css": b""}), "application/zip"
    )
    item = {"kind": "html5", "sha256": sha256, "entry": "index.html", "title": "Игра"}
    shown_cast(kiosk, ctx, events, item)

    entry = request(f"{kiosk.url}/bundle/{sha256}/index.html", headers={"Host": "127.0.0.1:1"})
    script = request(f"{kiosk.url}/bundle/{sha256}/app.js")

    assert (entry.status, entry.body, entry.headers["Content-Type"]) == (
        200,
        page,
        "text/html; charset=utf-8",
    )
    policy = entry.headers["Content-Security-Policy"]
    assert f"default-src http://127.0.0.1:1/bundle/{sha256}/ " in policy  # its own files, nothing else
    assert "frame-ancestors 'self'" in policy
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert request(f"{kiosk.url}/bundle/{sha256}/a%20b.css").status == 200
    for path in ("../" + sha256, "%2e%2e/%2e%2e/identity/token", "", "nothere.js", "/index.html"):
        assert request(f"{kiosk.url}/bundle/{sha256}/{path}").status == 404, path
    assert content_server.content_requests(sha256) == 1


@pytest.mark.parametrize(
    ("files", "entry"),
    [({"../evil.html": b"x", "index.html": b"x"}, "index.html"), ({"index.html": b"x"}, "start.html")],
    ids=["unsafe path", "no such entry"],
)
def test_bundle_that_is_unsafe_or_lacks_its_entry_is_bad_item(
    files: dict[str, bytes], entry: str, ctx: Context, content_server: ContentServer
) -> None:
    sha256 = content_server.add(bundle_zip(files), "application/zip")

    answer = show(ctx, {"cast_id": "c1", "item": {"kind": "html5", "sha256": sha256, "entry": entry}})

    assert answer["ok"] is False
    assert answer["error"] == "bad_item"
    assert ctx.kiosk.current is None


def test_only_the_kiosk_page_itself_may_listen_and_report(kiosk: KioskThread) -> None:
    own = "http://" + kiosk.url.removeprefix("http://")
    body = json.dumps({"cast_id": "c1", "ok": True, "shown_at": 1}).encode()
    as_json = {"Content-Type": "application/json"}

    assert request(kiosk.url + "/events", headers={"Origin": "null"}).status == 403  # a bundle's frame
    assert request(kiosk.url + "/shown", body, {**as_json, "Origin": "null"}).status == 403
    assert request(kiosk.url + "/shown", body, {**as_json, "Origin": "https://evil.example"}).status == 403
    assert request(kiosk.url + "/shown", body, {"Content-Type": "text/plain", "Origin": own}).status == 415
    assert request(kiosk.url + "/shown", body, {**as_json, "Origin": own}).status == 204
