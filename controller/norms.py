"""Screen-time norms (SanPiN 1.2.3685-21): how long pupils may work with an interactive panel.

The rules limit the minutes per lesson and per school day by grade; the table is the
`screen_time_norms` setting. The screen time of a lesson is how long the room's panels showed lesson
content in it (a cast, or a schedule item marked as a lesson): the union of their `shown` reports,
and of the room's cast still going on, so two panels of one room count once.

Two uses. The teacher's page hears how the lesson in progress stands against its norm (journal.py
adds it to the timetable), so the remote can say so gently. And a day after, `check_day` compares
each lesson the school's casting teachers gave that day, read from the journal with the controller's
own credential, with the screen time reported in it; a lesson over its norm, or the one that took
its class past the day's, is kept as ClassCast's own finding: room, day, times, the grades of the
norm applied and the minutes. The class, subject, teacher and topic stay in memory for the check
and are never stored.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from classcast.settings import SettingsError
from controller.store.rollups import MAX_SPAN_S

log = logging.getLogger(__name__)

DEFAULT_TABLE = "1-3:10/30 4:15/45 5-6:20/80 7-11:25/100"  # the rules' own figures, in minutes
_BAND = re.compile(r"(\d{1,2})(?:-(\d{1,2}))?:(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")
_GRADE = re.compile(r"\s*(\d{1,2})(?!\d)")  # «7Б», «10-А», «1 класс»: the number that starts it


@dataclass(frozen=True)
class Band:
    """The norm of a run of grades: seconds of screen work a lesson and a day."""

    first: int
    last: int
    lesson_s: float
    day_s: float

    @property
    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}–{self.last}"


class Norms:
    """The table of `screen_time_norms`: "1-3:10/30 4:15/45 …", grades then minutes a lesson/a day."""

    def __init__(self, bands: list[Band]) -> None:
        self.bands = bands

    @classmethod
    def parse(cls, text: str) -> Norms:
        bands, seen = [], set()
        for entry in text.split():
            found = _BAND.fullmatch(entry)
            first = int(found.group(1)) if found else 0
            last = int(found.group(2) or first) if found else 0
            grades = set(range(first, last + 1))
            if not found or not 1 <= first <= last <= 11 or grades & seen:
                raise SettingsError(
                    f"screen_time_norms: {entry!r} must be GRADES:LESSON/DAY minutes, grades 1–11 not "
                    "repeated, e.g. 1-3:10/30 4:15/45 5-6:20/80 7-11:25/100"
                )
            seen |= grades
            bands.append(Band(first, last, float(found.group(3)) * 60, float(found.group(4)) * 60))
        return cls(bands)

    def of_class(self, name: str) -> Band | None:
        """Return the norm of a class by its name («7Б» is grade 7), or None if no grade is known."""
        found = _GRADE.match(name or "")
        grade = int(found.group(1)) if found else 0
        return next((band for band in self.bands if band.first <= grade <= band.last), None)


@functools.lru_cache(maxsize=4)
def of_setting(text: str) -> Norms:
    """Return the table of the `screen_time_norms` setting, read once (every timetable reading asks)."""
    return Norms.parse(text)


# --- screen time --------------------------------------------------------------------------------------


_SHOWN = """SELECT coalesce(json_extract(e.value, '$.time'), json_extract(e.value, '$.wall_time')),
        json_extract(e.value, '$.data.duration_s')
    FROM telemetry_batch b, json_each(b.events) e
    WHERE b.panel_id IN (SELECT value FROM json_each(?)) AND b.last_time >= ? AND b.first_time <= ?
        AND json_extract(e.value, '$.type') = 'shown'
        AND (json_extract(e.value, '$.data.lesson') OR json_extract(e.value, '$.data.source') = 'cast')"""


def room_panels(db: Any, room_id: int) -> list[int]:
    return [row[0] for row in db.execute("SELECT id FROM panel WHERE room_id = ?", [room_id])]


def shown_spans(db: Any, panel_ids: list[int], start: float, end: float) -> list[tuple[float, float]]:
    """Return the (from, to) of each lesson content the panels reported on screen between the times."""
    if not panel_ids:
        return []
    # A report's time is its end: one that ends after `end` may still have begun before it.
    args = [json.dumps(panel_ids), start, end + MAX_SPAN_S]
    spans = []
    for until, duration in db.execute(_SHOWN, args):
        since = until - min(max(duration or 0.0, 0.0), MAX_SPAN_S)
        if until > start and since < end:
            spans.append((since, until))
    return spans


def covered(spans: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Return the seconds between `start` and `end` that at least one span covers."""
    total, reach = 0.0, start
    for since, until in sorted(spans):
        since, until = max(since, reach), min(until, end)
        if until > since:
            total += until - since
            reach = until
    return total


def live_span(db: Any, room_id: int, now: float) -> tuple[float, float] | None:
    """Return the room's cast going on now as a span, unless its screens are blanked."""
    row = db.execute("SELECT started_at, view FROM room_cast WHERE room_id = ?", [room_id]).fetchone()
    if row is None or json.loads(row[1]).get("blank"):
        return None
    return (row[0], now)


# --- the lesson in progress, for the teacher's remote ---------------------------------------------------


def lesson_now(db: Any, norms: Norms, lesson: dict[str, Any], day: date, zone: ZoneInfo) -> dict | None:
    """Return how the lesson in progress stands against its norm, or None if it has none (no grade, no
    room of the school): the minutes allowed, the seconds of screen work so far, and whether the room's
    cast goes on (the page counts on from there)."""
    band = norms.of_class(lesson["class"])
    if band is None or lesson.get("room_id") is None:
        return None
    start, end = clock(day, lesson["start"], zone), clock(day, lesson["end"], zone)
    now = min(time.time(), end)
    spans = shown_spans(db, room_panels(db, lesson["room_id"]), start, now)
    live = live_span(db, lesson["room_id"], now)
    used = covered([*spans, *([live] if live else [])], start, now)
    return {
        "grades": band.label,
        "lesson_limit_s": band.lesson_s,
        "used_s": round(used),
        "running": live is not None,
        "over": used > band.lesson_s,
    }


def clock(day: date, hhmm: str, zone: ZoneInfo) -> float:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()


# --- the daily check ---------------------------------------------------------------------------------


@dataclass
class Lesson:
    """One lesson of the day while it is checked; only its room, times, norm and minutes are kept."""

    room_id: int
    start: str
    end: str
    klass: str  # in memory only: the day's total is per class
    band: Band
    screen_s: float = 0.0
    over_lesson: bool = False
    over_day: bool = False


def judge(lessons: list[Lesson]) -> list[Lesson]:
    """Mark each lesson over its norm, and those from which its class was over the day's; return those."""
    by_class: dict[str, list[Lesson]] = defaultdict(list)
    for lesson in lessons:
        lesson.over_lesson = lesson.screen_s > lesson.band.lesson_s
        by_class[lesson.klass.casefold()].append(lesson)
    for day in by_class.values():
        total = 0.0
        for lesson in sorted(day, key=lambda x: x.start):
            total += lesson.screen_s
            lesson.over_day = lesson.screen_s > 0 and total > lesson.band.day_s
    return [lesson for lesson in lessons if lesson.over_lesson or lesson.over_day]


def day_bounds(day: date, zone: ZoneInfo) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def save_day(db: Any, school_id: int, day: date, checked: int, found: list[Lesson]) -> None:
    """Replace the school's findings of `day` (a check done again replaces, never adds)."""
    db.execute("DELETE FROM norm_lesson WHERE school_id = ? AND day = ?", [school_id, day.isoformat()])
    for lesson in found:
        db.execute(
            """INSERT OR REPLACE INTO norm_lesson (school_id, room_id, day, start, "end", grades,
                   screen_s, lesson_limit_s, day_limit_s, over_lesson, over_day)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                school_id,
                lesson.room_id,
                day.isoformat(),
                lesson.start,
                lesson.end,
                lesson.band.label,
                round(lesson.screen_s),
                lesson.band.lesson_s,
                lesson.band.day_s,
                int(lesson.over_lesson),
                int(lesson.over_day),
            ],
        )
    db.execute(
        """INSERT OR REPLACE INTO norm_day (school_id, day, lessons, over, checked_at)
           VALUES (?, ?, ?, ?, ?)""",
        [school_id, day.isoformat(), checked, len(found), time.time()],
    )
