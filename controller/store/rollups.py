"""Daily figures per panel, kept up to date by ingest from the events it stores (the statistics read them).

Days and hours are the school's, in its time zone. A span (`shown`, `screen`) ends at its event's
corrected time and lasted `duration_s`; its seconds are split at hour and day boundaries. Counts of
lessons and casts go to the day a showing began (its report with `part` 0). Ingest calls `add` only
for events it had not held, so every figure counts each event once. docs/protocol.md defines them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

MAX_SPAN_S = 86400.0  # a longer report is cut: no showing is reported less often than daily
COUNTS = ("heartbeats", "lessons", "casts", "dropped_events", "recoveries")
SECONDS = ("screen_on_s", "in_use_s", "cast_s", "library_s")
_DAY_COLUMNS = (*COUNTS, *SECONDS, "max_temperature_c")

_UPSERT_DAY = (
    f"INSERT INTO panel_day (panel_id, day, {', '.join(_DAY_COLUMNS)})"
    f" VALUES (?, ?, {', '.join('?' for _ in _DAY_COLUMNS)})"
    " ON CONFLICT (panel_id, day) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in (*COUNTS, *SECONDS))
    + ", max_temperature_c = coalesce(max(max_temperature_c, excluded.max_temperature_c),"
    " max_temperature_c, excluded.max_temperature_c)"
)
_UPSERT_HOUR = (
    "INSERT INTO panel_hour (panel_id, day, hour, screen_on_s, in_use_s) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (panel_id, day, hour) DO UPDATE SET screen_on_s = screen_on_s + excluded.screen_on_s,"
    " in_use_s = in_use_s + excluded.in_use_s"
)


class Calendar:
    """The days and hours of one time zone; remembers the last day asked, the usual next answer."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._day = (0.0, 0.0, "")  # [start, end) of the last day looked up, and its date

    def day(self, t: float) -> str:
        """Return the date (YYYY-MM-DD) at Unix time `t`."""
        start, end, day = self._day
        if start <= t < end:
            return day
        local = datetime.fromtimestamp(t, self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        following = midnight + timedelta(days=1)
        self._day = (midnight.timestamp(), following.timestamp(), midnight.date().isoformat())
        return self._day[2]

    def hours(self, start: float, end: float) -> Iterator[tuple[str, int, float]]:
        """Yield (date, hour, seconds) of the span from `start` to `end`, split at hour boundaries."""
        t = start
        while t < end:
            local = datetime.fromtimestamp(t, self.zone)
            boundary = local.replace(minute=0, second=0, microsecond=0).timestamp() + 3600
            until = min(end, boundary)
            yield local.date().isoformat(), local.hour, until - t
            t = until


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Figures:
    """The day and hour figures of one batch of one panel, summed before they are written."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.days: dict[str, dict[str, float | None]] = {}
        self.hours: dict[tuple[str, int], list[float]] = {}

    def of_day(self, day: str) -> dict[str, float | None]:
        if day not in self.days:
            self.days[day] = dict.fromkeys(_DAY_COLUMNS, 0.0) | {"max_temperature_c": None}
        return self.days[day]

    def add(self, event: Any) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    def spread(self, event: Any, column: str, hourly: int | None = None) -> None:
        """Add the seconds of `event`'s span to `column` of each day (and hour, if `hourly` names one)."""
        duration = min(max(event.data.duration_s or 0.0, 0.0), MAX_SPAN_S)
        for day, hour, seconds in self.calendar.hours(event.time - duration, event.time):
            figures = self.of_day(day)
            figures[column] = (figures[column] or 0.0) + seconds
            if hourly is not None:
                self.hours.setdefault((day, hour), [0.0, 0.0])[hourly] += seconds

    def first_day(self, event: Any) -> dict[str, float | None] | None:
        """Return the figures of the day a showing began, if `event` is its first report."""
        if event.data.part:
            return None
        duration = min(max(event.data.duration_s or 0.0, 0.0), MAX_SPAN_S)
        return self.of_day(self.calendar.day(event.time - duration))


def _shown(figures: Figures, event: Any) -> None:
    data = event.data
    first = figures.first_day(event)
    if data.lesson:
        figures.spread(event, "in_use_s", hourly=1)
        if first is not None:
            first["lessons"] = (first["lessons"] or 0) + 1
    if data.source == "cast":
        figures.spread(event, "cast_s")
        if data.library:
            figures.spread(event, "library_s")
        if first is not None:
            first["casts"] = (first["casts"] or 0) + 1


def _screen(figures: Figures, event: Any) -> None:
    if event.data.on:
        figures.spread(event, "screen_on_s", hourly=0)


def _count(column: str, amount: Any = None) -> Any:
    def handler(figures: Figures, event: Any) -> None:
        day = figures.of_day(figures.calendar.day(event.time))
        day[column] = (day[column] or 0) + (amount(event) if amount else 1)

    return handler


_HANDLERS = {
    "shown": _shown,
    "screen": _screen,
    "recovery": _count("recoveries"),
    "dropped": _count("dropped_events", lambda event: event.data.count or 0),
}


def _add_heartbeats(figures: Figures, events: list[Any]) -> list[Any]:
    """Count the heartbeats of `events` (most of them, and the simplest); return the other events."""
    heartbeats = [event for event in events if event.kind == "heartbeat"]
    if not heartbeats:
        return events
    others = [event for event in events if event.kind != "heartbeat"] if len(heartbeats) < len(events) else []
    calendar = figures.calendar
    first, last = calendar.day(min(e.time for e in heartbeats)), calendar.day(max(e.time for e in heartbeats))
    by_day = {first: heartbeats} if first == last else _by_day(calendar, heartbeats)
    for day, of_day in by_day.items():
        figures_of_day = figures.of_day(day)
        figures_of_day["heartbeats"] = (figures_of_day["heartbeats"] or 0) + len(of_day)
        temperatures = [t for e in of_day if (t := e.data.temperature_c) is not None]
        known = figures_of_day["max_temperature_c"]
        if temperatures and (known is None or max(temperatures) > known):
            figures_of_day["max_temperature_c"] = max(temperatures)
    return others


def _by_day(calendar: Calendar, events: list[Any]) -> dict[str, list[Any]]:
    days: dict[str, list[Any]] = {}
    for event in events:
        days.setdefault(calendar.day(event.time), []).append(event)
    return days


def add(db: Database, panel_id: int, timezone: str, events: list[Any]) -> None:
    """Add the figures of `events` (stored now, never before, with corrected times) to the panel's days.

    `timezone` is the panel's school's.
    """
    figures = Figures(Calendar(_zone(timezone)))
    others = _add_heartbeats(figures, events)
    for event in others:
        figures.add(event)
    db.conn.executemany(
        _UPSERT_DAY,
        [(panel_id, day, *(values[c] for c in _DAY_COLUMNS)) for day, values in figures.days.items()],
    )
    if figures.hours:
        db.conn.executemany(
            _UPSERT_HOUR, [(panel_id, day, hour, *values) for (day, hour), values in figures.hours.items()]
        )
