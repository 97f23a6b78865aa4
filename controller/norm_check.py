"""The daily check of the screen-time norms: each school's past days, once, with the journal's lessons.

A day is checked once it is over in the school's time zone, for the week after (a panel that was
offline sends its reports late); the lessons are those the teachers who cast that day gave, read from
the journal with the controller's service credential (a user's own token is not at hand at night, so
with `main_credentials = user` nothing is checked, and the log says so once). A school whose journal
answers no is tried again an hour later; a day checked is recorded, with its findings, in one
transaction (controller/norms.py).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from controller import journal, norms
from controller.rounds import every
from controller.timeutil import iso_from_unix
from controller.upstream import UpstreamError, teacher_id

log = logging.getLogger(__name__)

LOOK_EVERY_S = 3600.0
DAYS_BACK = 7  # a day is checked within a week of its end, or never

_CASTERS = """SELECT DISTINCT u.id, u.login, u.oidc_subject FROM "cast" c JOIN room r ON r.id = c.room_id
    JOIN user u ON u.id = c.user_id WHERE r.school_id = ? AND c.created_at >= ? AND c.created_at < ?"""
_TO_CHECK = """SELECT DISTINCT r.school_id FROM "cast" c JOIN room r ON r.id = c.room_id
    WHERE c.created_at >= ? AND c.created_at < ? AND NOT EXISTS (
        SELECT 1 FROM norm_day n WHERE n.school_id = r.school_id AND n.day = ?)"""


def check_day(svc: Any, school_id: int, day: date) -> int | None:
    """Check the school's lessons of `day` and keep what is over a norm; return how many were, or None
    when no teacher cast that day (nothing to check, nothing recorded).

    UpstreamError when the journal cannot be read: the day stays unchecked, to be tried again.
    """
    zone = journal.school_zone(svc, school_id)
    start, end = norms.day_bounds(day, zone)
    teachers = _casters(svc.db.read, school_id, start, end)
    if not teachers:
        return None
    table = norms.of_setting(svc.settings["screen_time_norms"])
    lessons = _lessons(svc, school_id, day, zone, table, teachers)
    panels: dict[int, list[int]] = {}
    for lesson in lessons:
        ids = panels.setdefault(lesson.room_id, norms.room_panels(svc.db.read, lesson.room_id))
        since, until = norms.clock(day, lesson.start, zone), norms.clock(day, lesson.end, zone)
        lesson.screen_s = norms.covered(norms.shown_spans(svc.db.read, ids, since, until), since, until)
    found = norms.judge(lessons)
    checked = sum(1 for lesson in lessons if lesson.screen_s > 0)
    svc.db.write(norms.save_day, school_id, day, checked, found)
    log.info("screen-time norms: school %d, %s: %d lessons over a norm", school_id, day, len(found))
    return len(found)


def run_once(svc: Any, today: date | None = None) -> int:
    """Check every day of the last week that some school cast on and is not checked yet; return how many."""
    if not svc.main.configured("journal"):
        return 0
    if svc.settings["main_credentials"] != "service":
        log.info("screen-time norms: not checked, the journal is read with users' own tokens only")
        return 0
    checked = 0
    today = today or date.today()
    for back in range(DAYS_BACK, 0, -1):
        day = today - timedelta(days=back)
        # Cast times are in UTC; a day anywhere in Russia lies within a day either side of it (the
        # school's own day is then found exactly by check_day).
        since, until = iso_from_unix(_utc(day) - 86400), iso_from_unix(_utc(day) + 2 * 86400)
        for (school_id,) in svc.db.read.execute(_TO_CHECK, [since, until, day.isoformat()]).fetchall():
            if _over_there(svc, school_id, day):
                checked += _try(svc, school_id, day)
    return checked


def run_forever(svc: Any) -> NoReturn:
    every(LOOK_EVERY_S, lambda: run_once(svc), "the screen-time norms check")


def _try(svc: Any, school_id: int, day: date) -> int:
    try:
        found = check_day(svc, school_id, day)
    except UpstreamError as exc:
        log.warning("screen-time norms: school %d, %s not checked: %s", school_id, day, exc)
        return 0
    return 0 if found is None else 1


def _over_there(svc: Any, school_id: int, day: date) -> bool:
    """Whether `day` has ended in the school's own time zone."""
    return datetime.now(journal.school_zone(svc, school_id)).date() > day


def _casters(db: Any, school_id: int, start: float, end: float) -> list[dict[str, Any]]:
    rows = db.execute(_CASTERS, [school_id, iso_from_unix(start), iso_from_unix(end)]).fetchall()
    return [{"id": row[0], "login": row[1], "oidc_subject": row[2]} for row in rows]


def _lessons(
    svc: Any, school_id: int, day: date, zone: ZoneInfo, table: norms.Norms, teachers: list[dict[str, Any]]
) -> list[norms.Lesson]:
    """Return the teachers' lessons of `day` in the school's rooms whose class has a norm, each once."""
    rooms = journal.room_ids(svc, school_id)
    found: dict[tuple[int, str, str, str], norms.Lesson] = {}
    for teacher in teachers:
        timetable = svc.main.get_json(
            "journal", journal.TIMETABLE, {"teacher": teacher_id(teacher)}, {"date": day.isoformat()}
        )
        for lesson in journal.lessons_of(timetable):
            room_id, band = rooms.get(lesson["room"].casefold()), table.of_class(lesson["class"])
            if room_id is None or band is None:
                continue
            key = (room_id, lesson["start"], lesson["end"], lesson["class"].casefold())
            start, end = lesson["start"], lesson["end"]
            found.setdefault(key, norms.Lesson(room_id, start, end, lesson["class"], band))
    return list(found.values())


def _utc(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("UTC")).timestamp()
