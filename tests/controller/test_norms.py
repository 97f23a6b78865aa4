"""The screen-time norms (SanPiN 1.2.3685-21): the table, a lesson's screen time, and the daily check
against the reference main system's journal (a real process) with panels' reports stored by the real
telemetry path on a real SQLite file.

The stand-in's teacher «anna» has every lesson in room 101 (`--teacher anna=101`); her lessons of a
past weekday are read from the stand-in itself, as the check reads them. In room 101 two panels report:
the first lesson had 30 minutes of lesson content (two panels overlapping count once), the second 5
minutes of it and 20 minutes of idle content (not screen work). So one lesson is over its norm.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from classcast.identity import ensure_identity
from classcast.protocol import FRAME_BATCH, TELEMETRY_PROTOCOL
from classcast.settings import SettingsError
from controller import journal, norm_check, norms
from controller.app import Services, create_app
from controller.ingest import parse_batch
from controller.store import orgs, panels, room_casts, telemetry, users
from controller.store.telemetry import Receiver
from mainsystem.process import StandIn

ZONE = "Europe/Moscow"
MSK = ZoneInfo(ZONE)
TOKEN = "norms-" + secrets.token_urlsafe(12)
MIN = 60.0


def test_the_table_reads_grades_and_minutes_and_refuses_what_it_cannot() -> None:
    table = norms.Norms.parse("1-3:10/30 4:15/45 5-6:20/80 7-11:25/100")
    assert [(b.first, b.last, b.lesson_s, b.day_s) for b in table.bands][1] == (4, 4, 900.0, 2700.0)
    assert table.of_class("7Б").label == "7–11"  # type: ignore[union-attr]
    assert table.of_class("10-А").lesson_s == 25 * MIN  # type: ignore[union-attr]
    assert table.of_class("1 класс").day_s == 30 * MIN  # type: ignore[union-attr]
    assert table.of_class("Кружок") is None and table.of_class("12А") is None
    for bad in ("1-3:10", "0:5/10", "3-1:10/30", "1-3:10/30 3:15/45", "5-6:двадцать/80"):
        with pytest.raises(SettingsError, match="screen_time_norms"):
            norms.Norms.parse(bad)


def test_screen_time_counts_each_moment_once_within_the_lesson() -> None:
    spans = [(0.0, 600.0), (300.0, 900.0), (1000.0, 1100.0), (-500.0, 100.0), (2000.0, 9000.0)]
    assert norms.covered(spans, 0.0, 2400.0) == 900 + 100 + 400
    assert norms.covered([], 0.0, 10.0) == 0


def test_a_lesson_over_its_norm_and_the_one_that_takes_its_class_past_the_day() -> None:
    band = norms.Band(5, 6, 20 * MIN, 80 * MIN)
    day = [
        norms.Lesson(1, "08:30", "09:10", "5А", band, 25 * MIN),  # over the lesson's 20
        norms.Lesson(2, "09:20", "10:00", "5А", band, 19 * MIN),
        norms.Lesson(1, "10:20", "11:00", "5Б", band, 19 * MIN),  # another class: its own day
        norms.Lesson(3, "11:20", "12:00", "5а", band, 19 * MIN),  # 63 minutes so far
        norms.Lesson(1, "12:10", "12:50", "5А", band, 18 * MIN),  # 81: past the day's 80
        norms.Lesson(2, "13:10", "13:50", "5А", band, 0),  # no screen work: not a finding
    ]
    found = norms.judge(day)
    assert [(x.start, x.over_lesson, x.over_day) for x in found] == [
        ("08:30", True, False),
        ("12:10", False, True),
    ]


# --- the daily check, against the stand-in --------------------------------------------------------------


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    log = tmp_path_factory.mktemp("main") / "stand-in.log"
    process = StandIn(TOKEN, ["--port", "0", "--timezone", ZONE, "--teacher", "anna=101"], log)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def lesson_now(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """A stand-in where anna's lesson in room 101 is always in progress (it began ten minutes ago)."""
    log = tmp_path_factory.mktemp("main") / "now.log"
    process = StandIn(TOKEN, ["--port", "0", "--timezone", ZONE, "--now-lesson", "anna:101"], log)
    yield process
    process.stop()


def _school(tmp_path: Path, standin: StandIn) -> tuple[Services, dict[str, Any]]:
    settings = {"data_dir": str(tmp_path / "controller"), "journal_url": standin.journal_url}
    svc = create_app({**settings, "main_token": TOKEN}).extensions["classcast"]

    def build(db: Any) -> dict[str, Any]:
        region = orgs.create_region(db, "77", "Москва")
        municipality = orgs.create_municipality(db, region, "ЦАО")
        school = orgs.create_school(db, municipality, "Школа № 7", "СОШ № 7", timezone=ZONE)
        rooms = {name: orgs.create_room(db, school, name) for name in ("101", "102")}
        return {"school": school, "rooms": rooms}

    ids = svc.db.write(build)
    ids["panels"] = [
        svc.db.write(panels.enroll_panel, ids["rooms"]["101"], name, _key(tmp_path, name))[0]
        for name in ("Панель 1", "Панель 2")
    ]
    ids["anna"] = svc.db.write(users.create_user, "anna", "correct horse battery", "Анна", "teacher",
                               "school", ids["school"])  # fmt: skip
    return svc, ids


@pytest.fixture
def school(tmp_path: Path, standin: StandIn) -> Iterator[tuple[Services, dict[str, Any]]]:
    svc, ids = _school(tmp_path, standin)
    yield svc, ids
    svc.main.close()
    svc.db.close()


@pytest.fixture
def school_in_lesson(tmp_path: Path, lesson_now: StandIn) -> Iterator[tuple[Services, dict[str, Any]]]:
    svc, ids = _school(tmp_path, lesson_now)
    yield svc, ids
    svc.main.close()
    svc.db.close()


def test_the_daily_check_keeps_the_lessons_over_a_norm_and_nothing_of_the_journal(
    school: tuple[Services, dict[str, Any]], standin: StandIn
) -> None:
    svc, ids = school
    day = _past_weekday()
    lessons = _stand_in_lessons(standin, day)
    first, second = lessons[0], lessons[1]
    one, two = ids["panels"]
    start1, start2 = _at(day, first["start"]), _at(day, second["start"])
    _shown(svc, one, [(start1, 15 * MIN, True), (start1 + 15 * MIN, 15 * MIN, True)])
    _shown(svc, two, [(start1 + 10 * MIN, 10 * MIN, True), (start2, 5 * MIN, True)])
    _shown(svc, one, [(start2 + 5 * MIN, 20 * MIN, False)])  # idle content: no screen work
    _cast_by(svc, ids["anna"], ids["rooms"]["101"], one, start1)

    assert norm_check.run_once(svc, today=day + timedelta(days=1)) == 1
    rows = list(svc.db.read.query("SELECT * FROM norm_lesson"))
    assert [
        (r["room_id"], r["day"], r["start"], r["end"], r["screen_s"], r["over_lesson"]) for r in rows
    ] == [(ids["rooms"]["101"], day.isoformat(), first["start"], first["end"], 30 * MIN, 1)]
    assert rows[0]["grades"] == _grades_label(first["class"])
    assert set(rows[0]) == {"school_id", "room_id", "day", "start", "end", "grades", "screen_s",
                            "lesson_limit_s", "day_limit_s", "over_lesson", "over_day"}  # fmt: skip
    checked = svc.db.read.execute("SELECT lessons, over FROM norm_day WHERE school_id = ?", [ids["school"]])
    assert checked.fetchall() == [(2, 1)]
    assert norm_check.run_once(svc, today=day + timedelta(days=1)) == 0  # a day is checked once
    asked = [e for e in _requests(standin) if e["path"].endswith("/teachers/anna/timetable")]
    assert asked and all(e["auth"] == "service" for e in asked)
    assert any(f"date={day.isoformat()}" in e["query"] for e in asked)


def test_nothing_is_checked_without_the_service_credential(
    school: tuple[Services, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    svc, ids = school
    _cast_by(svc, ids["anna"], ids["rooms"]["101"], ids["panels"][0], time.time() - 86400)
    svc.settings["main_credentials"] = "user"
    with caplog.at_level(logging.INFO, logger="controller.norm_check"):
        assert norm_check.run_once(svc) == 0
    assert "users' own tokens" in caplog.text
    assert svc.db.read.execute("SELECT count(*) FROM norm_day").fetchone()[0] == 0


def test_the_lesson_in_progress_says_how_it_stands_against_its_norm(
    school_in_lesson: tuple[Services, dict[str, Any]],
) -> None:
    svc, ids = school_in_lesson
    anna = users.get_user(svc.db.read, ids["anna"])
    now = journal.today(svc, anna)["now"]
    assert now["room_id"] == ids["rooms"]["101"] and now["class"] == "5А"
    start = _at(datetime.now(MSK).date(), now["start"])
    _shown(svc, ids["panels"][0], [(start, 8 * MIN, True)])
    assert journal.today(svc, anna)["now"]["norm"] == {
        "grades": "5–6",
        "lesson_limit_s": 20 * MIN,
        "used_s": 8 * MIN,
        "running": False,
        "over": False,
    }
    svc.db.write(room_casts.start, ids["rooms"]["101"], ids["anna"], {"kind": "text"}, {"blank": False})
    svc.settings["screen_time_norms"] = "5-6:5/80 7-11:25/100"
    norm = journal.today(svc, anna)["now"]["norm"]
    assert (norm["running"], norm["over"], norm["lesson_limit_s"]) == (True, True, 5 * MIN)
    assert 8 * MIN <= norm["used_s"] <= 8 * MIN + 60  # the cast began just now
    svc.db.write(room_casts.set_view, ids["rooms"]["101"], {"blank": True})
    assert journal.today(svc, anna)["now"]["norm"]["running"] is False  # a blank screen is no work


# --- helpers --------------------------------------------------------------------------------------------


def _key(tmp_path: Path, name: str) -> str:
    return ensure_identity(tmp_path / "panels" / name.replace(" ", "-")).public_key


def _past_weekday() -> date:
    """A weekday of the last week, over in every Russian time zone (the check's own window)."""
    day = datetime.now(MSK).date() - timedelta(days=2)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _at(day: date, hhmm: str) -> float:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MSK).timestamp()


def _grades_label(klass: str) -> str:
    grade = int(re.match(r"\d+", klass).group())  # type: ignore[union-attr]
    return {grade <= 3: "1–3", grade == 4: "4", 5 <= grade <= 6: "5–6", grade >= 7: "7–11"}[True]


def _stand_in_lessons(standin: StandIn, day: date) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{standin.journal_url}/api/v1/teachers/anna/timetable?date={day.isoformat()}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["lessons"]


def _requests(standin: StandIn) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{standin.url}/_stand-in/requests", timeout=10) as answer:
        return json.load(answer)["requests"]


_SEQ = iter(range(1, 10**6))


def _shown(svc: Services, panel_id: int, reports: list[tuple[float, float, bool]]) -> None:
    """Store the panel's `shown` reports, (start, seconds, lesson) each, as ingest stores a batch."""
    events = []
    for start, seconds, lesson in reports:
        seq = next(_SEQ)
        data = {"source": "cast" if lesson else "schedule", "kind": "image", "lesson": lesson}
        events.append({"id": f"spool-{panel_id}:{seq}", "type": "shown", "wall_time": start + seconds,
                       "mono_time": 1000.0 + seq, "clock_synced": True, "boot": "b00t",
                       "data": {**data, "duration_s": seconds}})  # fmt: skip
    body = json.dumps({"seq": next(_SEQ), "events": events}).encode()
    batch = parse_batch([TELEMETRY_PROTOCOL, FRAME_BATCH, body])
    received = max(e["wall_time"] for e in events) + 5
    svc.db.write(telemetry.store_batch, Receiver(panel_id, ZONE, None), batch, received)


def _cast_by(svc: Services, user_id: int, room_id: int, panel_id: int, when: float) -> None:
    at = datetime.fromtimestamp(when, ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = {"panel_id": panel_id, "room_id": room_id, "user_id": user_id, "kind": "url", "title": "Урок"}
    svc.db.write(lambda db: db["cast"].insert({**row, "status": "shown", "created_at": at}))
