"""`player.commands`: the command table, and a malformed `show` refused before the cache or the kiosk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from classcast.protocol import DEFAULT_VIEW, PANEL_EVENTS_DOWN
from player.cache import ContentCache
from player.commands import (
    COMMANDS,
    Context,
    alert,
    control,
    identify,
    reboot,
    restart_player,
    screenshot,
    show,
    state,
)
from player.kiosk import Kiosk
from tests.player.conftest import ContentServer, solid_png

SHA = "ab" * 32
MALFORMED: dict[str, Any] = {
    "not a dict": "show me",
    "a list": [{"kind": "image", "sha256": SHA, "mime": "image/png"}],
    "no item": {"cast_id": "c1"},
    "item not a dict": {"cast_id": "c1", "item": "image"},
    "unknown kind": {"cast_id": "c1", "item": {"kind": "video", "url": "http://example.org/v.mp4"}},
    "no kind": {"cast_id": "c1", "item": {"url": "http://example.org/"}},
    "image without sha256": {"cast_id": "c1", "item": {"kind": "image", "mime": "image/png"}},
    "image with sha256 not a string": {
        "cast_id": "c1",
        "item": {"kind": "image", "sha256": 7, "mime": "image/png"},
    },
    "image without mime": {"cast_id": "c1", "item": {"kind": "image", "sha256": SHA}},
    "mime not image/*": {"cast_id": "c1", "item": {"kind": "image", "sha256": SHA, "mime": "text/html"}},
    "mime that only contains image/": {
        "cast_id": "c1",
        "item": {"kind": "image", "sha256": SHA, "mime": "text/html; x=image/png"},
    },
    "page with a javascript: URL": {"cast_id": "c1", "item": {"kind": "page", "url": "javascript:alert(1)"}},
    "page with a file: URL": {"cast_id": "c1", "item": {"kind": "page", "url": "file:///etc/passwd"}},
    "page with a data: URL": {"cast_id": "c1", "item": {"kind": "page", "url": "data:text/html,<b>x</b>"}},
    "page without url": {"cast_id": "c1", "item": {"kind": "page"}},
    "image with a sha256 that is not hex": {
        "cast_id": "c1",
        "item": {"kind": "image", "sha256": "../../etc/passwd", "mime": "image/png"},
    },
    "image with an upper-case sha256": {
        "cast_id": "c1",
        "item": {"kind": "image", "sha256": SHA.upper(), "mime": "image/png"},
    },
}


@pytest.fixture
def ctx(cache: ContentCache) -> Context:
    # A short show timeout: should a malformed command reach the kiosk, the test fails fast, not hangs.
    return Context(Kiosk(cache.get), cache, show_timeout=0.2)


def test_every_command_the_controller_sends_has_its_handler() -> None:
    assert COMMANDS == {
        "show": show,
        "state": state,
        "identify": identify,
        "screenshot": screenshot,
        "restart_player": restart_player,
        "reboot": reboot,
        "control": control,
        "alert": alert,
    }
    assert set(COMMANDS) == set(PANEL_EVENTS_DOWN)


@pytest.mark.parametrize("payload", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_show_is_refused_without_touching_the_kiosk(
    payload: Any, ctx: Context, content_server: ContentServer
) -> None:
    answer = show(ctx, payload)

    assert answer["ok"] is False
    assert answer["error"] == "bad_item"
    assert isinstance(answer["message"], str) and answer["message"]
    assert ctx.kiosk.current is None  # nothing was sent to the page
    assert content_server.requests == []  # nothing was fetched
    assert os.listdir(ctx.cache.root) == []


@pytest.mark.parametrize(
    ("case", "error"), [("unknown", "fetch_failed"), ("lie", "checksum_mismatch"), ("cut", "fetch_failed")]
)
def test_image_that_cannot_be_cached_is_refused_with_the_cache_error(
    case: str, error: str, ctx: Context, content_server: ContentServer
) -> None:
    data = solid_png((255, 0, 0))
    sha256 = content_server.add(data, "image/png")
    if case == "unknown":
        del content_server.content[sha256]
    elif case == "lie":
        content_server.lies[sha256] = solid_png((0, 255, 0))
    else:
        content_server.cut.add(sha256)

    answer = show(ctx, {"cast_id": "c1", "item": {"kind": "image", "sha256": sha256, "mime": "image/png"}})

    assert answer["ok"] is False
    assert answer["error"] == error
    assert ctx.kiosk.current is None
    assert content_server.content_requests(sha256) == 1
    assert not (Path(ctx.cache.root) / sha256).exists()


def test_well_formed_page_reaches_the_kiosk_and_times_out_with_no_page_attached(ctx: Context) -> None:
    answer = show(ctx, {"cast_id": "c9", "item": {"kind": "page", "url": "https://example.org/", "title": 5}})

    assert answer == {"ok": False, "error": "no_display"}
    # What the page is sent is the normalised item: the title that was not a string is dropped.
    assert ctx.kiosk.current == {
        "cast_id": "c9",
        "item": {"kind": "page", "url": "https://example.org/", "title": ""},
        "view": DEFAULT_VIEW,
    }
