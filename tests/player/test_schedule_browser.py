"""The player following its room's schedule on a real screen: `python -m player` as a real process over
a data folder, its kiosk page in a real headless Chromium, read in pixels.

No controller answers: the player's controller URL is the content server (tests/player/conftest.py),
which serves the content API and no Socket.IO, so every schedule here is the one kept on disk
(`<data_dir>/schedule.json`). The schedule's own logic is tested in tests/player/test_schedule.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zmq
from PIL import Image
from playwright.sync_api import Browser, Page

from classcast.identity import ensure_identity, save_enrollment
from player import schedule, usage
from tests.player.conftest import ContentServer, close_to, request, solid_png
from tests.player.standin import PlayerProcess, wait_for

pytestmark = pytest.mark.timeout(120)

GREEN, RED, BLUE = (0, 255, 0), (255, 0, 0), (0, 0, 255)
IDLE = (0x10, 0x24, 0x3E)  # the idle look's background (player/static/kiosk.css)
WAIT_S = 30.0  # only ever waited out when a test fails
WATCH_S = 3.0  # how long a screen is watched for what must not show: the player decides in milliseconds
CENTRE = (0.4, 0.3, 0.6, 0.7)  # a contained square image covers this part of a 16:9 screen
# Not a controller: the schedule is the one kept on disk, the screen power controls nothing.
ENV = {"CLASSCAST_PLAYER_SCREEN_POWER": "noop", "CLASSCAST_PLAYER_BROWSER_CHECK_INTERVAL": "0"}


# --- helpers -----------------------------------------------------------------------------------------


def enrolled_panel(folder: Path, content_server: ContentServer) -> Path:
    """Return a panel's data folder, enrolled with the content server's token."""
    ensure_identity(folder)
    save_enrollment(folder, token=content_server.token, controller_key=zmq.curve_keypair()[0].decode())
    return folder


def image_item(content_server: ContentServer, rgb: tuple[int, int, int], duration: float) -> dict[str, Any]:
    """Return a schedule's image item of one colour, held by the controller."""
    sha256 = content_server.add(solid_png(rgb, size=256), "image/png")
    return {"sha256": sha256, "kind": "image", "mime": "image/png", "title": "", "duration": duration}


def keep_schedule(data_dir: Path, items: list[dict[str, Any]], **document: Any) -> None:
    """Write the schedule the player keeps: one playlist of `items`, always on."""
    kept = {
        "revision": "r1",
        "title": "Кабинет 12",
        "timezone": "UTC",
        "document": {
            "version": 1,
            "title": "Кабинет 12",
            "playlists": [{"name": "цвета", "items": items}],
            "rules": [{"playlist": "цвета"}],
            **document,
        },
    }
    (data_dir / schedule.FILE).write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")


@contextmanager
def kiosk_screen(browser: Browser, url: str) -> Iterator[Page]:
    """Yield a fresh 640×360 page on the kiosk page at `url`, from DOMContentLoaded: as it attaches."""
    context = browser.new_context(viewport={"width": 640, "height": 360})
    try:
        page = context.new_page()
        page.goto(url + "/", wait_until="domcontentloaded")
        yield page
    finally:
        context.close()


def attached(url: str) -> bool:
    return request(url + "/healthz").body == b"attached"


@dataclass
class Frame:
    """One screenshot, read: how many pixels of the screen's centre are near each colour, and a corner."""

    at: float  # monotonic
    size: int  # pixels of the centre
    green: int
    red: int
    blue: int
    corner: tuple[int, int, int]  # black beside a contained image; the idle look's background

    @property
    def colour(self) -> str | None:
        """Return the colour most of the centre shows ("green" or "blue"), or None."""
        return "green" if self.green > self.size / 2 else "blue" if self.blue > self.size / 2 else None


def look(page: Page) -> Frame:
    """Return the screen as it is now, from a screenshot."""
    png = page.screenshot()
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        box = tuple(int(f * n) for f, n in zip(CENTRE, (*rgb.size, *rgb.size), strict=True))
        data = rgb.crop(box).tobytes()
        corner = rgb.getpixel((2, 2))
    pixels = [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]
    near = {c: sum(1 for p in pixels if close_to(p, c, tolerance=40)) for c in (GREEN, RED, BLUE)}
    return Frame(time.monotonic(), len(pixels), near[GREEN], near[RED], near[BLUE], corner)


def runs(frames: list[Frame]) -> list[str]:
    """Return the colours the frames saw, each run of one colour once (frames of neither left out)."""
    seen: list[str] = []
    for frame in frames:
        if frame.colour is not None and seen[-1:] != [frame.colour]:
            seen.append(frame.colour)
    return seen


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def usage_events(data_dir: Path, kind: str) -> list[dict[str, Any]]:
    """Return the data of every usage event of type `kind` in the panel's outbox, oldest first."""
    with closing(sqlite3.connect(data_dir / usage.FILE)) as db:
        bodies = [json.loads(body) for (body,) in db.execute("SELECT body FROM events ORDER BY local_id")]
    return [body["data"] for body in bodies if body["type"] == kind]


# --- the tests ---------------------------------------------------------------------------------------


def test_a_corrupted_cached_file_is_fetched_again_and_never_shown(
    tmp_path: Path,
    browser: Browser,
    content_server: ContentServer,
    start_player: Callable[..., PlayerProcess],
) -> None:
    """The cached image is overwritten with a valid PNG of another colour while the player is down:
    the restarted player checks it against its SHA-256, fetches it again and shows only the right one."""
    data_dir = enrolled_panel(tmp_path / "panel", content_server)
    item = image_item(content_server, GREEN, duration=5)
    green = item["sha256"]
    keep_schedule(data_dir, [item])
    player = start_player(data_dir, content_server.url, ENV)
    with kiosk_screen(browser, player.kiosk_url()) as page:
        wait_for(lambda: look(page).colour == "green", WAIT_S, "the scheduled image on screen")
    assert player.stop() == 0, player.log_text()
    fetched = content_server.content_requests(green)
    cached = data_dir / "cache" / green
    assert fetched >= 1 and file_sha256(cached) == green

    red_png = solid_png(RED, size=256)  # a valid image: were it shown, it would be seen
    cached.write_bytes(red_png)
    player = start_player(data_dir, content_server.url, ENV)
    url = player.kiosk_url()
    with kiosk_screen(browser, url) as page:  # watched from before the page attaches
        deadline, green_at = time.monotonic() + WAIT_S, None
        while green_at is None or time.monotonic() < green_at + 2:  # and for 2 s once green is on
            assert time.monotonic() < deadline, f"green never shown; the player's log:\n{player.log_text()}"
            frame = look(page)
            assert not frame.red, f"the corrupted file is on screen; the player's log:\n{player.log_text()}"
            if green_at is None and frame.colour == "green":
                green_at = frame.at
        assert attached(url)

    assert content_server.content_requests(green) == fetched + 1  # fetched again, once
    assert file_sha256(cached) == green
    warning = f"content cache: {green[:12]}… reads as {hashlib.sha256(red_png).hexdigest()[:12]}…: removed"
    assert warning in player.log_text()
    assert player.stop() == 0, player.log_text()


def test_scheduled_items_replace_each_other_on_screen_offline(
    tmp_path: Path,
    browser: Browser,
    content_server: ContentServer,
    start_player: Callable[..., PlayerProcess],
) -> None:
    """Two images of two seconds each, in a loop, with no controller: the screen goes green, blue,
    green…, one replacing the other (never the idle look in between); each is reported shown."""
    data_dir = enrolled_panel(tmp_path / "panel", content_server)
    items = [image_item(content_server, GREEN, duration=2), image_item(content_server, BLUE, duration=2)]
    keep_schedule(data_dir, items)
    player = start_player(data_dir, content_server.url, ENV)
    frames: list[Frame] = []
    with kiosk_screen(browser, player.kiosk_url()) as page:
        wait_for(lambda: look(page).colour is not None, WAIT_S, "a scheduled image on screen")
        deadline = time.monotonic() + WAIT_S
        while len(runs(frames)) < 4 or frames[-1].at - frames[0].at < 6:
            assert time.monotonic() < deadline, f"seen {runs(frames)}; the player's log:\n{player.log_text()}"
            frames.append(look(page))

    assert runs(frames)[:4] in (["green", "blue"] * 2, ["blue", "green"] * 2)
    assert [f for f in frames if close_to(f.corner, IDLE)] == []
    assert player.stop() == 0, player.log_text()
    shown = [event for event in usage_events(data_dir, "shown") if event["source"] == "schedule"]
    assert {event["sha256"] for event in shown} == {item["sha256"] for item in items}
    assert {(event["kind"], event["lesson"]) for event in shown} == {("image", False)}


def test_a_schedule_with_the_screen_off_shows_nothing(
    tmp_path: Path,
    browser: Browser,
    content_server: ContentServer,
    start_player: Callable[..., PlayerProcess],
) -> None:
    """Screen hours that leave out the present moment: the page keeps its idle look, the image cached
    all the same, and the display's being off by schedule is recorded."""
    data_dir = enrolled_panel(tmp_path / "panel", content_server)
    item = image_item(content_server, GREEN, duration=5)
    hour = (datetime.now(UTC).hour + 12) % 24  # a minute at least eleven hours away from now
    hours = [{"times": [{"from": f"{hour:02d}:00", "to": f"{hour:02d}:01"}]}]
    keep_schedule(data_dir, [item], screen={"hours": hours})
    player = start_player(data_dir, content_server.url, ENV)
    url = player.kiosk_url()
    with kiosk_screen(browser, url) as page:
        wait_for(lambda: attached(url), WAIT_S, "the kiosk page to attach")
        wait_for(lambda: (data_dir / "cache" / item["sha256"]).exists(), WAIT_S, "the image prefetched")
        wait_for(lambda: close_to(look(page).corner, IDLE), WAIT_S, "the idle look")
        frames = [look(page)]
        while frames[-1].at - frames[0].at < WATCH_S:
            frames.append(look(page))

    assert [f for f in frames if f.green or not close_to(f.corner, IDLE)] == []
    assert player.stop() == 0, player.log_text()
    assert {"on": False, "reason": "schedule"} in [
        {"on": event["on"], "reason": event["reason"]} for event in usage_events(data_dir, "screen")
    ]
    assert [event for event in usage_events(data_dir, "shown") if event["source"] == "schedule"] == []
