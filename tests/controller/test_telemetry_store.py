"""Storing telemetry batches on a real SQLite file: exactly once, corrected times, daily figures.

The figures are checked against answers worked out by hand for a school in Europe/Moscow (UTC+3).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
import zmq

from classcast.protocol import FRAME_BATCH, TELEMETRY_PROTOCOL
from controller.app import Services
from controller.ingest import Arrival, _check_and_store_all, parse_batch
from controller.store import panels, telemetry
from controller.store.telemetry import Receiver

from .conftest import World

MSK = ZoneInfo("Europe/Moscow")
BOOT = "b00tb00tb00tb00t"


def at(text: str) -> float:
    """Unix time of a Moscow wall-clock time, e.g. "2026-11-23 09:30"."""
    return datetime.fromisoformat(text).replace(tzinfo=MSK).timestamp()


def event(seq: int, kind: str, when: float, data: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {
        "id": f"spool-a:{seq}",
        "type": kind,
        "wall_time": when,
        "mono_time": 1000.0 + seq,
        "clock_synced": True,
        "boot": BOOT,
        "data": data,
    } | envelope


def store(svc: Services, world: World, events: list[dict[str, Any]], **batch: Any) -> telemetry.BatchResult:
    received_at = batch.pop("received_at", max(e["wall_time"] for e in events) + 5)
    body = json.dumps({"seq": 1, "events": events} | batch).encode()
    parsed = parse_batch([TELEMETRY_PROTOCOL, FRAME_BATCH, body])
    receiver = Receiver(world.panel_a, "Europe/Moscow", None)
    return svc.db.write(telemetry.store_batch, receiver, parsed, received_at)


def days(svc: Services, world: World) -> dict[str, dict[str, Any]]:
    rows = svc.db.read.query("SELECT * FROM panel_day WHERE panel_id = ? ORDER BY day", [world.panel_a])
    return {row.pop("day"): row for row in rows}


def hours(svc: Services, world: World, column: str) -> dict[tuple[str, int], float]:
    rows = svc.db.read.query(
        f"SELECT day, hour, {column} FROM panel_hour WHERE panel_id = ? AND {column} > 0", [world.panel_a]
    )
    return {(row["day"], row["hour"]): round(row[column], 3) for row in rows}


def test_spans_are_split_at_hour_and_day_boundaries(svc: Services, world: World) -> None:
    store(
        svc,
        world,
        [
            # A lesson cast from 09:40 to 10:20: 20 minutes in each hour.
            event(
                1,
                "shown",
                at("2026-11-23 10:20"),
                {"source": "cast", "lesson": True, "duration_s": 2400, "part": 0},
            ),
            # The screen on from 23:30 to 00:15 the next day.
            event(2, "screen", at("2026-11-24 00:15"), {"on": True, "duration_s": 2700, "part": 0}),
            # Off by schedule: counts nowhere.
            event(
                3, "screen", at("2026-11-24 07:00"), {"on": False, "duration_s": 20000, "reason": "schedule"}
            ),
        ],
    )

    assert hours(svc, world, "in_use_s") == {("2026-11-23", 9): 1200.0, ("2026-11-23", 10): 1200.0}
    assert hours(svc, world, "screen_on_s") == {("2026-11-23", 23): 1800.0, ("2026-11-24", 0): 900.0}
    figures = days(svc, world)
    assert figures["2026-11-23"]["in_use_s"] == 2400 and figures["2026-11-23"]["screen_on_s"] == 1800
    assert figures["2026-11-24"]["screen_on_s"] == 900 and figures["2026-11-24"]["in_use_s"] == 0


def test_lessons_casts_and_library_share(svc: Services, world: World) -> None:
    store(
        svc,
        world,
        [
            # One library lesson cast, reported in two parts: one lesson, one cast, 10 minutes.
            event(
                1,
                "shown",
                at("2026-11-23 09:05"),
                {"source": "cast", "lesson": True, "library": True, "duration_s": 300, "part": 0},
            ),
            event(
                2,
                "shown",
                at("2026-11-23 09:10"),
                {"source": "cast", "lesson": True, "library": True, "duration_s": 300, "part": 1},
            ),
            # A teacher's own file, 20 minutes.
            event(
                3,
                "shown",
                at("2026-11-23 10:20"),
                {"source": "cast", "lesson": True, "duration_s": 1200, "part": 0},
            ),
            # The lobby loop of the schedule: shown, but not a lesson and not a cast.
            event(
                4,
                "shown",
                at("2026-11-23 12:00"),
                {"source": "schedule", "lesson": False, "duration_s": 3600},
            ),
        ],
    )

    day = days(svc, world)["2026-11-23"]
    assert (day["lessons"], day["casts"]) == (2, 2)
    assert (day["cast_s"], day["library_s"], day["in_use_s"]) == (1800, 600, 1800)  # library share 1/3


def test_heartbeats_temperature_dropped_and_recoveries(svc: Services, world: World) -> None:
    store(
        svc,
        world,
        [
            event(1, "heartbeat", at("2026-11-23 08:00"), {"temperature_c": 51.5}),
            event(2, "heartbeat", at("2026-11-23 08:01"), {"temperature_c": 63.0}),
            event(3, "heartbeat", at("2026-11-23 08:02"), {}),
            event(4, "recovery", at("2026-11-23 08:03"), {"action": "page_reload", "cause": "hung"}),
            event(
                7,
                "dropped",
                at("2026-11-23 08:04"),
                {"count": 2, "first_seq": 5, "last_seq": 6, "reason": "full"},
            ),
        ],
    )

    day = days(svc, world)["2026-11-23"]
    assert (day["heartbeats"], day["max_temperature_c"], day["recoveries"], day["dropped_events"]) == (
        3,
        63.0,
        1,
        2,
    )
    # The dropped range is held: the 7 ids are settled as one range, and 5 and 6 would be duplicates now.
    assert list(svc.db.read.query("SELECT first_seq, last_seq FROM telemetry_held")) == [
        {"first_seq": 1, "last_seq": 7}
    ]


def test_each_id_counts_once_whatever_the_order(svc: Services, world: World) -> None:
    beat = lambda seq: event(seq, "heartbeat", at("2026-11-23 08:00") + seq, {"temperature_c": 40.0})  # noqa: E731
    assert store(svc, world, [beat(5), beat(6)]).stored == 2  # a later batch arrives first
    first = store(svc, world, [beat(1), beat(2), beat(3), beat(4), beat(5)])
    again = store(svc, world, [beat(3), beat(4), beat(5), beat(6), beat(7)])

    assert (first.stored, first.duplicates) == (4, 1)
    assert (again.stored, again.duplicates) == (1, 4)
    assert days(svc, world)["2026-11-23"]["heartbeats"] == 7
    assert telemetry.count_events(svc.db.read) == 7
    assert list(svc.db.read.query("SELECT first_seq, last_seq FROM telemetry_held")) == [
        {"first_seq": 1, "last_seq": 7}
    ]


@pytest.mark.parametrize("jump", [3 * 365 * 86400.0, -2 * 3600.0])
def test_unsynced_times_are_corrected_from_the_batch(svc: Services, world: World, jump: float) -> None:
    true_time = at("2026-11-23 09:00")
    # The panel's clock is `jump` off and not synced; its monotonic clock says the event is 60 s old.
    sent_mono = 5000.0
    events = [
        event(1, "heartbeat", true_time - 60 + jump, {}, clock_synced=False, mono_time=sent_mono - 60),
        # An event of an earlier boot the controller knows nothing of: its time cannot be corrected.
        event(
            2, "heartbeat", true_time - 7200 + jump, {}, clock_synced=False, mono_time=100.0, boot="otherboot"
        ),
    ]
    store(
        svc,
        world,
        events,
        sent_at=true_time + jump,
        sent_mono=sent_mono,
        boot=BOOT,
        clock_synced=False,
        received_at=true_time,
    )

    stored = {
        row["event_id"]: row
        for row in svc.db.read.query("SELECT event_id, wall_time, panel_wall_time FROM telemetry_event")
    }
    assert stored["spool-a:1"]["wall_time"] == pytest.approx(true_time - 60)
    assert stored["spool-a:1"]["panel_wall_time"] == pytest.approx(true_time - 60 + jump)
    # Not corrected, but never later than its arrival.
    assert stored["spool-a:2"]["wall_time"] == pytest.approx(min(true_time - 7200 + jump, true_time))


def test_a_batch_that_cannot_be_stored_is_rolled_back_alone(svc: Services, world: World) -> None:
    # Ingest commits the batches that arrived together in one transaction; a batch that fails there
    # (here: its school's time zone is not one) must cost neither its neighbours nor the others' acks.
    panel_b, _token = svc.db.write(
        panels.enroll_panel, world.room_b, "Панель 201", zmq.curve_keypair()[0].decode()
    )
    svc.db.write(
        lambda db: db.execute("UPDATE school SET timezone = 'Mars/Olympus' WHERE id = ?", [world.school_b])
    )
    when = at("2026-11-23 10:00")

    def arrival(panel_id: int, seqs: range) -> Arrival:
        batch = {"seq": seqs[0], "events": [event(seq, "heartbeat", when + seq, {}) for seq in seqs]}
        return Arrival(panel_id, "192.0.2.1", [TELEMETRY_PROTOCOL, FRAME_BATCH, json.dumps(batch).encode()])

    arrivals = [
        arrival(world.panel_a, range(1, 3)),
        arrival(panel_b, range(1, 4)),
        arrival(world.panel_a, range(3, 4)),
    ]
    outcomes = svc.db.write(_check_and_store_all, arrivals, when + 60)

    assert [getattr(outcome, "stored", None) for outcome in outcomes] == [2, None, 1]
    assert isinstance(outcomes[1], ZoneInfoNotFoundError)
    rows = svc.db.read.query("SELECT panel_id, event_id, wall_time FROM telemetry_event ORDER BY event_id")
    assert [(row["panel_id"], row["event_id"], row["wall_time"]) for row in rows] == [
        (world.panel_a, f"spool-a:{seq}", when + seq) for seq in (1, 2, 3)
    ]
    assert days(svc, world)["2026-11-23"]["heartbeats"] == 3
    # Panel B's batch left nothing behind: resent once its school is mended, it is stored whole.
    svc.db.write(
        lambda db: db.execute(
            "UPDATE school SET timezone = 'Asia/Novosibirsk' WHERE id = ?", [world.school_b]
        )
    )
    (again,) = svc.db.write(_check_and_store_all, [arrival(panel_b, range(1, 4))], when + 120)
    assert (again.stored, again.duplicates) == (3, 0)


def test_the_panels_row_keeps_its_screens_latest_state_and_why(svc: Services, world: World) -> None:
    """Off by the schedule is kept as such, a fault as a fault; a report replayed late changes nothing."""

    def screen() -> tuple[Any, ...]:
        sql = "SELECT screen_on, screen_reason, screen_at FROM panel WHERE id = ?"
        return tuple(svc.db.read.execute(sql, [world.panel_a]).fetchone())

    assert screen() == (None, None, None)
    store(svc, world, [event(1, "screen", at("2026-11-23 18:00"), {"on": True, "duration_s": 36000.0})])
    assert screen() == (1, None, at("2026-11-23 18:00"))  # an older player's report: on, no reason given

    store(
        svc,
        world,
        [
            event(
                2, "screen", at("2026-11-23 08:00"), {"on": True, "duration_s": 60.0, "reason": "schedule"}
            ),
            event(
                3, "screen", at("2026-11-23 19:00"), {"on": False, "duration_s": 300.0, "reason": "schedule"}
            ),
        ],
    )
    assert screen() == (0, "schedule", at("2026-11-23 19:00"))

    fault = {"duration_s": 300.0, "part": 1, "reason": "fault"}
    receiver = Receiver(world.panel_a, "Europe/Moscow", None, at("2026-11-23 19:00"))
    body = json.dumps({"seq": 2, "events": [event(4, "screen", at("2026-11-23 20:00"), fault)]}).encode()
    parsed = parse_batch([TELEMETRY_PROTOCOL, FRAME_BATCH, body])
    svc.db.write(telemetry.store_batch, receiver, parsed, at("2026-11-23 20:00"))
    assert screen() == (None, "fault", at("2026-11-23 20:00"))

    late = Receiver(world.panel_a, "Europe/Moscow", None, at("2026-11-23 20:00"))
    old = {"on": True, "duration_s": 60.0, "reason": "schedule"}
    body = json.dumps({"seq": 3, "events": [event(5, "screen", at("2026-11-23 12:00"), old)]}).encode()
    svc.db.write(
        telemetry.store_batch,
        late,
        parse_batch([TELEMETRY_PROTOCOL, FRAME_BATCH, body]),
        at("2026-11-23 20:01"),
    )
    assert screen() == (None, "fault", at("2026-11-23 20:00"))  # the spool's old report came after
