"""A room's schedule, evaluated: what plays and whether the screen is on at a given local time.

The format is docs/playlists.md. `Schedule.from_dict` takes the document as a plain dict (as the
controller sends it in the panel's desired state) and `Schedule.at` answers for a moment passed in:
nothing here reads a clock, because a panel without a real-time clock may not know the time yet.
This module imports neither YAML nor jsonschema, so the player can use it within its memory budget;
reading and checking files is `classcast.playlist_check` (`python -m classcast.playlist check FILE…`).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

from classcast.playlist_model import (
    DAY_SECONDS,
    Bells,
    Condition,
    Day,
    Item,
    Playlist,
    PlaylistError,
    Position,
    Ref,
    ScheduleInvalid,
    Span,
)
from classcast.playlist_parse import parse

__all__ = [
    "Item",
    "Playlist",
    "PlaylistError",
    "Position",
    "Ref",
    "Schedule",
    "ScheduleInvalid",
    "Segment",
    "Slot",
]


class Segment(NamedTuple):
    """A stretch of one day, [start, end) in seconds from midnight, with one playlist and screen state."""

    start: int
    end: int
    playlist: str | None  # the playlist's casefolded name; None: nothing by schedule
    screen: bool  # on by schedule


@dataclass(frozen=True)
class Slot:
    """What the schedule says at a moment, and for how long it stays so.

    `since` is when it began (at the latest midnight: a playlist on past midnight starts again then),
    the moment a looping playlist's position counts from. `until` is the next moment anything changes
    (another playlist, the screen switched, midnight under a playlist), None when nothing ever does.
    """

    playlist: Playlist | None
    screen: bool
    since: datetime
    until: datetime | None

    def position(self, local: datetime, lengths: Mapping[Ref, float] | None = None) -> Position | None:
        """Return the playlist's item on screen at `local` (within this slot), or None without one."""
        if self.playlist is None:
            return None
        return self.playlist.position((local - self.since).total_seconds(), lengths)


class Schedule:
    """A checked schedule; build it with `from_dict`. Answers are memoised per kind of day."""

    def __init__(self, data: Mapping[str, Any], file: str = "") -> None:
        parts = parse(data, file)
        self.title = parts.title
        self.bells: Bells | None = parts.bells
        self.playlists: Mapping[str, Playlist] = parts.playlists
        self.rules = parts.rules
        self.screen = parts.screen
        # The first applicable rule in this order wins: highest priority, then the first listed.
        self._ranked = sorted(self.rules, key=lambda rule: (-rule.priority, rule.index))
        self._dated = [c for c in self._conditions() if c.dates is not None]
        self._change_days = sorted(set(self._changes()))
        self._plans: dict[tuple[Any, ...], tuple[Segment, ...]] = {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "") -> Schedule:
        """Return the schedule of a document; raise ScheduleInvalid (every fault, Russian) when it is bad."""
        return cls(data, file)

    def at(self, local: datetime) -> Slot:
        """Return the slot in force at `local`, a naive datetime in the school's local time."""
        if local.tzinfo is not None:
            raise ValueError("Schedule.at takes the school's local time as a naive datetime")
        day, seconds = local.date(), local.hour * 3600 + local.minute * 60 + local.second
        segment = next(s for s in self.day_plan(day) if s.start <= seconds < s.end)
        playlist = self.playlists.get(segment.playlist) if segment.playlist is not None else None
        return Slot(playlist, segment.screen, _moment(day, segment.start), self._until(day, segment))

    def day_plan(self, day: date) -> tuple[Segment, ...]:
        """Return the day from 00:00 to 24:00 as segments, each different from the one before."""
        key = self._day_key(day)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(self._day(day))
        return plan

    def needed(self) -> set[Ref]:
        """Return every content reference that the playlists named by rules need (for the cache)."""
        named = {rule.playlist for rule in self.rules if rule.playlist is not None}
        return set().union(*(self.playlists[name].needs() for name in named if name in self.playlists))

    # --- evaluation --------------------------------------------------------------------------------------

    def _day(self, day: date) -> Day:
        return self.bells.day(day) if self.bells is not None else Day(day, (), False)

    def _day_key(self, day: date) -> tuple[Any, ...]:
        """Return what the day's plan depends on: two days with the same key have the same plan."""
        bells = self._day(day)
        dated = tuple(any(day in span for span in c.dates or ()) for c in self._dated)
        return (day.weekday(), bells.periods, bells.holiday, dated)

    def _plan(self, day: Day) -> tuple[Segment, ...]:
        rules = [(rule.playlist, rule.condition.spans(day)) for rule in self._ranked]
        hours = None if self.screen.hours is None else [c.spans(day) for c in self.screen.hours]
        off = [c.spans(day) for c in self.screen.off]
        every = [spans for _, spans in rules] + (hours or []) + off
        cuts = sorted({0, DAY_SECONDS, *(moment for spans in every for span in spans for moment in span)})
        plan: list[Segment] = []
        for start, end in pairwise(cuts):
            on = hours is None or any(_covers(spans, start) for spans in hours)
            on = on and not any(_covers(spans, start) for spans in off)
            # The first rule that holds decides, even when it shows nothing (playlist: null); a screen off
            # by schedule plays nothing, so a night is one slot and the player sleeps through it.
            playlist = next((name for name, spans in rules if _covers(spans, start)), None) if on else None
            segment = Segment(start, end, playlist, on)
            if plan and (plan[-1].playlist, plan[-1].screen) == (segment.playlist, segment.screen):
                plan[-1] = plan[-1]._replace(end=end)
            else:
                plan.append(segment)
        return tuple(plan)

    def _until(self, day: date, segment: Segment) -> datetime | None:
        """Return when the slot of `segment` ends: a day's end restarts a playlist, else look ahead."""
        if segment.end < DAY_SECONDS or segment.playlist is not None:
            return _moment(day, segment.end)
        try:
            return self._until_after(day + timedelta(days=1), segment.screen)
        except OverflowError:  # looked past the year 9999: nothing changes in any calendar there is
            return None

    def _until_after(self, following: date, screen: bool) -> datetime | None:
        """Return the first moment from `following` on that is not (nothing shown, `screen`).

        Between two dated changes (a range, a holiday, a workday) every week is like the one before,
        so a week unchanged skips to the next dated change, and a week unchanged after the last one
        means that nothing ever changes.
        """
        while True:
            upcoming = bisect.bisect_right(self._change_days, following)
            next_change = self._change_days[upcoming] if upcoming < len(self._change_days) else None
            stop = following + timedelta(days=7)
            stop = stop if next_change is None else min(stop, next_change)
            while following < stop:
                first = self.day_plan(following)[0]
                if first.playlist is not None or first.screen != screen:
                    return _moment(following, 0)
                if first.end < DAY_SECONDS:
                    return _moment(following, first.end)
                following += timedelta(days=1)
            if next_change is None:
                return None
            following = next_change

    def _conditions(self) -> list[Condition]:
        return [rule.condition for rule in self.rules] + list(self.screen.hours or ()) + list(self.screen.off)

    def _changes(self) -> list[date]:
        """Return the days on which a date range, a holiday or a transferred workday starts or ends."""
        found = [d for c in self._dated for span in c.dates or () for d in span.changes()]
        return found + (self.bells.changes() if self.bells is not None else [])


def _covers(spans: list[Span], moment: int) -> bool:
    return any(start <= moment < end for start, end in spans)


def _moment(day: date, seconds: int) -> datetime:
    return datetime.combine(day, time()) + timedelta(seconds=seconds)


if __name__ == "__main__":
    # Run as a program, this file is `__main__`, not `classcast.playlist`: the command lives elsewhere.
    from classcast.playlist_cli import main

    raise SystemExit(main())
