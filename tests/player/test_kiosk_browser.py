"""The kiosk page in a real Chromium: what the screen shows, checked in the screenshot's pixels."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from playwright.sync_api import Page

from classcast.identity import ensure_identity, save_enrollment
from player.cache import ContentCache
from player.commands import Context, show
from tests.player.conftest import ContentServer, KioskThread, close_to, count_near, pixel, request, solid_png

pytestmark = pytest.mark.timeout(90)

IDLE_BLUE = (0x10, 0x24, 0x3E)
IDLE_TEXT = (0xDB, 0xE6, 0xF3)
RED, GREEN, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 0)
GREEN_PAGE = b"<!doctype html><title>green</title><body style='margin:0;background:#00ff00'></body>"
# Run in the page: add an image from another origin; give back the CSP directive that refused it.
FOREIGN_IMAGE = """(url) => new Promise((resolve) => {
  document.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective), { once: true });
  const img = new Image(); img.onload = () => resolve("loaded"); img.src = url;
  setTimeout(() => resolve("no answer"), 3000);
})"""
SHOW_WAIT = 20.0  # longer than the player's show timeout, so a slow screen fails as the player's answer


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
    return value


def centre_is(png: bytes, colour: tuple[int, int, int]) -> bytes | None:
    """Return the screenshot if its centre is `colour`, else None."""
    return png if close_to(pixel(png, 0.5, 0.5), colour) else None


def attached(url: str) -> bool:
    return request(url + "/healthz").body == b"attached"


# --- the real player process -----------------------------------------------------------------------


@pytest.fixture
def player(tmp_path: Path, content_server: ContentServer) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """Start an enrolled player, pointed at `content_server` as its controller; yield it and its page."""
    data_dir = tmp_path / "panel"
    ensure_identity(data_dir)
    save_enrollment(data_dir, token=content_server.token, controller_key=zmq.curve_keypair()[0].decode())
    log = tmp_path / "player.log"
    with log.open("wb") as stderr:
        popen = subprocess.Popen(
            [sys.executable, "-m", "player", "--data-dir", str(data_dir), "--controller", content_server.url]
            + ["--kiosk-port", "0", "--log-level", "INFO"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        yield popen, first_line(popen, log, "kiosk page: "), log
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait(10)
        popen.stdout.close()


def first_line(popen: subprocess.Popen, log: Path, prefix: str, timeout: float = 20) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(popen.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
    line = popen.stdout.readline().decode() if ready else ""
    assert line.startswith(prefix), (
        f"the player printed {line!r}; its log:\n{log.read_text(errors='replace')}"
    )
    return line[len(prefix) :].strip().rstrip("/")


def test_player_process_shows_the_idle_screen_and_stops_cleanly(
    player: tuple[subprocess.Popen, str, Path], content_server: ContentServer, screen: Page
) -> None:
    popen, url, log = player
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert request(url + "/healthz").body == b"waiting"

    screen.goto(url + "/")
    wait_for(lambda: attached(url), 10, "the page to attach")
    wait_for(lambda: screen.evaluate("document.getElementById('clock').textContent"), 10, "the clock")
    png = screen.screenshot()

    assert close_to(pixel(png, 0.1, 0.5), IDLE_BLUE), pixel(png, 0.1, 0.5)
    assert close_to(pixel(png, 0.9, 0.1), IDLE_BLUE), pixel(png, 0.9, 0.1)
    assert count_near(png, IDLE_TEXT, (0.25, 0.2, 0.75, 0.8)) > 200  # the brand and the clock are drawn
    assert screen.locator(".brand").inner_text() == "ClassCast"
    assert re.fullmatch(r"\d\d:\d\d", screen.locator("#clock").inner_text())
    # The browser enforces the page's policy: an image from elsewhere is refused before it is asked for.
    assert screen.evaluate(FOREIGN_IMAGE, content_server.url + "/elsewhere.png") == "img-src"
    assert ("/elsewhere.png", None) not in content_server.requests
    # Enrolled, it tries the controller (not a Socket.IO server here, so it keeps retrying).
    wait_for(
        lambda: any(path.startswith("/socket.io/") for path, _ in content_server.requests),
        10,
        "the player to reach for the controller",
    )

    popen.send_signal(signal.SIGTERM)
    assert popen.wait(10) == 0, log.read_text(errors="replace")
    assert "stopped" in log.read_text(errors="replace")


# --- the kiosk in this process, driven as the player drives it -------------------------------------


@pytest.fixture
def ctx(kiosk: KioskThread, cache: ContentCache) -> Context:
    return Context(kiosk.kiosk, cache, show_timeout=10.0)


@pytest.fixture
def kiosk_screen(kiosk: KioskThread, screen: Page) -> Page:
    """The kiosk page open in Chromium, attached to the kiosk's events."""
    screen.goto(kiosk.url + "/")
    wait_for(lambda: attached(kiosk.url), 10, "the page to attach")
    return screen


def show_red(kiosk: KioskThread, ctx: Context, content_server: ContentServer) -> dict[str, Any]:
    sha256 = content_server.add(solid_png(RED), "image/png")
    item = {"kind": "image", "sha256": sha256, "size": 0, "mime": "image/png", "title": "Красный"}
    return kiosk.call(show, ctx, {"cast_id": "red-1", "item": item}).result(SHOW_WAIT)


def test_image_then_page_are_shown_on_screen(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, kiosk_screen: Page
) -> None:
    before = time.time()
    answer = show_red(kiosk, ctx, content_server)
    after = time.time()

    assert answer["ok"] is True, answer
    assert before <= answer["shown_at"] <= after
    png = kiosk_screen.screenshot()
    assert close_to(pixel(png, 0.5, 0.5), RED), pixel(png, 0.5, 0.5)
    assert close_to(pixel(png, 0.05, 0.5), BLACK), pixel(png, 0.05, 0.5)  # letterboxed, not the idle screen
    assert kiosk_screen.locator("#caption").inner_text() == "Красный"
    assert kiosk_screen.evaluate("document.body.dataset.shown") == "red-1"

    content_server.pages["/green.html"] = (GREEN_PAGE, "text/html; charset=utf-8")
    item = {"kind": "page", "url": content_server.url + "/green.html", "title": ""}
    answer = kiosk.call(show, ctx, {"cast_id": "green-2", "item": item}).result(SHOW_WAIT)

    assert answer["ok"] is True, answer
    # A page's ack means its frame loaded (docs/protocol.md); the framed page, from another origin, may
    # paint a moment later (seen: the iframe's black for one screenshot in about one run of ten).
    png = wait_for(lambda: centre_is(kiosk_screen.screenshot(), GREEN), 2, "the centre to turn green")
    assert close_to(pixel(png, 0.05, 0.95), GREEN), pixel(png, 0.05, 0.95)  # no caption bar without a title
    assert kiosk_screen.locator("#stage img").count() == 0  # the image was replaced, not covered
    assert ("/green.html", None) in content_server.requests


def test_image_the_page_cannot_load_is_reported_and_the_screen_keeps_its_item(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, kiosk_screen: Page
) -> None:
    assert show_red(kiosk, ctx, content_server)["ok"] is True

    # Straight to the kiosk, past the cache: the page asks /cache for content that is not there.
    item = {"kind": "image", "sha256": "0" * 64, "mime": "image/png", "title": "Пропавший"}
    answer = kiosk.call(kiosk.kiosk.show, "lost-3", item, 10.0).result(SHOW_WAIT)

    assert answer["ok"] is False
    assert answer["error"] == "fetch_failed"
    png = kiosk_screen.screenshot()
    assert close_to(pixel(png, 0.5, 0.5), RED), pixel(png, 0.5, 0.5)
    assert kiosk_screen.locator("#caption").inner_text() == "Красный"
    assert kiosk_screen.evaluate("document.body.dataset.shown") == "red-1"


def test_reloaded_page_comes_back_to_the_current_item(
    kiosk: KioskThread, ctx: Context, content_server: ContentServer, kiosk_screen: Page
) -> None:
    assert show_red(kiosk, ctx, content_server)["ok"] is True

    kiosk_screen.reload()
    wait_for(lambda: kiosk_screen.evaluate("document.body.dataset.shown") == "red-1", 10, "red-1 again")

    png = kiosk_screen.screenshot()
    assert close_to(pixel(png, 0.5, 0.5), RED), pixel(png, 0.5, 0.5)
