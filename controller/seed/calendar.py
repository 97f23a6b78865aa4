"""The seed's calendar: the days it fills, and the Russian production calendar and school year that
tell which of them are school days in the region and in each municipality."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_S = 86400.0
ISO = "%Y-%m-%dT%H:%M:%SZ"  # as controller.timeutil writes times

Calendar = dict[date, tuple[str, str]]  # a level's exceptions: day -> (kind, name)


@dataclass(frozen=True)
class Window:
    """The days seeded, each with its local midnight and the seconds of it gone by when seeding."""

    dates: list[date]
    isos: list[str]
    mondays: list[str]  # of each day's week
    midnights: list[float]
    passed_s: list[float]
    zone: ZoneInfo

    @classmethod
    def ending(cls, until: date, days: int, zone: ZoneInfo, now: float) -> Window:
        dates = [until - timedelta(days=n) for n in range(days - 1, -1, -1)]
        mondays = [(d - timedelta(days=d.weekday())).isoformat() for d in dates]
        midnights = [datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() for d in dates]
        passed = [max(0.0, min(DAY_S, now - m)) for m in midnights]
        return cls(dates, [d.isoformat() for d in dates], mondays, midnights, passed, zone)

    def at(self, day: date, seconds: float) -> float:
        """Return the Unix time `seconds` after local midnight of `day`."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp() + seconds

    def iso(self, days_before: float) -> str:
        """Return the time (ISO, UTC) `days_before` the window's first day began."""
        return time.strftime(ISO, time.gmtime(self.midnights[0] - days_before * DAY_S))


def iso(t: float | None) -> str | None:
    """Return the Unix time `t` as ISO in UTC (None stays None)."""
    return None if t is None else time.strftime(ISO, time.gmtime(t))


# --- Facts of the Russian production calendar and of the school year ------------------------------------

_FEDERAL = {
    **{(1, d): "Новогодние каникулы" for d in (1, 2, 3, 4, 5, 6, 8)},
    (1, 7): "Рождество Христово",
    (2, 23): "День защитника Отечества",
    (3, 8): "Международный женский день",
    (5, 1): "Праздник Весны и Труда",
    (5, 9): "День Победы",
    (6, 12): "День России",
    (11, 4): "День народного единства",
}
# The days off the government's yearly decree moves (January's that fall on a weekend, and bridges) and
# the Saturdays worked for them. A year not listed gets only the Labour Code's rule (_federal_days_off).
_DECREE_DAYS_OFF = {
    2023: ((2, 24), (5, 8)),
    2024: ((4, 29), (4, 30), (5, 10), (12, 30), (12, 31)),
    2025: ((5, 2), (11, 3), (12, 31)),
    2026: ((1, 9), (12, 31)),
}
_DECREE_WORKDAYS = {2024: ((4, 27), (11, 2), (12, 28)), 2025: ((11, 1),)}
_MOVED = "Перенесённый выходной день"


def _federal_days_off(year: int) -> dict[date, str]:
    """Return the federal non-working days of `year` with their names (the holidays even on a weekend)."""
    days = {date(year, m, d): name for (m, d), name in _FEDERAL.items()}
    days.update({date(year, m, d): _MOVED for m, d in _DECREE_DAYS_OFF.get(year, ())})
    # Labour Code art. 112: a holiday outside January that falls on a weekend moves to the next working day.
    for m, d in _FEDERAL:
        day = date(year, m, d)
        if m > 1 and day.isoweekday() > 5:
            moved = day + timedelta(days=1)
            while moved.isoweekday() > 5 or moved in days:
                moved += timedelta(days=1)
            days[moved] = _MOVED
    return days


def _vacations(year: int) -> list[tuple[date, date, str]]:
    """Return the school vacations of `year` (first day, last day, name), as the ministry recommends them."""
    autumn, spring = _saturday_before(date(year, 10, 26)), _saturday_before(date(year, 3, 23))
    return [
        (date(year, 1, 1), date(year, 1, 11), "Зимние каникулы"),
        (spring, spring + timedelta(days=8), "Весенние каникулы"),
        (date(year, 6, 1), date(year, 8, 31), "Летние каникулы"),
        (autumn, autumn + timedelta(days=8), "Осенние каникулы"),
        (date(year, 12, 29), date(year, 12, 31), "Зимние каникулы"),
    ]


def _saturday_before(day: date) -> date:
    return day - timedelta(days=(day.isoweekday() - 6) % 7)


def region_calendar(first: date, last: date) -> Calendar:
    """Return the region's calendar exceptions in the years from `first` to `last`."""
    days: Calendar = {}
    for year in range(first.year, last.year + 1):
        for start, end, name in _vacations(year):
            days.update((start + timedelta(days=n), ("holiday", name)) for n in range((end - start).days + 1))
        days.update((day, ("holiday", name)) for day, name in _federal_days_off(year).items())
        for m, d in _DECREE_WORKDAYS.get(year, ()):  # a vacation day stays one
            days.setdefault(date(year, m, d), ("workday", "Рабочая суббота (перенос выходного дня)"))
    return days


def municipal_calendars(
    rng: random.Random, municipality_ids: list[int], region: Calendar, window: list[date]
) -> dict[int, Calendar]:
    """Return a quarantine week (worked off on a Saturday) in one municipality and a city day in another."""
    calendars: dict[int, Calendar] = {m: {} for m in municipality_ids}
    picked = rng.sample(municipality_ids, min(2, len(municipality_ids)))
    ordinary = {d for d in window if d not in region}
    weeks = [d for d in sorted(ordinary) if d.isoweekday() == 1 and _free(ordinary, d, (*range(6), 19))]
    if weeks:
        monday = rng.choice([d for d in weeks if d.month in (1, 2, 3)] or weeks)  # the flu comes in winter
        for n in range(6):
            calendars[picked[0]][monday + timedelta(days=n)] = ("holiday", "Карантин по гриппу и ОРВИ")
        worked = ("workday", "Отработка учебного дня после карантина")
        calendars[picked[0]][monday + timedelta(days=19)] = worked
    fridays = [d for d in sorted(ordinary) if d.isoweekday() == 5]
    if fridays:
        day = rng.choice([d for d in fridays if d.month == 9] or fridays)
        calendars[picked[-1]][day] = ("holiday", "День города")
    return calendars


def _free(ordinary: set[date], monday: date, offsets: tuple[int, ...]) -> bool:
    return all(monday + timedelta(days=n) in ordinary for n in offsets)


def school_days(window: list[date], weekdays: frozenset[int], *levels: Calendar) -> list[bool]:
    """Return, for each day of `window`, whether it is a school day; the nearer level's exception wins."""
    exceptions: Calendar = {}
    for level in levels:
        exceptions.update(level)
    return [exceptions[d][0] == "workday" if d in exceptions else d.isoweekday() in weekdays for d in window]
