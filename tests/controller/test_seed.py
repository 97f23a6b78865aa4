"""`classcast-controller seed`: a small region on a real SQLite file, checked against its own calendar."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller import seed
from controller.app import Services, create_app

UNTIL = date(2025, 12, 20)
OPTIONS = seed.Options(panels=60, days=120, until=UNTIL, password="seed password", random_seed=7)
_SUMS = """SELECT count(*), sum(heartbeats), sum(screen_on_s), sum(in_use_s), sum(lessons), sum(casts),
    sum(cast_s), sum(library_s), sum(max_temperature_c), sum(dropped_events), sum(recoveries)
    FROM panel_day"""


def _app(data_dir: Path) -> Services:
    return create_app({"data_dir": str(data_dir)}).extensions["classcast"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, seed.Summary]]:
    svc = _app(tmp_path_factory.mktemp("seed") / "controller")
    yield svc, seed.seed_region(svc, OPTIONS)
    svc.db.close()


def _rows(svc: Services, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return svc.db.read.execute(sql, params).fetchall()


def test_the_region_has_its_panels_schools_municipalities_and_accounts(seeded: Any) -> None:
    svc, summary = seeded
    region = _rows(svc, "SELECT id, name FROM region WHERE code = '99'")[0]
    assert region[1] == "Учебная область (пример)"
    assert _rows(svc, "SELECT count(*) FROM municipality WHERE region_id = ?", region[0]) == [(2,)]
    schools = _rows(
        svc, "SELECT count(*), count(DISTINCT ogrn), min(length(ogrn)), min(length(inn)) FROM school"
    )
    assert schools == [(len(summary.world.schools), len(summary.world.schools), 13, 10)]
    assert 2 <= len(summary.world.schools) <= 20  # about ten panels each
    states = dict(_rows(svc, "SELECT state, count(*) FROM panel GROUP BY state"))
    assert states["active"] == 60 and states["decommissioned"] >= 1
    assert {d for (d,) in _rows(svc, "SELECT DISTINCT school_days FROM school")} <= {"1-5", "1-6"}
    roles = dict(_rows(svc, "SELECT role, count(*) FROM user WHERE password_hash IS NOT NULL GROUP BY role"))
    assert roles == {"regional": 1, "municipal": 2, "school_it": len(summary.world.schools)}
    teachers = _rows(svc, "SELECT count(*), count(password_hash) FROM user WHERE role = 'teacher'")[0]
    assert teachers[0] >= 2 * 60 and teachers[1] == 0
    assert _rows(svc, "SELECT full_name FROM user WHERE login = 'r99-s1-t1'")[0][0].startswith("Учитель 1, ")


def test_dead_panels_stop_reporting_and_look_silent(seeded: Any) -> None:
    svc, summary = seeded
    dead = [p for p in summary.world.panels if p.dies_on is not None]
    assert dead
    silent_before = (datetime(UNTIL.year, UNTIL.month, UNTIL.day) - timedelta(days=30)).isoformat()
    reported = 0
    for panel in dead:
        days = "SELECT count(*), sum(day <= ?) FROM panel_day WHERE panel_id = ?"
        total, before = _rows(svc, days, panel.dies_on.isoformat(), panel.id)[0]
        assert total == (before or 0)
        reported += total
        (last_seen,) = _rows(svc, "SELECT last_seen_at FROM panel WHERE id = ?", panel.id)[0]
        assert last_seen < silent_before
    assert reported > 0  # one died during the window: it reported until then


def test_a_panel_paired_in_the_window_has_no_days_before_it(seeded: Any) -> None:
    svc, _ = seeded
    late = _rows(
        svc,
        "SELECT p.id, min(d.day), p.paired_at FROM panel p JOIN panel_day d ON d.panel_id = p.id"
        " WHERE p.paired_at > ? GROUP BY p.id",
        (UNTIL - timedelta(days=OPTIONS.days)).isoformat(),
    )
    assert late
    for _, first_day, paired_at in late:
        assert first_day >= paired_at[:10]  # Moscow is ahead of UTC: a pairing at 07:00 is the same day


def test_no_panel_is_in_use_on_a_holiday_of_its_region_or_municipality(seeded: Any) -> None:
    svc, _ = seeded
    holidays = """SELECT count(*), sum(d.in_use_s > 0) FROM panel_day d JOIN panel p ON p.id = d.panel_id
        JOIN school s ON s.id = p.school_id JOIN calendar_day c ON c.day = d.day AND c.kind = 'holiday'
        AND ((c.node_type = 'region') OR (c.node_type = 'municipality' AND c.node_id = s.municipality_id))"""
    powered, in_use = _rows(svc, holidays)[0]
    assert powered > 0 and in_use == 0  # panels left on over a holiday, but no lessons
    window = (UNTIL - timedelta(days=OPTIONS.days)).isoformat()
    kinds = dict(_rows(svc, "SELECT kind, count(*) FROM calendar_day WHERE day > ? GROUP BY kind", window))
    assert kinds["holiday"] > 20 and kinds["workday"] >= 1
    assert _rows(svc, "SELECT count(*) FROM calendar_day WHERE node_type = 'municipality'")[0][0] >= 7
    assert _rows(svc, "SELECT count(*) FROM panel_day WHERE in_use_s > 0")[0][0] > 60 * 30


def test_the_casts_of_each_panel_day_are_its_cast_rows(seeded: Any) -> None:
    svc, _ = seeded
    # Europe/Moscow is UTC+3 all year: a cast's school day is its UTC time three hours on.
    mismatched = """SELECT count(*) FROM panel_day d WHERE d.casts != (SELECT count(*) FROM "cast" c
        WHERE c.panel_id = d.panel_id AND date(c.created_at, '+3 hours') = d.day)"""
    assert _rows(svc, mismatched) == [(0,)]
    total = _rows(svc, "SELECT count(*), count(DISTINCT user_id) FROM \"cast\" WHERE status = 'shown'")[0]
    assert total[0] == _rows(svc, "SELECT sum(casts) FROM panel_day")[0][0] > 0
    assert total[0] == _rows(svc, "SELECT sum(casts) FROM cast_week")[0][0]
    never = _rows(
        svc, "SELECT count(*) FROM user WHERE role = 'teacher' AND id NOT IN (SELECT user_id FROM \"cast\")"
    )
    assert total[1] > 0 and never[0][0] > 0  # some teachers cast, some never do
    nested = "in_use_s > screen_on_s OR cast_s > in_use_s OR library_s > cast_s"
    assert _rows(svc, f"SELECT count(*) FROM panel_day WHERE {nested}") == [(0,)]
    assert _rows(svc, "PRAGMA foreign_key_check") == []
    assert _rows(svc, "PRAGMA integrity_check") == [("ok",)]


def test_seeding_a_region_code_again_is_refused(seeded: Any, capsys: pytest.CaptureFixture[str]) -> None:
    svc, _ = seeded
    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path)
    common.add_argument("--data-dir")
    seed.add_command(parser.add_subparsers(), common)
    args = parser.parse_args(["seed", "--panels", "10", "--days", "5", "--data-dir", str(svc.data_dir)])
    assert args.run(args) == 1
    assert "регион с кодом 99 уже есть" in capsys.readouterr().err
    assert _rows(svc, "SELECT count(*) FROM region") == [(1,)]


def test_the_same_random_seed_gives_the_same_days(seeded: Any, tmp_path: Path) -> None:
    svc, _ = seeded
    again, other = _app(tmp_path / "again"), _app(tmp_path / "other")
    try:
        seed.seed_region(again, OPTIONS)
        seed.seed_region(other, dataclasses.replace(OPTIONS, random_seed=8))
        assert _rows(again, _SUMS) == _rows(svc, _SUMS)
        assert _rows(other, _SUMS) != _rows(svc, _SUMS)
    finally:
        again.db.close()
        other.db.close()
