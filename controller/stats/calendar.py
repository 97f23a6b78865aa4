"""Which days are a school's school days: its working weekdays, less holidays, plus transferred workdays.

The exceptions (`calendar_day`) are set for a region, a municipality or a school; the nearer one wins,
so a school may work on a day its region rests. A day that is not a school day is never counted as a
day a panel stood idle.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from datetime import date
from typing import Any

from classcast.settings import SettingsError
from controller.monitor import parse_days

log = logging.getLogger(__name__)


class SchoolCalendar:
    """The school days of a set of schools between two dates, read once.

    Schools of one municipality with the same weekdays and no exceptions of their own share one
    calendar, computed once: a region of 500 schools has a few dozen.
    """

    def __init__(
        self,
        db: Any,
        schools: dict[int, tuple[int, int, str | None]],
        default_days: str,
        first: date,
        last: date,
    ) -> None:
        """`schools`: school id -> (municipality id, region id, its own working weekdays or None)."""
        self._schools = schools
        self._default = parse_days(default_days)
        self._exceptions = _exceptions(db, first, last)
        self._first, self._last = first.toordinal(), last.toordinal()
        self._shared: dict[tuple, list[int]] = {}  # pattern -> sorted ordinals of its school days
        self._of_school: dict[int, list[int]] = {}

    def count(self, school_id: int, first: date, last: date) -> int:
        """Return how many school days `school_id` has from `first` to `last`, both included."""
        days = self._days(school_id)
        return bisect.bisect_right(days, last.toordinal()) - bisect.bisect_left(days, first.toordinal())

    def _days(self, school_id: int) -> list[int]:
        days = self._of_school.get(school_id)
        if days is None:
            municipality_id, region_id, own = self._schools[school_id]
            weekdays = self._weekdays(school_id, own)
            nodes = [("region", region_id), ("municipality", municipality_id)]
            if ("school", school_id) in self._exceptions:
                nodes.append(("school", school_id))
            pattern = (weekdays, *nodes)
            if pattern not in self._shared:
                self._shared[pattern] = self._compute(weekdays, nodes)
            days = self._of_school[school_id] = self._shared[pattern]
        return days

    def _compute(self, weekdays: frozenset[int], nodes: list[tuple[str, int]]) -> list[int]:
        exceptions: dict[int, str] = {}
        for node in nodes:
            exceptions.update(self._exceptions.get(node, {}))
        days = []
        for day in range(self._first, self._last + 1):
            kind = exceptions.get(day)
            # date.fromordinal(1) was a Monday: an ordinal's ISO weekday is (ordinal - 1) % 7 + 1.
            if kind == "workday" or (kind is None and (day - 1) % 7 + 1 in weekdays):
                days.append(day)
        return days

    def _weekdays(self, school_id: int, own: str | None) -> frozenset[int]:
        if not own:
            return self._default
        try:
            return parse_days(own)
        except SettingsError:
            log.warning("school %s: unreadable school_days %r; using the default", school_id, own)
            return self._default


def _exceptions(db: Any, first: date, last: date) -> dict[tuple[str, int], dict[int, str]]:
    found: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)
    rows = db.execute(
        "SELECT node_type, node_id, day, kind FROM calendar_day WHERE day BETWEEN ? AND ?",
        [first.isoformat(), last.isoformat()],
    )
    for node_type, node_id, day, kind in rows:
        found[(node_type, node_id)][date.fromisoformat(day).toordinal()] = kind
    return found
