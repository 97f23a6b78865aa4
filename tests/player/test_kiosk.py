"""The kiosk page's server (`Kiosk` + `serve`) over real HTTP, served by pywsgi in its own gevent hub."""

from __future__ import annotations

import time

import pytest

from player.cache import ContentCache
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

PAGE_ITEM = {"kind": "page", "url": "http://127.0.0.1:9/lesson", "title": "Урок"}


def wait_until_pending(kiosk: KioskThread, cast_id: str) -> None:
    """Wait until `Kiosk.show` has taken `cast_id` as the current item (and so waits for its report)."""
    deadline = time.monotonic() + HTTP_TIMEOUT
    while (kiosk.kiosk.current or {}).get("cast_id") != cast_id:
        assert time.monotonic() < deadline, f"{cast_id} never became pending"
        time.sleep(0.02)


def test_healthz_says_waiting_then_attached_once_a_page_listens(kiosk: KioskThread) -> None:
    assert request(kiosk.url + "/healthz").body == b"waiting"

    stream = EventStream(kiosk.url)
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type") == "text/event-stream"
        assert stream.next_block() == "retry: 1000\n"
        answer = request(kiosk.url + "/healthz")
    finally:
        stream.close()

    assert (answer.status, answer.body) == (200, b"attached")


def test_page_that_attaches_late_is_sent_the_current_item(kiosk: KioskThread) -> None:
    shown = kiosk.call(kiosk.kiosk.show, "cast-1", PAGE_ITEM, 0.2).result(HTTP_TIMEOUT)
    assert shown == {"ok": False, "error": "no_display"}

    stream = EventStream(kiosk.url)
    try:
        assert stream.next_block() == "retry: 1000\n"
        assert sse_data(stream.next_block()) == {"cast_id": "cast-1", "item": PAGE_ITEM}
    finally:
        stream.close()


def test_report_on_shown_resolves_the_pending_show(kiosk: KioskThread, events: EventStream) -> None:
    pending = kiosk.call(kiosk.kiosk.show, "cast-2", PAGE_ITEM, HTTP_TIMEOUT)
    assert sse_data(events.next_block()) == {"cast_id": "cast-2", "item": PAGE_ITEM}
    assert not pending.done()

    assert post_json(kiosk.url + "/shown", {"cast_id": "another", "ok": True, "shown_at": 1.0}).status == 204
    answer = post_json(kiosk.url + "/shown", {"cast_id": "cast-2", "ok": True, "shown_at": 1763884800.5})

    assert answer.status == 204
    assert pending.result(HTTP_TIMEOUT) == {"ok": True, "shown_at": 1763884800.5}


def test_page_that_shows_while_the_show_waits_for_it_resolves_it(kiosk: KioskThread) -> None:
    pending = kiosk.call(kiosk.kiosk.show, "cast-3", PAGE_ITEM, HTTP_TIMEOUT)
    wait_until_pending(kiosk, "cast-3")

    stream = EventStream(kiosk.url)  # a browser that (re)starts while the item is on its way
    try:
        assert stream.next_block() == "retry: 1000\n"
        assert sse_data(stream.next_block())["cast_id"] == "cast-3"
        post_json(kiosk.url + "/shown", {"cast_id": "cast-3", "ok": True, "shown_at": 12})
    finally:
        stream.close()

    assert pending.result(HTTP_TIMEOUT) == {"ok": True, "shown_at": 12.0}


@pytest.mark.parametrize(
    ("report", "error"),
    [
        ({"ok": False, "error": "fetch_failed", "message": "page did not load"}, "fetch_failed"),
        ({"ok": False, "error": "no_display", "message": "lies"}, "bad_item"),  # not a page's error to give
        ({"ok": True}, "bad_item"),  # shown, but without a time
        ({"ok": True, "shown_at": "now"}, "bad_item"),
    ],
)
def test_report_of_a_failure_resolves_the_show_with_an_error(
    report: dict, error: str, kiosk: KioskThread, events: EventStream
) -> None:
    pending = kiosk.call(kiosk.kiosk.show, "cast-4", PAGE_ITEM, HTTP_TIMEOUT)
    events.next_block()

    assert post_json(kiosk.url + "/shown", {"cast_id": "cast-4", **report}).status == 204

    answer = pending.result(HTTP_TIMEOUT)
    assert answer["ok"] is False
    assert answer["error"] == error


def test_show_with_no_page_attached_is_no_display_after_the_timeout(kiosk: KioskThread) -> None:
    started = time.monotonic()
    answer = kiosk.call(kiosk.kiosk.show, "cast-5", PAGE_ITEM, 0.3).result(HTTP_TIMEOUT)

    assert answer == {"ok": False, "error": "no_display"}
    assert time.monotonic() - started >= 0.3


def test_show_to_a_page_that_never_reports_times_out(kiosk: KioskThread, events: EventStream) -> None:
    started = time.monotonic()
    answer = kiosk.call(kiosk.kiosk.show, "cast-6", PAGE_ITEM, 0.3).result(HTTP_TIMEOUT)

    assert answer == {"ok": False, "error": "timeout"}
    assert time.monotonic() - started >= 0.3
    assert sse_data(events.next_block())["cast_id"] == "cast-6"  # it was sent; it was never reported


def test_cached_content_is_served_with_its_mime_type(
    kiosk: KioskThread, cache: ContentCache, content_server: ContentServer
) -> None:
    data = solid_png((255, 0, 0))
    sha256 = content_server.add(data, "image/png")
    cache.ensure(sha256, "image/png")

    answer = request(f"{kiosk.url}/cache/{sha256}")
    unknown = request(f"{kiosk.url}/cache/{'0' * 64}")

    assert (answer.status, answer.body, answer.headers["Content-Type"]) == (200, data, "image/png")
    assert answer.headers["Content-Length"] == str(len(data))
    assert unknown.status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere",
        "/static/kiosk.html",  # only the page's script and style are static files
        "/static/../__init__.py",
        "/static/..%2F__init__.py",
        "/cache/" + "A" * 64,
        "/cache/" + "0" * 63,
        "/cache/../identity/token",
    ],
)
def test_unknown_paths_are_not_found(path: str, kiosk: KioskThread) -> None:
    answer = request(kiosk.url + path)

    assert answer.status == 404
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_shown_is_post_only(kiosk: KioskThread) -> None:
    assert request(kiosk.url + "/shown").status == 404


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00", b'{"cast_id": "cast-7", "ok": tru'])
def test_malformed_report_is_a_bad_request_and_resolves_nothing(
    body: bytes, kiosk: KioskThread, events: EventStream
) -> None:
    pending = kiosk.call(kiosk.kiosk.show, "cast-7", PAGE_ITEM, 0.5)
    events.next_block()

    answer = request(kiosk.url + "/shown", body, {"Content-Type": "application/json"})

    assert answer.status == 400
    assert pending.result(HTTP_TIMEOUT) == {"ok": False, "error": "timeout"}


@pytest.mark.parametrize("path", ["/", "/static/kiosk.js", "/static/kiosk.css", "/healthz", "/nowhere"])
def test_every_answer_carries_the_security_headers(path: str, kiosk: KioskThread) -> None:
    answer = request(kiosk.url + path)

    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert "img-src 'self'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"


def test_events_stream_carries_the_security_headers(events: EventStream) -> None:
    assert "default-src 'self'" in events.response.getheader("Content-Security-Policy")
    assert events.response.getheader("X-Content-Type-Options") == "nosniff"


def test_page_and_its_files_are_served_with_their_types(kiosk: KioskThread) -> None:
    page = request(kiosk.url + "/")
    script = request(kiosk.url + "/static/kiosk.js")
    style = request(kiosk.url + "/static/kiosk.css")

    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script src="/static/kiosk.js"' in page.body
    assert script.headers["Content-Type"] in ("text/javascript", "application/javascript")
    assert b'new EventSource("/events")' in script.body
    assert style.headers["Content-Type"] == "text/css"


PAIRING = {
    "code": "ABCD2345",
    "approve_url": "http://controller.example/admin/pair?code=ABCD2345",
    "controller": "http://controller.example",
    "serial": "10000000a1b2c3d4",
    "mac": "dc:a6:32:01:02:03",
    "fingerprint": "0a1b:2c3d:4e5f:6071",
    "expires_in": 600,
    "online": True,
}


def test_the_pairing_screen_is_sent_live_and_to_a_page_that_attaches_late(
    kiosk: KioskThread, events: EventStream
) -> None:
    kiosk.call(kiosk.kiosk.show_pairing, PAIRING).result(HTTP_TIMEOUT)
    assert sse_data(events.next_block(), "pairing") == {**PAIRING, "qr": "/pairing.svg?code=ABCD2345"}
    late = EventStream(kiosk.url)
    try:
        assert late.next_block() == "retry: 1000\n"
        assert sse_data(late.next_block(), "pairing")["code"] == "ABCD2345"
    finally:
        late.close()
    qr = request(kiosk.url + "/pairing.svg?code=ABCD2345")
    assert qr.status == 200 and qr.body.startswith(b"<?xml") and b"<svg" in qr.body

    kiosk.call(kiosk.kiosk.show_pairing, None).result(HTTP_TIMEOUT)  # paired: the screen goes
    assert sse_data(events.next_block(), "pairing") == {"done": True}
    assert kiosk.kiosk.pairing is None


def test_no_qr_code_is_served_before_there_is_a_pairing(kiosk: KioskThread) -> None:
    assert request(kiosk.url + "/pairing.svg").status == 404
