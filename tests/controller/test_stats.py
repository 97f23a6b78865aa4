"""The usage indicators on a small hand-made region whose right answers are worked out here.

The week under review is Monday 2 to Sunday 8 November 2026; Wednesday 4 November (Day of National
Unity) is a holiday of the region. School 1 works Monday to Friday, school 2 Monday to Saturday, so:

- school 1 has 4 school days (2, 3, 5, 6), school 2 has 5 (2, 3, 5, 6, 7);
- P1 (school 1) was registered long ago: it reported every weekday and showed lessons for 2 h on
  Monday, 2 h on Tuesday and 1 h on the holiday (use on a day off counts; the day off is not idle);
  it cast 1 h, half of it from the library;
- P2 (school 1) was paired on Wednesday: its school days are Thursday and Friday; it showed 1 h of
  lessons on Thursday, all of it a cast of an uploaded file (no library);
- P3 (school 2) last reported 40 days before Sunday: silent (and it was already silent a week earlier);
- P4 (school 2) reports every day and shows nothing;
- P5 (school 2) was decommissioned in September: it counts nowhere.

Registered 4; reporting 3/4; in use 2/4; hours (5 + 1) / (4 + 2 + 5 + 5) = 0.375; library 1800/5400.
Teachers: school 1 has three — one cast three times, one once, one never (and its IT coordinator's
casts are not a teacher's); school 2 has one who never cast: 2/4 cast, 1/4 three times or more.
The week before (26 October – 1 November): P1 reported on Monday with 1 h of lessons, P4 reported,
P2 was not registered yet: registered 3, reporting 2/3, in use 1/3.

Screen-time norms: school 1's days were checked (controller/norms.py), school 2's never were. Room 101
had two lessons over a norm on Monday and one on Thursday, room 102 none; the week before, school 1's
Tuesday was checked with nothing over. So 3 lessons over a norm in the region, municipality 1, school 1
and room 101; 0 in room 102; unknown (None) in municipality 2, school 2, room 201 and for each panel.
"""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from controller import norms
from controller.app import Services
from controller.stats import export, report, tally, weeks
from controller.stats.period import Period, PeriodError
from controller.stats.tally import Node

WEEK = Period(date(2026, 11, 2), date(2026, 11, 8))
TODAY = date(2026, 11, 23)
HOUR = 3600.0


def _day(db: Any, panel: int, day: str, in_use_h: float = 0, cast_h: float = 0, library_h: float = 0) -> None:
    db["panel_day"].insert(
        {
            "panel_id": panel,
            "day": day,
            "heartbeats": 500,
            "in_use_s": in_use_h * HOUR,
            "lessons": 1 if in_use_h else 0,
            "casts": 1 if cast_h else 0,
            "cast_s": cast_h * HOUR,
            "library_s": library_h * HOUR,
        }
    )


def _panel(db: Any, school: int, room: int, name: str, paired: str, **more: Any) -> int:
    row = {"school_id": school, "room_id": room, "name": name, "state": "active", "created_at": paired}
    return db["panel"].insert({**row, "paired_at": paired, **more}).last_pk


def _account(db: Any, login: str, role: str, school: int) -> int:
    row = {"login": login, "full_name": login, "role": role, "node_type": "school", "node_id": school}
    return db["user"].insert({**row, "created_at": "2025-08-01T00:00:00Z"}).last_pk


@pytest.fixture
def region(svc: Services) -> dict[str, int]:
    def build(db: Any) -> dict[str, int]:
        ids: dict[str, int] = {"region": db["region"].insert({"code": "77", "name": "Регион"}).last_pk}
        ids["m1"] = db["municipality"].insert({"region_id": ids["region"], "name": "Первый округ"}).last_pk
        ids["m2"] = db["municipality"].insert({"region_id": ids["region"], "name": "Второй округ"}).last_pk
        for key, municipality, days in (("s1", "m1", "1-5"), ("s2", "m2", "1-6")):
            school = {"municipality_id": ids[municipality], "name": key, "short_name": f"=СОШ {key}"}
            ids[key] = db["school"].insert({**school, "school_days": days}).last_pk
        ids["r1"] = db["room"].insert({"school_id": ids["s1"], "name": "101"}).last_pk
        ids["r2"] = db["room"].insert({"school_id": ids["s1"], "name": "102"}).last_pk
        ids["r3"] = db["room"].insert({"school_id": ids["s2"], "name": "201"}).last_pk
        db["calendar_day"].insert(
            {"node_type": "region", "node_id": ids["region"], "day": "2026-11-04", "kind": "holiday"}
        )
        ids["p1"] = _panel(db, ids["s1"], ids["r1"], "P1", "2025-09-01T08:00:00Z")
        ids["p2"] = _panel(db, ids["s1"], ids["r2"], "P2", "2026-11-04T09:00:00Z")
        ids["p3"] = _panel(db, ids["s2"], ids["r3"], "P3", "2025-09-01T08:00:00Z")
        ids["p4"] = _panel(db, ids["s2"], ids["r3"], "P4", "2025-09-01T08:00:00Z")
        ids["p5"] = _panel(
            db, ids["s2"], ids["r3"], "P5", "2025-09-01T08:00:00Z",
            state="decommissioned", decommissioned_at="2026-09-10T08:00:00Z",
        )  # fmt: skip
        for day in ("2026-11-02", "2026-11-03", "2026-11-05", "2026-11-06"):
            _day(db, ids["p1"], day, in_use_h=2 if day < "2026-11-04" else 0)
        _day(db, ids["p1"], "2026-11-04", in_use_h=1, cast_h=1, library_h=0.5)
        _day(db, ids["p1"], "2026-10-26", in_use_h=1)
        for day in ("2026-11-04", "2026-11-06"):
            _day(db, ids["p2"], day)
        _day(db, ids["p2"], "2026-11-05", in_use_h=1, cast_h=0.5)
        _day(db, ids["p3"], "2026-09-29")
        for n in range(14):
            _day(db, ids["p4"], (date(2026, 10, 26) + timedelta(days=n)).isoformat())
        _day(db, ids["p5"], "2026-09-05", in_use_h=3)
        teachers = [_account(db, f"t{n}", "teacher", ids["s1"]) for n in range(3)]
        _account(db, "t-s2", "teacher", ids["s2"])
        coordinator = _account(db, "it", "school_it", ids["s1"])
        for user, times in ((teachers[0], 3), (teachers[1], 1), (coordinator, 4)):
            for n in range(times):  # a cast to room 101 at 10:00 UTC, 13:00 in Moscow
                at = f"2026-11-0{2 + n}T10:00:00Z"
                cast = {"panel_id": ids["p1"], "room_id": ids["r1"], "user_id": user, "kind": "url"}
                db["cast"].insert({**cast, "title": "Урок", "status": "shown", "created_at": at})
        weeks.rebuild(db)  # as after a bulk load: each teacher's casts by their school's week
        _norm_findings(db, ids)
        return ids

    return svc.db.write(build)


def _norm_findings(db: Any, ids: dict[str, int]) -> None:
    grade_5 = norms.Band(5, 6, 20 * 60, 80 * 60)
    over = [norms.Lesson(ids["r1"], start, end, "5А", grade_5, 25 * 60, True) for start, end in
            (("08:30", "09:15"), ("09:25", "10:10"))]  # fmt: skip
    norms.save_day(db, ids["s1"], date(2026, 11, 2), 3, over)
    later = norms.Lesson(ids["r1"], "11:20", "12:05", "7Б", norms.Band(7, 11, 1500, 6000), 1000, False, True)
    norms.save_day(db, ids["s1"], date(2026, 11, 5), 4, [later])
    norms.save_day(db, ids["s1"], date(2026, 10, 27), 2, [])


def _figures(svc: Services, node: Node, period: Period, *levels: str) -> dict:
    scope = tally.load_scope(svc.db.read, node, period.previous.start, period.end, svc.settings, TODAY)
    return {
        key: t.values() for key, t in tally.count(svc.db.read, scope, period, levels or [node.level]).items()
    }


def test_each_indicator_of_the_region_for_a_week_with_a_holiday(svc: Services, region: dict) -> None:
    figures = _figures(svc, Node("region", region["region"]), WEEK)[("region", region["region"])]
    assert figures == {
        "registered": 4,
        "reporting": 0.75,
        "in_use": 0.5,
        "hours": pytest.approx(6 / 16),
        "teachers_casting": 0.5,
        "teachers_casting_3": 0.25,
        "library_share": pytest.approx(1 / 3),
        "silent": 1,
        "over_norm": 3,
    }


def test_each_level_below_counts_its_own_panels_and_teachers(svc: Services, region: dict) -> None:
    figures = _figures(svc, Node("region", region["region"]), WEEK, "municipality", "school", "room", "panel")
    assert figures[("municipality", region["m1"])]["hours"] == pytest.approx(6 / 6)  # P1 4 days, P2 2
    assert figures[("school", region["s1"])]["teachers_casting"] == pytest.approx(2 / 3)
    assert figures[("school", region["s1"])]["teachers_casting_3"] == pytest.approx(1 / 3)
    assert figures[("school", region["s2"])]["teachers_casting"] == 0
    assert figures[("school", region["s2"])]["silent"] == 1
    assert figures[("room", region["r2"])] == {
        "registered": 1,
        "reporting": 1.0,
        "in_use": 1.0,
        "hours": 0.5,  # paired mid-week: its 1 h over its own 2 school days
        "teachers_casting": None,  # teachers belong to the school, not to a room
        "teachers_casting_3": None,
        "library_share": 0.0,
        "silent": 0,
        "over_norm": 0,  # its school's days were checked: none of its lessons was over a norm
    }
    assert figures[("room", region["r1"])]["over_norm"] == 3
    assert figures[("room", region["r3"])]["over_norm"] is None  # school 2 was never checked
    assert figures[("municipality", region["m1"])]["over_norm"] == 3
    assert figures[("municipality", region["m2"])]["over_norm"] is None
    assert figures[("panel", region["p1"])]["over_norm"] is None  # a lesson is the room's
    assert ("panel", region["p5"]) not in figures  # decommissioned before the week


def test_the_week_before_and_the_direction_of_change(svc: Services, region: dict) -> None:
    node = Node("region", region["region"])
    before = _figures(svc, node, WEEK.previous)[("region", region["region"])]
    assert (before["registered"], before["reporting"], before["in_use"]) == (3, pytest.approx(2 / 3), 1 / 3)
    assert before["silent"] == 1  # P3: 33 days by 1 November
    answer = report.build(svc.db.read, node, WEEK, svc.settings, TODAY, Node("all", 0))
    in_use = answer["summary"]["in_use"]
    assert (in_use["direction"], in_use["better"], in_use["band"]) == ("up", True, "yellow")
    assert answer["summary"]["reporting"]["band"] == "yellow"  # 75 % between 50 and 90
    assert answer["summary"]["teachers_casting_3"]["band"] == "red"  # 25 %
    over_norm = answer["summary"]["over_norm"]  # 0 the week before, 3 now: fewer is better
    assert (over_norm["previous"], over_norm["direction"], over_norm["better"]) == (0, "up", False)
    assert [row["name"] for row in answer["children"]["rows"]] == ["Второй округ", "Первый округ"]
    assert [crumb["level"] for crumb in answer["path"]] == ["all", "region"]


def test_a_period_that_is_not_whole_weeks_reads_its_days(svc: Services, region: dict) -> None:
    node = Node("school", region["s1"])
    figures = _figures(svc, node, Period(date(2026, 11, 3), date(2026, 11, 5)))[("school", region["s1"])]
    # Tuesday to Thursday: P1 has Tuesday and Thursday (2 h + 1 h on the holiday), P2 Thursday (1 h).
    assert (figures["registered"], figures["hours"]) == (2, pytest.approx(4 / 3))
    assert figures["teachers_casting"] == pytest.approx(2 / 3)  # a teacher's share is of whole weeks


def test_the_weekly_table_follows_every_change_of_the_daily_one(svc: Services, region: dict) -> None:
    def change(db: Any) -> None:
        db.execute("UPDATE panel_day SET in_use_s = in_use_s + 60, heartbeats = 0 WHERE day = '2026-11-02'")
        db.execute("DELETE FROM panel_day WHERE day = '2026-11-03'")  # a delete is not a rollup's: none

    svc.db.write(change)
    weekly = svc.db.read.execute(
        "SELECT sum(in_use_s), sum(heartbeats) FROM panel_week WHERE panel_id = ? AND week = '2026-11-02'",
        [region["p1"]],
    ).fetchone()
    daily = svc.db.read.execute(
        "SELECT sum(in_use_s) + 2 * 3600, sum(heartbeats) + 500 FROM panel_day"
        " WHERE panel_id = ? AND day BETWEEN '2026-11-02' AND '2026-11-08'",
        [region["p1"]],
    ).fetchone()
    assert weekly == daily


def test_the_trend_gives_each_week_its_own_figures(svc: Services, region: dict) -> None:
    node = Node("region", region["region"])
    scope = tally.load_scope(svc.db.read, node, date(2026, 10, 26), WEEK.end, svc.settings, TODAY)
    values = tally.trend(svc.db.read, scope, [date(2026, 10, 26), date(2026, 11, 2)])
    assert values["registered"] == [3, 4]
    assert values["in_use"] == [pytest.approx(1 / 3), 0.5]
    assert values["hours"][1] == pytest.approx(6 / 16)
    assert values["teachers_casting"] == [0.0, 0.5]
    assert values["over_norm"] == [0, 3]


def test_the_xlsx_has_a_sheet_per_level_with_the_period_and_names_as_text(
    svc: Services, region: dict
) -> None:
    header, parts = export.sheets(svc.db.read, Node("region", region["region"]), WEEK, svc.settings, TODAY)
    book = openpyxl.load_workbook(io.BytesIO(export.write_xlsx(header, parts)))
    assert book.sheetnames == ["Регионы", "Муниципалитеты", "Школы", "Кабинеты", "Панели"]
    schools = book["Школы"]
    assert schools["A2"].value == "Период: 02.11.2026 — 08.11.2026"
    assert schools["A6"].value == "Название" and schools["C6"].value == "Зарегистрировано панелей"
    names = [row[0].value for row in schools.iter_rows(min_row=7)]
    assert names == ["=СОШ s1", "=СОШ s2"]
    assert schools["A7"].data_type == "s"  # a name starting with "=" stays text
    assert schools["E7"].value == 1.0 and schools["E7"].number_format == "0.0%"  # reporting, school 1
    csv_text = export.write_csv(header, parts[2]).decode("utf-8-sig")
    assert "'=СОШ s1;Первый округ;2;1;100,0;" in csv_text


def test_a_bad_period_is_refused_in_words() -> None:
    with pytest.raises(PeriodError, match="раньше"):
        Period.parse("2026-11-08", "2026-11-01", TODAY)
    with pytest.raises(PeriodError, match="ГГГГ-ММ-ДД"):
        Period.parse("08.11.2026", None, TODAY)
    assert Period.parse(None, None, TODAY) == Period(date(2026, 11, 16), date(2026, 11, 22))


def test_the_cli_writes_any_report_with_a_progress_bar(svc: Services, region: dict, tmp_path: Any) -> None:
    out = tmp_path / "schools.csv"
    argv = [sys.executable, "-m", "controller", "report", "--data-dir", svc.settings["data_dir"]]
    argv += ["--level", "municipality", "--id", str(region["m1"]), "-o", str(out)]
    done = subprocess.run([*argv, "--start", "2026-11-02", "--end", "2026-11-08", "--format", "csv"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Статистика использования: Первый округ"
    assert lines[-1].startswith("'=СОШ s1;Первый округ;2;1;")
    assert "запись" in done.stderr  # tqdm's bar
    refused = subprocess.run([*argv, "--start", "2026-11-08", "--end", "2026-11-01"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1 and "Конец периода раньше его начала" in refused.stderr


def test_the_scheduled_reports_come_every_two_weeks_into_the_named_folder(
    svc: Services, region: dict, tmp_path: Any
) -> None:
    from controller.stats import schedule

    monday = datetime(2026, 11, 16, 3, tzinfo=UTC).timestamp()
    svc.settings["stats_export_dir"] = str(tmp_path / "reports")
    files = schedule.run_once(svc, now=monday)
    assert sorted(path.name for path in files) == [
        "77 Второй округ.xlsx",
        "77 Первый округ.xlsx",
        "77 Регион.xlsx",
    ]
    assert files[0].parent.name == "2026-11-15"  # two complete weeks: 2 to 15 November
    book = openpyxl.load_workbook(files[0])
    assert book.worksheets[0]["A2"].value == "Период: 02.11.2026 — 15.11.2026"
    assert schedule.run_once(svc, now=monday + 13 * 86400) is None  # not due yet
    assert len(schedule.run_once(svc, now=monday + 14 * 86400)) == 3
    assert not list((tmp_path / "reports").rglob("*.part"))


def test_a_vacation_week_judges_no_panel_and_no_teacher(svc: Services, region: dict) -> None:
    def vacation(db: Any) -> None:
        for n in range(7):  # 19 to 25 October, the region's autumn vacation
            day = (date(2026, 10, 19) + timedelta(days=n)).isoformat()
            db["calendar_day"].insert(
                {"node_type": "region", "node_id": region["region"], "day": day, "kind": "holiday"}
            )

    node = Node("region", region["region"])
    week = Period(date(2026, 10, 19), date(2026, 10, 25))
    assert _figures(svc, node, week)[("region", region["region"])]["in_use"] == 0.0  # before: 3 idle panels
    svc.db.write(vacation)
    figures = _figures(svc, node, week)[("region", region["region"])]
    assert figures["registered"] == 3
    assert [figures[name] for name in ("reporting", "in_use", "hours", "teachers_casting")] == [None] * 4
    scope = tally.load_scope(svc.db.read, node, week.start, WEEK.end, svc.settings, TODAY)
    trend = tally.trend(svc.db.read, scope, [week.start, date(2026, 10, 26)])
    assert trend["in_use"] == [None, pytest.approx(1 / 3)] and trend["teachers_casting"] == [None, 0.0]
