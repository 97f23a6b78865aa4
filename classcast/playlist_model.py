"""The parts of a room's schedule (docs/playlists.md) as the evaluator uses them, and its errors.

Pure data with the small rules that belong to each part: an item's references and length, a playlist's
position at a moment, a day's bells, whether a condition holds. Times of day are whole seconds from
midnight (0 … 86400); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

from classcast.i18n import Message

DAY_SECONDS = 86_400
DEFAULT_SECONDS = 15.0  # an item's time on screen when neither it nor its playlist says
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_RU = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
# The words a rule's `during` may use besides the names of periods (docs/playlists.md).
BELL_WORDS = ("lessons", "breaks", "before_lessons", "after_lessons", "school_hours")

FieldPath = tuple[str | int, ...]
Span = tuple[int, int]  # [start, end) in seconds from midnight


def format_path(path: FieldPath) -> str:
    """Return `playlists[0].items[1].duration` for ("playlists", 0, "items", 1, "duration")."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def weekday_number(name: str) -> int:
    """Return 0 for "mon" or "пн", … 6 for "sun" or "вс"; ValueError for anything else."""
    if name in WEEKDAYS:
        return WEEKDAYS.index(name)
    return WEEKDAYS_RU.index(name)


def clock(seconds: float) -> str:
    """Return "08:30" for 30600 seconds from midnight."""
    minutes = int(seconds) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class PlaylistError(ValueError):
    """One fault of a schedule: its file, line (1-based, None when unknown), field and Russian message."""

    def __init__(self, file: str, line: int | None, path: FieldPath, message: Message | str) -> None:
        self.file, self.line, self.path, self.message = file, line, tuple(path), message
        super().__init__(str(self))

    @property
    def field(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        where = [self.file] if self.file else []
        if self.line is not None:
            where.append(f"строка {self.line}")
        if self.path:
            where.append(f"поле {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else str(self.message)


class ScheduleInvalid(ValueError):
    """A schedule refused; `errors` holds every fault found, not only the first."""

    def __init__(self, errors: list[PlaylistError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


class Ref(NamedTuple):
    """Content a schedule needs: ("material", "12"), ("sha256", "<hex>") or ("url", "https://…")."""

    form: str
    value: str


@dataclass(frozen=True)
class Item:
    """One entry of a playlist; `kind` is None for a material until the controller resolves it."""

    kind: str | None
    ref: Ref | None  # None for a text card
    text: str | None
    duration: float | None
    sound: bool
    lesson: bool
    title: str
    pages: tuple[str, ...] = ()  # a resolved PDF's page images (sha256)
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)  # as written

    def needs(self) -> set[Ref]:
        """Return the content the cache must hold before this item can be shown."""
        found = {self.ref} if self.ref is not None else set()
        return found | {Ref("sha256", page) for page in self.pages}

    def seconds(self, default: float, lengths: Mapping[Ref, float]) -> float:
        """Return how long the item stays: its duration, else its known length (a video's), else `default`."""
        if self.duration is not None:
            return self.duration
        known = lengths.get(self.ref) if self.ref is not None else None
        return known if known is not None and known > 0 else default


class Position(NamedTuple):
    """Where a looping playlist stands: the item, seconds into it, and seconds it has left."""

    index: int
    item: Item
    offset: float
    remaining: float


@dataclass(frozen=True)
class Playlist:
    name: str
    items: tuple[Item, ...]
    duration: float = DEFAULT_SECONDS  # of an item that gives none

    def needs(self) -> set[Ref]:
        return set().union(*(item.needs() for item in self.items))

    def position(self, elapsed: float, lengths: Mapping[Ref, float] | None = None) -> Position:
        """Return the item on screen `elapsed` seconds after the playlist started, looping.

        `lengths` are the lengths the player knows of items that give no duration (videos); until one
        is known the playlist's `duration` stands in for it, so the position stays a function of time.
        """
        spans = [item.seconds(self.duration, lengths or {}) for item in self.items]
        at = max(elapsed, 0.0) % sum(spans)
        for index, (item, span) in enumerate(zip(self.items, spans, strict=True)):
            if at < span:
                return Position(index, item, at, span - at)
            at -= span
        return Position(0, self.items[0], 0.0, spans[0])  # `at` was the whole loop but for rounding


@dataclass(frozen=True)
class Period:
    """A lesson (or a named break) of the bell schedule."""

    name: str
    start: int
    end: int
    is_break: bool = False

    @property
    def key(self) -> str:
        return self.name.strip().casefold()


@dataclass(frozen=True)
class DateSpan:
    """Days from `first` to `last`, both included; None is open on that side."""

    first: date | None
    last: date | None

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        return (self.first is None or self.first <= day) and (self.last is None or day <= self.last)

    def changes(self) -> list[date]:
        """Return the days on which being inside the span starts or stops."""
        found = [self.first] if self.first is not None else []
        if self.last is not None and self.last < date.max:
            found.append(self.last + timedelta(days=1))
        return found


@dataclass(frozen=True)
class Day:
    """A date as the schedule sees it: its lessons (none on a day off) and whether it is a holiday."""

    date: date
    periods: tuple[Period, ...]
    holiday: bool

    @property
    def school_day(self) -> bool:
        return bool(self.periods)


@dataclass(frozen=True)
class Bells:
    """The school's bell schedule and calendar: lessons per weekday, holidays, transferred workdays."""

    week: Mapping[int, tuple[Period, ...]]  # weekday (0 = Monday) → its periods in time order
    holidays: tuple[DateSpan, ...] = ()
    workdays: Mapping[date, int] = field(default_factory=dict)  # a date → the weekday whose bells it keeps

    def day(self, day: date) -> Day:
        """Return the day's bells: a transferred workday is a school day, not a holiday, inside one too."""
        if day in self.workdays:
            return Day(day, self.week.get(self.workdays[day], ()), holiday=False)
        holiday = any(day in span for span in self.holidays)
        return Day(day, () if holiday else self.week.get(day.weekday(), ()), holiday)

    def names(self) -> dict[str, str]:
        """Return every period's name, casefolded → as written."""
        return {period.key: period.name for periods in self.week.values() for period in periods}

    def changes(self) -> list[date]:
        days = [day for span in self.holidays for day in span.changes()]
        return days + [d for workday in self.workdays for d in (workday, workday + timedelta(days=1))]


def bell_spans(periods: tuple[Period, ...], word: str) -> list[Span]:
    """Return the spans of the day that a `during` word (or a period's casefolded name) stands for."""
    if not periods:
        return []  # bells mean nothing on a day without lessons, "before_lessons" included
    if word == "lessons":
        return [(p.start, p.end) for p in periods if not p.is_break]
    if word == "breaks":
        gaps = [(a.end, b.start) for a, b in pairwise(periods) if a.end < b.start]
        return sorted(gaps + [(p.start, p.end) for p in periods if p.is_break])
    if word == "before_lessons":
        return [(0, periods[0].start)]
    if word == "after_lessons":
        return [(periods[-1].end, DAY_SECONDS)]
    if word == "school_hours":
        return [(periods[0].start, periods[-1].end)]
    return [(p.start, p.end) for p in periods if p.key == word]


@dataclass(frozen=True)
class Condition:
    """When a rule or a screen window holds: every day test (None: any) and, if any, one of its spans."""

    days: frozenset[int] | None = None
    dates: tuple[DateSpan, ...] | None = None
    school_day: bool | None = None
    holiday: bool | None = None
    during: tuple[str, ...] | None = None  # casefolded bell words or period names
    times: tuple[Span, ...] | None = None

    def holds_on(self, day: Day) -> bool:
        return (
            (self.days is None or day.date.weekday() in self.days)
            and (self.dates is None or any(day.date in span for span in self.dates))
            and (self.school_day is None or day.school_day == self.school_day)
            and (self.holiday is None or day.holiday == self.holiday)
        )

    def spans(self, day: Day) -> list[Span]:
        """Return the parts of the day when the condition holds (none on a day it does not)."""
        if not self.holds_on(day):
            return []
        if self.during is None and self.times is None:
            return [(0, DAY_SECONDS)]
        found = [span for word in self.during or () for span in bell_spans(day.periods, word)]
        return [(start, end) for start, end in found + list(self.times or ()) if start < end]


@dataclass(frozen=True)
class Rule:
    condition: Condition
    playlist: str | None  # a playlist's casefolded name; None shows nothing
    priority: int
    index: int  # its place in the file: the first listed wins a tie


@dataclass(frozen=True)
class Screen:
    """When the display is on by schedule: inside any of `hours` (None: always), outside all of `off`."""

    hours: tuple[Condition, ...] | None = None
    off: tuple[Condition, ...] = ()
