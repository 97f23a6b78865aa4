"""The desired state (`state`): applied to the kiosk, kept on disk, and followed again at start.

The kiosk runs as the player serves it (KioskThread); the test plays the page: it reads `/events` and
posts to `/shown`, as tests/player/test_kiosk.py does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq

from classcast.identity import ensure_identity, save_enrollment
from classcast.protocol import DEFAULT_VIEW
from player.cache import ContentCache
from player.commands import Context, parse_state, show, state
from player.desired import StateFile
from tests.player.conftest import (
    HTTP_TIMEOUT,
    ContentServer,
    EventStream,
    KioskThread,
    post_json,
    solid_png,
    sse_data,
)
from tests.player.standin import WAIT_S, PlayerProcess, wait_for

pytestmark = pytest.mark.timeout(60)

PAGE = {"kind": "page", "url": "http://127.0.0.1:9/lesson", "title": "Урок"}
PANEL = {"id": 7, "name": "Панель 7", "room": "Кабинет 7", "school": "№ 1"}
ALERT = {"id": "a1", "title": "Внимание", "text": "Учебная тревога", "level": "warning"}


def desired(version: int, show: dict[str, Any] | None) -> dict[str, Any]:
    return {"version": version, "show": show, "schedule": None, "panel": PANEL, "alert": None}


def cast(cast_id: str, item: dict[str, Any], view: dict[str, Any] = DEFAULT_VIEW) -> dict[str, Any]:
    """Return a `show` as the player keeps it and sends it to the page: with its whole view."""
    return {"cast_id": cast_id, "item": item, "view": view}


@pytest.fixture
def ctx(kiosk: KioskThread, cache: ContentCache, tmp_path: Path) -> Context:
    # A short show timeout: a show the test does not expect fails fast as "timeout".
    return Context(kiosk.kiosk, cache, show_timeout=3.0, state=StateFile(tmp_path / "state.json"))


def shown(kiosk: KioskThread, cast_id: str) -> None:
    """Report, as the page does, that `cast_id` is on screen."""
    assert post_json(kiosk.url + "/shown", {"cast_id": cast_id, "ok": True, "shown_at": 1.5}).status == 204


def test_state_with_a_cast_shows_it_keeps_it_and_acks_its_version(
    kiosk: KioskThread, ctx: Context, events: EventStream, tmp_path: Path
) -> None:
    sent = desired(3, cast("c3", PAGE))

    pending = kiosk.call(state, ctx, sent)
    assert sse_data(events.next_block()) == cast("c3", PAGE)
    shown(kiosk, "c3")

    assert pending.result(HTTP_TIMEOUT) == {"ok": True, "version": 3}
    assert json.loads((tmp_path / "state.json").read_text(encoding="utf-8")) == sent
    assert StateFile(tmp_path / "state.json").last == sent
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("state")] == ["state.json"]

    # The same cast again (a reconnect, or "resend state"): acked at once, not shown again.
    again = kiosk.call(state, ctx, desired(4, cast("c3", PAGE))).result(HTTP_TIMEOUT)

    assert again == {"ok": True, "version": 4}
    assert StateFile(tmp_path / "state.json").last["version"] == 4


def test_state_without_a_cast_clears_the_screen(
    kiosk: KioskThread, ctx: Context, events: EventStream, tmp_path: Path
) -> None:
    pending = kiosk.call(state, ctx, desired(1, cast("c1", PAGE)))
    sse_data(events.next_block())
    shown(kiosk, "c1")
    assert pending.result(HTTP_TIMEOUT)["ok"] is True

    answer = kiosk.call(state, ctx, desired(2, None)).result(HTTP_TIMEOUT)

    assert answer == {"ok": True, "version": 2}
    assert sse_data(events.next_block(), "clear") == {}
    assert ctx.kiosk.current is None and ctx.kiosk.shown is None
    assert StateFile(tmp_path / "state.json").last == desired(2, None)

    # Nothing on screen any more: a second clear is not sent, the next cast is.
    assert kiosk.call(state, ctx, desired(3, None)).result(HTTP_TIMEOUT) == {"ok": True, "version": 3}
    pending = kiosk.call(state, ctx, desired(4, cast("c4", PAGE)))
    assert sse_data(events.next_block()) == cast("c4", PAGE)
    shown(kiosk, "c4")
    assert pending.result(HTTP_TIMEOUT) == {"ok": True, "version": 4}


def test_state_that_cannot_be_shown_is_kept_and_acked_with_the_error(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, tmp_path: Path
) -> None:
    item = {"kind": "image", "sha256": "ab" * 32, "mime": "image/png", "title": ""}  # not on the controller
    sent = desired(5, cast("c5", item))

    answer = kiosk.call(state, ctx, sent).result(HTTP_TIMEOUT)

    assert answer["ok"] is False
    assert answer["error"] == "fetch_failed"
    assert answer["version"] == 5
    assert StateFile(tmp_path / "state.json").last == sent  # followed again at the next start


MALFORMED: dict[str, Any] = {
    "not a dict": "state",
    "no version": {"show": None, "schedule": None, "panel": PANEL},
    "version not an int": {**desired(1, None), "version": "1"},
    "version a bool": {**desired(1, None), "version": True},
    "malformed show": desired(1, {"cast_id": "c1", "item": {"kind": "page", "url": "javascript:1"}}),
    "show without an item": desired(1, {"cast_id": "c1"}),
}


@pytest.mark.parametrize("payload", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_state_is_refused_and_the_kept_one_stays(
    payload: Any, kiosk: KioskThread, ctx: Context, tmp_path: Path
) -> None:
    kept = desired(1, None)
    ctx.state.save(kept)

    answer = kiosk.call(state, ctx, payload).result(HTTP_TIMEOUT)

    assert answer["ok"] is False
    assert answer["error"] == "bad_state"
    assert StateFile(tmp_path / "state.json").last == kept
    assert ctx.kiosk.current is None


def test_parse_state_keeps_only_the_known_parts() -> None:
    parsed = parse_state(
        {**desired(9, None), "schedule": "not an object", "panel": {**PANEL, "token": "x"}, "extra": 1}
    )

    assert parsed == {"version": 9, "show": None, "schedule": None, "panel": PANEL, "alert": None}


def test_parse_state_takes_a_state_kept_before_views_and_alerts() -> None:
    old = {"version": 2, "show": {"cast_id": "c2", "item": PAGE}, "schedule": None, "panel": PANEL}

    assert parse_state(old) == desired(2, cast("c2", PAGE))


def test_show_command_becomes_the_kept_states_cast(
    kiosk: KioskThread, ctx: Context, events: EventStream, tmp_path: Path
) -> None:
    ctx.state.save(desired(6, None))

    pending = kiosk.call(show, ctx, {"cast_id": "c7", "item": PAGE})
    sse_data(events.next_block())
    shown(kiosk, "c7")

    assert pending.result(HTTP_TIMEOUT)["ok"] is True
    kept = StateFile(tmp_path / "state.json").last
    assert kept == {**desired(6, None), "show": cast("c7", PAGE)}


def test_unreadable_state_file_counts_as_none(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{half", encoding="utf-8")

    assert StateFile(tmp_path / "state.json").last is None


def test_restarted_player_shows_the_kept_state_before_any_controller_answers(
    tmp_path: Path, content_server: ContentServer, start_player: Callable[..., PlayerProcess]
) -> None:
    """The kept alert, and the kept cast at the page the remote left it on, are fetched and sent to
    the page with no controller to connect to."""
    data_dir = tmp_path / "panel"
    ensure_identity(data_dir)
    save_enrollment(data_dir, token=content_server.token, controller_key=zmq.curve_keypair()[0].decode())
    pages = [content_server.add(solid_png(rgb), "image/png") for rgb in ((255, 0, 0), (0, 0, 255))]
    item = {"kind": "pdf", "pages": [{"sha256": p, "mime": "image/png"} for p in pages], "title": "Урок"}
    kept = {**desired(11, cast("c11", item, {**DEFAULT_VIEW, "page": 1})), "alert": ALERT}
    (data_dir / "state.json").write_text(json.dumps(kept), encoding="utf-8")

    player = start_player(data_dir, content_server.url)  # not a Socket.IO server: it never connects
    url = player.kiosk_url()
    stream = EventStream(url)
    sent: dict[str, Any] = {}
    try:
        assert stream.next_block() == "retry: 1000\n"
        while len(sent) < 2:  # the alert goes first; the cast once its pages are cached
            block = stream.next_block()
            event = block.split("\n", 1)[0].removeprefix("event: ")
            sent[event] = sse_data(block, event)
            report = {"id": sent[event].get("id"), "cast_id": sent[event].get("cast_id")}
            assert post_json(url + "/shown", {**report, "ok": True, "shown_at": 2.5}).status == 204
        wait_for(lambda: "kept state 11 applied at start: ok" in player.log_text(), WAIT_S, "the log line")
    finally:
        stream.close()

    assert sent["alert"]["alert"] == ALERT
    assert sent["show"] == kept["show"]
    for sha256 in pages:  # every page, before the show: paging needs no controller
        assert content_server.content_requests(sha256) == 1
        assert (data_dir / "cache" / sha256).exists()
    assert (f"/api/panel/v1/content/{pages[0]}", f"Bearer {content_server.token}") in content_server.requests
    assert player.stop() == 0, player.log_text()
