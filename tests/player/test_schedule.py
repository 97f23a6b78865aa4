"""The player following its room's schedule: the kiosk served as the player serves it, the page played by
the test (it reads /events and posts /shown), the clock given. Pixels and real processes are in
tests/player/test_schedule_browser.py and tests/e2e; the format itself in tests/test_playlist.py."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from classcast.protocol import DEFAULT_VIEW
from player.cache import ContentCache
from player.commands import Context, apply_state, parse_state
from player.desired import StateFile
from player.schedule import WAKE_S, Follower
from player.screen import Noop, ScreenPower
from player.showings import Showings
from player.usage import UsageOutbox
from tests.player.conftest import HTTP_TIMEOUT, ContentServer, EventStream, KioskThread, post_json, sse_data

pytestmark = pytest.mark.timeout(60)

ZONE = "Asia/Yekaterinburg"  # UTC+5: a school far from the controller's own time zone
GREETING = {"text": "Доброе утро!", "duration": 20}
AIRING = {"text": "Проветрите кабинет", "duration": 40}
DOCUMENT = {
    "version": 1,
    "title": "Кабинет 12",
    "playlists": [{"name": "утро", "items": [GREETING, AIRING]}],
    "rules": [{"playlist": "утро", "times": [{"from": "08:00", "to": "09:00"}]}],
    "screen": {"hours": [{"times": [{"from": "07:30", "to": "18:00"}]}]},
}
SCHEDULE = {"revision": "r1", "title": "Кабинет 12", "timezone": ZONE, "document": DOCUMENT}


class Clock:
    """A clock that stands where the test sets it, in the school's time ("2026-12-07 08:00:30")."""

    def __init__(self, local: str) -> None:
        self.set(local)

    def set(self, local: str) -> None:
        self.moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(ZONE)).timestamp()

    def __call__(self) -> float:
        return self.moment


class Panel:
    """A follower in the kiosk's hub, its screen (no-op backend) and the page's events stream."""

    def __init__(self, kiosk: KioskThread, cache: ContentCache, folder: Path, clock: Clock):
        self.kiosk, self.folder, self.clock = kiosk, folder, clock
        self.screen = ScreenPower(Noop())
        self.follower = Follower(
            kiosk.kiosk, cache, StateFile(folder / "schedule.json"), 3.0, self.screen, clock
        )
        self.ctx = Context(kiosk.kiosk, cache, 3.0, StateFile(folder / "state.json"), follower=self.follower)
        self.events = EventStream(kiosk.url)
        assert self.events.next_block() == "retry: 1000\n"

    def step(self, report: bool = True, length: float | None = None) -> tuple[list[tuple[str, Any]], float]:
        """Return the events a step sent to the page (each `show` reported on screen) and its wait."""

        def step_then_mark() -> float:
            wait = self.follower.step()
            self.kiosk.kiosk._send("marker", {})  # the end of what this step sent
            return wait

        pending = self.kiosk.call(step_then_mark)
        sent: list[tuple[str, Any]] = []
        while (pair := self._next())[0] != "marker":
            if pair[0] is None:
                continue
            sent.append(pair)
            if pair[0] == "show" and report:
                body = {"cast_id": pair[1]["cast_id"], "ok": True, "shown_at": 1.0, "length": length}
                assert post_json(self.kiosk.url + "/shown", body).status == 204
        return sent, pending.result(HTTP_TIMEOUT)

    def apply(self, state: dict[str, Any]) -> dict[str, Any]:
        return self.kiosk.call(apply_state, self.ctx, parse_state(state)).result(HTTP_TIMEOUT)

    def _next(self) -> tuple[str | None, Any]:
        block = self.events.next_block()
        if block.startswith(":"):
            return None, None
        event = block.split("\n", 1)[0].removeprefix("event: ")
        return event, sse_data(block, event)

    def close(self) -> None:
        self.events.close()


@pytest.fixture
def panel_at(kiosk: KioskThread, cache: ContentCache, tmp_path: Path) -> Any:
    made: list[Panel] = []

    def make(local: str) -> Panel:
        made.append(Panel(kiosk, cache, tmp_path, Clock(local)))
        return made[-1]

    yield make
    for panel in made:
        panel.close()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.05)


def state(version: int, schedule: Any, show: Any = None) -> dict[str, Any]:
    return {"version": version, "show": show, "schedule": schedule, "panel": {}, "alert": None}


def test_the_item_of_the_schools_local_time_is_shown_and_the_next_one_preloaded(panel_at: Any) -> None:
    """08:00:30 in Yekaterinburg is 30 s into the loop: the greeting (20 s) is over, the airing card
    has 30 s left; the greeting is sent ahead to load, for the loop starts again at 08:01:00."""
    panel = panel_at("2026-12-07 08:00:30")
    assert panel.follower.set(SCHEDULE) is True

    sent, wait = panel.step()

    shows = [data for event, data in sent if event == "show"]
    preloads = [data for event, data in sent if event == "preload"]
    assert [show["item"]["text"] for show in shows] == ["Проветрите кабинет"]
    assert shows[0]["cast_id"] == "schedule:утро:1:2026-12-07T08:00:20.000"
    assert [p["item"]["text"] for p in preloads] == ["Доброе утро!"]
    assert preloads[0]["cast_id"] == "schedule:утро:0:2026-12-07T08:01:00.000"
    assert wait == pytest.approx(30.0)
    assert panel.screen.state().status == "on"

    again, _ = panel.step()  # the same moment: nothing new is sent to the page
    assert again == []


def test_outside_its_hours_the_screen_is_off_by_schedule_and_nothing_plays(panel_at: Any) -> None:
    panel = panel_at("2026-12-07 19:00:00")
    panel.follower.set(SCHEDULE)

    sent, wait = panel.step()

    assert sent == []
    assert wait == WAKE_S  # the night is one slot; it is asked again every WAKE_S, for the clock
    assert (panel.screen.state().status, panel.screen.state().cause) == ("off_by_schedule", "schedule")


def test_a_cast_wakes_a_screen_off_by_schedule_and_outranks_the_playlist(panel_at: Any) -> None:
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set(SCHEDULE)
    panel.step()

    cast = {
        "cast_id": "77",
        "item": {"kind": "text", "title": "", "text": "Тема урока"},
        "view": DEFAULT_VIEW,
    }
    pending = panel.kiosk.call(apply_state, panel.ctx, parse_state(state(2, SCHEDULE, cast)))
    event, shown = panel._next()
    assert (event, shown["cast_id"]) == ("show", "77")
    post_json(panel.kiosk.url + "/shown", {"cast_id": "77", "ok": True, "shown_at": 2.0})
    assert pending.result(HTTP_TIMEOUT) == {"ok": True}

    sent, _ = panel.step()
    assert sent == []  # the cast stays: the schedule waits
    assert panel.kiosk.kiosk.current["cast_id"] == "77"


def test_a_cast_that_ends_gives_way_to_the_schedules_item_with_no_idle_look_between(panel_at: Any) -> None:
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set(SCHEDULE)
    cast = {
        "cast_id": "77",
        "item": {"kind": "text", "title": "", "text": "Тема урока"},
        "view": DEFAULT_VIEW,
    }
    pending = panel.kiosk.call(apply_state, panel.ctx, parse_state(state(2, SCHEDULE, cast)))
    panel._next()
    post_json(panel.kiosk.url + "/shown", {"cast_id": "77", "ok": True, "shown_at": 2.0})
    pending.result(HTTP_TIMEOUT)

    assert panel.apply(state(3, SCHEDULE)) == {"ok": True}  # the teacher stopped the cast
    sent, wait = panel.step()

    assert [event for event, _ in sent] == ["show", "preload"]  # no `clear`: the cast is replaced
    assert sent[0][1]["item"]["text"] == "Доброе утро!"
    assert wait == pytest.approx(15.0)


def test_an_alert_wakes_a_screen_off_by_schedule_as_a_command(panel_at: Any) -> None:
    panel = panel_at("2026-12-07 19:00:00")
    panel.follower.set(SCHEDULE)
    panel.step()
    panel.kiosk.kiosk.alert = {"id": "a1", "title": "Внимание", "text": "Учебная тревога", "level": "danger"}

    panel.step()

    assert (panel.screen.state().status, panel.screen.state().cause) == ("on", "command")


def test_a_schedule_that_cannot_be_read_leaves_the_last_good_one_after_a_restart_too(
    panel_at: Any, kiosk: KioskThread, cache: ContentCache, tmp_path: Path
) -> None:
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set(SCHEDULE)
    broken = {**SCHEDULE, "revision": "r2", "document": {**DOCUMENT, "rules": [{"playlist": "вечер"}]}}

    assert panel.follower.set(broken) is False
    assert panel.follower.set({"revision": "r3", "timezone": "Mars/Olympus", "document": DOCUMENT}) is False
    assert panel.follower.set({"revision": "r4"}) is False

    assert panel.follower.revision == "r1"
    restarted = Follower(kiosk.kiosk, cache, StateFile(tmp_path / "schedule.json"), 3.0)
    assert restarted.revision == "r1"
    sent, _ = panel.step()
    assert sent[0][1]["item"]["text"] == "Доброе утро!"


def test_removing_the_schedule_takes_the_screen_back_to_its_idle_look(panel_at: Any) -> None:
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set(SCHEDULE)
    panel.step()

    panel.follower.set(None)
    sent, _ = panel.step()

    assert [event for event, _ in sent] == ["clear"]
    assert not (panel.folder / "schedule.json").exists()


def test_every_file_of_the_schedule_is_needed_and_a_video_lasts_its_length(
    panel_at: Any, content_server: ContentServer
) -> None:
    """A video without a `duration` stands in for the playlist's 15 s until the page says how long it is."""
    video = content_server.add(b"\x00\x00\x00\x18ftypmp42 not really a video", "video/mp4")
    pages = [content_server.add(bytes([n]) * 100, "image/png") for n in range(2)]
    pdf = {"sha256": "cd" * 32, "kind": "pdf", "pages": [{"sha256": p, "mime": "image/png"} for p in pages]}
    film = {"sha256": video, "kind": "video", "mime": "video/mp4", "title": "Физминутка"}
    document = {**DOCUMENT, "playlists": [{"name": "утро", "items": [film, pdf]}]}
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set({**SCHEDULE, "document": document})

    assert panel.follower.needed_files() == {video, *pages}  # the PDF's pages, not the PDF
    sent, wait = panel.step(length=95.0)

    assert sent[0][1]["item"] == {**film, "sound": False}
    assert sent[0][1]["start"] == 5.0  # 08:00:05: five seconds into its turn, as the room's other panels
    assert wait == pytest.approx(10.0)  # the playlist's 15 s as the step began

    panel.clock.set("2026-12-07 08:00:20")
    sent, wait = panel.step()
    assert sent == []  # past the playlist's 15 s, the video plays on: 95 s, as the page said
    assert wait == WAKE_S

    panel.clock.set("2026-12-07 08:01:35")
    sent, wait = panel.step()
    assert [(event, data["cast_id"]) for event, data in sent][:1] == [
        ("show", "schedule:утро:1:2026-12-07T08:01:35.000")
    ]


def test_schedule_items_and_screen_states_are_usage_events(tmp_path: Path) -> None:
    with UsageOutbox(tmp_path) as outbox:
        showings = Showings(outbox)
        item = {"kind": "video", "sha256": "ef" * 32}
        showings.changed({"cast_id": "schedule:утро:0:x", "item": item, "source": "schedule", "lesson": True})
        showings.changed({"cast_id": "schedule:утро:1:x", "item": {"kind": "text"}, "source": "schedule"})
        screen = ScreenPower(Noop(), showings.screen_changed)
        screen.set(True)
        screen.set(False, "schedule")
        showings.stop()
        bodies = sqlite3.connect(tmp_path / "usage-outbox.sqlite").execute("SELECT body FROM events")
        events = [(json.loads(body)["type"], json.loads(body)["data"]) for (body,) in bodies]

    for _, data in events:
        del data["duration_s"]
    assert events == [
        (
            "shown",
            {
                "source": "schedule",
                "kind": "video",
                "lesson": True,
                "library": False,
                "part": 0,
                "sha256": "ef" * 32,
            },
        ),
        ("screen", {"on": True, "part": 0, "reason": "schedule"}),  # when it went off
        ("shown", {"source": "schedule", "kind": "text", "lesson": False, "library": False, "part": 0}),
        ("screen", {"on": False, "part": 0, "reason": "schedule"}),  # the player stopped
    ]


def test_a_new_schedule_waits_for_its_files_while_the_old_one_plays_on(
    panel_at: Any, content_server: ContentServer, kiosk: KioskThread, tmp_path: Path, monkeypatch: Any
) -> None:
    """As after a power cut mid-download: the new schedule's image cannot be fetched (the controller
    is out of reach), so the old schedule plays on, and is the one a restart comes back to; once the
    file can be had, the new one is followed."""
    monkeypatch.setattr("player.schedule.PREPARE_RETRY_S", 0.1)
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set(SCHEDULE)
    image = {
        "sha256": content_server.add(b"\x89PNG new slide", "image/png"),
        "kind": "image",
        "mime": "image/png",
    }
    newer = {
        **SCHEDULE,
        "revision": "r2",
        "document": {**DOCUMENT, "playlists": [{"name": "утро", "items": [image]}]},
    }
    panel.follower.cache = ContentCache(tmp_path / "offline", "http://127.0.0.1:9", timeout=1.0, token="t")

    assert panel.kiosk.call(panel.follower.set, newer).result(HTTP_TIMEOUT) is True
    time.sleep(0.5)  # a few tries of the unreachable controller

    assert (panel.follower.revision, panel.follower.pending.revision) == ("r1", "r2")
    assert image["sha256"] in panel.follower.needed_files()  # the cache keeps what is being fetched
    sent, _ = panel.step()
    assert sent[0][1]["item"]["text"] == "Доброе утро!"  # the old schedule, whole
    restarted = Follower(kiosk.kiosk, panel.follower.cache, StateFile(tmp_path / "schedule.json"), 3.0)
    assert restarted.revision == "r1"

    panel.follower.cache = ContentCache(
        tmp_path / "cache", content_server.url, HTTP_TIMEOUT, content_server.token
    )
    wait_until(lambda: panel.follower.revision == "r2", "the new schedule, once its file is cached")
    assert panel.follower.pending is None
    assert (
        Follower(kiosk.kiosk, panel.follower.cache, StateFile(tmp_path / "schedule.json"), 3.0).revision
        == "r2"
    )


def test_a_new_schedule_whose_file_the_controller_does_not_have_is_followed_at_once(
    panel_at: Any, monkeypatch: Any
) -> None:
    """A 404 will not pass by waiting: the schedule is followed, and that item is skipped in its turn."""
    monkeypatch.setattr("player.schedule.PREPARE_RETRY_S", 0.1)
    panel = panel_at("2026-12-07 08:00:05")
    panel.follower.set(SCHEDULE)
    missing = {"sha256": "0" * 64, "kind": "image", "mime": "image/png"}
    playlist = {"name": "утро", "items": [missing, GREETING]}
    newer = {**SCHEDULE, "revision": "r2", "document": {**DOCUMENT, "playlists": [playlist]}}

    panel.kiosk.call(panel.follower.set, newer).result(HTTP_TIMEOUT)
    wait_until(lambda: panel.follower.revision == "r2", "the new schedule")
    sent, wait = panel.step()

    assert sent == []  # the missing image's turn: nothing new on screen
    assert wait == pytest.approx(10.0)  # until the greeting's turn, at 08:00:15


def test_a_page_that_attaches_between_two_items_is_sent_the_next_one_to_load_too(
    panel_at: Any, kiosk: KioskThread
) -> None:
    """A reloaded or restarted browser would otherwise load the next item only when it is due."""
    panel = panel_at("2026-12-07 08:00:30")
    panel.follower.set(SCHEDULE)
    panel.step()

    late = EventStream(kiosk.url)
    try:
        blocks = [late.next_block() for _ in range(3)]
    finally:
        late.close()

    assert blocks[0] == "retry: 1000\n"
    assert sse_data(blocks[1], "show")["item"]["text"] == "Проветрите кабинет"
    assert sse_data(blocks[2], "preload")["cast_id"] == "schedule:утро:0:2026-12-07T08:01:00.000"
