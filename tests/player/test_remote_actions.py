"""School IT's remote actions on the panel: identify, screenshot, restart the player, reboot.

Identify and screenshot run against the kiosk page in a real headless Chromium, captured through its
DevTools as on a panel; restart and reboot once in-process (the restart injected) and once through
a real player process driven over Socket.IO by the stand-in controller. The reboot command is the
edge of the world: tests set it to a harmless command that writes a file.
"""

from __future__ import annotations

import base64
import io
import secrets
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
import socketio
from PIL import Image

from classcast.identity import ensure_identity, save_enrollment
from classcast.protocol import IDENTIFY_SECONDS
from player.cache import ContentCache
from player.commands import (
    Context,
    identify,
    reboot,
    restart_player,
    restart_process,
    screenshot,
    screenshot_answer,
    show,
)
from player.desired import StateFile
from player.devtools import DevTools
from player.kiosk import Kiosk
from tests.player.conftest import (
    HTTP_TIMEOUT,
    ContentServer,
    EventStream,
    KioskBrowser,
    KioskThread,
    close_to,
    count_near,
    pixel,
    post_json,
    solid_png,
    sse_data,
)
from tests.player.standin import WAIT_S, PlayerProcess, StandIn, wait_for

pytestmark = pytest.mark.timeout(90)

CLIENT_DISCONNECT = socketio.Server.reason.CLIENT_DISCONNECT  # not a ping timeout: the player said so
RED = (255, 0, 0)
CARD_YELLOW = (0xFF, 0xCC, 0x00)
PANEL = {"id": 7, "name": "Панель 7", "room": "Кабинет 12", "school": "Школа № 1"}


@pytest.fixture
def ctx(kiosk: KioskThread, cache: ContentCache, tmp_path: Path) -> Context:
    return Context(kiosk.kiosk, cache, show_timeout=10.0, state=StateFile(tmp_path / "state.json"))


def screen_of(ack: dict[str, Any]) -> bytes:
    """Return the PNG a screenshot's ack carries."""
    assert ack["ok"] is True, ack
    assert ack["mime"] == "image/png"
    return base64.b64decode(ack["data"], validate=True)


def take_screenshot(kiosk: KioskThread, ctx: Context) -> bytes:
    return screen_of(kiosk.call(screenshot, ctx, {}).result(WAIT_S))


def red_screen(kiosk: KioskThread, ctx: Context) -> bytes | None:
    """Return a screenshot if its centre is red (the cast), else None."""
    png = take_screenshot(kiosk, ctx)
    return png if close_to(pixel(png, 0.5, 0.5), RED) else None


def page_text(devtools: DevTools, element_id: str) -> str:
    expression = f"document.getElementById({element_id!r}).innerText"
    answer = devtools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
    return answer["result"]["value"]


# --- screenshot and identify, in a real browser ----------------------------------------------------


def test_screenshot_and_identify_show_what_is_on_screen(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, kiosk_browser: KioskBrowser
) -> None:
    ctx.devtools = DevTools(kiosk_browser.devtools_url(), kiosk.url + "/")
    ctx.state.save({"version": 1, "show": None, "schedule": None, "panel": PANEL})
    sha256 = content_server.add(solid_png(RED), "image/png")
    red = {"cast_id": "red-1", "item": {"kind": "image", "sha256": sha256, "mime": "image/png"}}
    assert kiosk.call(show, ctx, red).result(WAIT_S)["ok"] is True

    png = take_screenshot(kiosk, ctx)
    assert close_to(pixel(png, 0.5, 0.5), RED), pixel(png, 0.5, 0.5)

    # The controller's names win; the kept state's fill in what it left out (here: the school).
    ack = kiosk.call(identify, ctx, {"name": "Панель у доски", "room": "Кабинет 12", "seconds": 60})
    assert ack.result(WAIT_S) == {"ok": True}

    png = take_screenshot(kiosk, ctx)
    assert close_to(pixel(png, 0.03, 0.03), CARD_YELLOW), pixel(png, 0.03, 0.03)  # over the whole screen
    with Image.open(io.BytesIO(png)) as image:
        pixels = image.width * image.height
    assert count_near(png, CARD_YELLOW, (0, 0, 1, 1)) > pixels / 2  # the card is the screen
    assert count_near(png, (0x10, 0x24, 0x3E), (0.1, 0.2, 0.9, 0.8)) > 500  # its large dark letters
    assert count_near(png, RED, (0, 0, 1, 1)) == 0  # nothing of the cast shows through
    assert page_text(ctx.devtools, "identify-name") == "Панель у доски"
    assert page_text(ctx.devtools, "identify-room") == "Кабинет 12"
    assert page_text(ctx.devtools, "identify-school") == "Школа № 1"

    # A second card replaces the first, with its own time; once it is over, the cast is back.
    assert kiosk.call(identify, ctx, {"seconds": 1}).result(WAIT_S) == {"ok": True}
    assert page_text(ctx.devtools, "identify-name") == "Панель 7"  # all from the kept state now

    back = wait_for(lambda: red_screen(kiosk, ctx), WAIT_S, "the name card to go and the cast to show again")
    assert close_to(pixel(back, 0.03, 0.03), (0, 0, 0)), pixel(back, 0.03, 0.03)  # the image's letterbox


def test_screenshot_over_the_limit_is_refused(kiosk: KioskThread, kiosk_browser: KioskBrowser) -> None:
    png = DevTools(kiosk_browser.devtools_url(), kiosk.url + "/").screenshot_png()

    assert screenshot_answer(png, limit=len(png)) == {
        "ok": True,
        "mime": "image/png",
        "data": base64.b64encode(png).decode(),
    }
    refused = screenshot_answer(png, limit=len(png) - 1)
    assert refused["ok"] is False
    assert refused["error"] == "too_large"
    assert "data" not in refused


def test_screenshot_without_a_browser_says_no_browser(ctx: Context, content_server: ContentServer) -> None:
    assert screenshot(ctx, {})["error"] == "no_browser"  # no DevTools configured at all

    ctx.devtools = DevTools(content_server.url, timeout=2)  # answers, but is no browser
    answer = screenshot(ctx, {})

    assert answer["ok"] is False
    assert answer["error"] == "no_browser"
    assert answer["message"]


def test_identify_with_no_page_attached_is_no_display(cache: ContentCache) -> None:
    ctx = Context(Kiosk(cache.get), cache, show_timeout=10.0)

    assert identify(ctx, {"name": "Панель 7", "room": "Кабинет 12"}) == {"ok": False, "error": "no_display"}


@pytest.mark.parametrize(
    ("seconds", "shown_for"),
    [(None, IDENTIFY_SECONDS), (0, 1), (-5, 1), (2.5, 2.5), (600, 60), ("10", IDENTIFY_SECONDS), (True, 10)],
)
def test_identify_seconds_are_clamped(
    seconds: Any, shown_for: float, kiosk: KioskThread, ctx: Context
) -> None:
    payload = {"name": "Панель 7"} if seconds is None else {"name": "Панель 7", "seconds": seconds}
    page = EventStream(kiosk.url)
    try:
        assert page.next_block() == "retry: 1000\n"
        pending = kiosk.call(identify, ctx, payload)
        card = sse_data(page.next_block(), "identify")
        assert post_json(kiosk.url + "/shown", {"id": card["id"], "ok": True, "shown_at": 3.0}).status == 204
        assert pending.result(HTTP_TIMEOUT) == {"ok": True}
    finally:
        page.close()

    assert card["seconds"] == shown_for
    assert card["name"] == "Панель 7"
    assert card["room"] == "" and card["school"] == ""  # nothing kept, nothing sent: the page says so


# --- restart and reboot ----------------------------------------------------------------------------


def test_restart_acks_first_then_restarts(ctx: Context) -> None:
    restarted = gevent.event.Event()
    ctx.restart = restarted.set

    assert restart_player(ctx, {}) == {"ok": True}
    assert not restarted.is_set()  # not before the ack is on its way
    assert restarted.wait(5)


def test_restart_without_a_way_to_restart_says_so(ctx: Context) -> None:
    assert restart_player(ctx, {})["error"] == "unsupported"


def test_restart_process_execs_the_same_command_line() -> None:
    calls: list[tuple[str, list[str]]] = []

    restart_process(execv=lambda path, argv: calls.append((path, argv)))

    assert calls == [(sys.executable, sys.orig_argv)]


def marker_command(marker: Path) -> str:
    """Return a harmless stand-in for `systemctl reboot`: it writes `marker`."""
    code = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('rebooted')"
    return shlex.join([sys.executable, "-c", code])


def test_reboot_acks_first_then_runs_the_reboot_command(ctx: Context, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted"
    ctx.reboot_command = marker_command(marker)

    assert reboot(ctx, {}) == {"ok": True}
    assert not marker.exists()  # not before the ack is on its way

    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        assert time.monotonic() < deadline, "the reboot command never ran"
        gevent.sleep(0.05)  # lets the hub run the command
    assert marker.read_text() == "rebooted"


@pytest.mark.parametrize("command", ["/nonexistent/reboot now", "", "systemctl 'reboot"])
def test_reboot_command_that_cannot_run_is_refused(command: str, ctx: Context) -> None:
    ctx.reboot_command = command

    answer = reboot(ctx, {})

    assert answer["ok"] is False
    assert answer["error"] == "reboot_failed"


# --- the real player process, over Socket.IO -------------------------------------------------------


def test_player_process_restarts_itself_and_reboots_on_command(
    tmp_path: Path, standin: StandIn, start_player: Callable[..., PlayerProcess]
) -> None:
    data_dir, marker = tmp_path / "panel", tmp_path / "rebooted"
    ensure_identity(data_dir)
    token = secrets.token_urlsafe(32)
    save_enrollment(data_dir, token=token, controller_key=standin.controller_key)
    standin.tokens[token] = "active"
    player = start_player(data_dir, standin.url, {"CLASSCAST_PLAYER_REBOOT_COMMAND": marker_command(marker)})
    first_page = player.kiosk_url()
    pid = player.popen.pid

    assert standin.call(token, "restart_player") == {"ok": True}

    second_page = player.kiosk_url()  # a new start prints its page again (a new free port: --kiosk-port 0)
    assert player.popen.poll() is None and player.popen.pid == pid  # exec: the same process, started anew
    assert second_page != first_page
    wait_for(lambda: standin.signed_in.count(token) == 2, WAIT_S, "the new start to connect")
    # The old process said goodbye before it went: a controller that refuses a second connection with
    # the same token (a cloned panel) must not see the restarted player as one.
    goodbyes = wait_for(lambda: list(standin.goodbyes), WAIT_S, "the old session to end")
    assert goodbyes == [(token, CLIENT_DISCONNECT)]  # the player's own goodbye, not the server's timeout
    log = player.log_text()
    assert log.count("kiosk page at") == 2 and "restarting:" in log

    assert standin.call(token, "reboot") == {"ok": True}

    wait_for(marker.exists, WAIT_S, "the reboot command to run")
    assert marker.read_text() == "rebooted"
    assert player.stop() == 0, player.log_text()
    wait_for(lambda: len(standin.goodbyes) == 2, WAIT_S, "the stopped player's goodbye")
    assert standin.goodbyes[1] == (token, CLIENT_DISCONNECT)
