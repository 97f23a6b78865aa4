"""Counting the usage indicators of a set of panels, grouped by level, for a period, from the rollups.

Whole weeks come from `panel_week`, the other days of a period from `panel_day`; teachers casting from
`cast_week`; registrations and school days from the registry and the school calendar. Nothing here
knows of Flask: a page, an export and the benchmark call the same functions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from controller.stats.calendar import SchoolCalendar
from controller.stats.period import Period, monday

LEVELS = ("all", "region", "municipality", "school", "room", "panel")
CHILD = {
    "all": "region",
    "region": "municipality",
    "municipality": "school",
    "school": "room",
    "room": "panel",
}
TEACHER_LEVELS = ("all", "region", "municipality", "school")  # teachers belong to a school, not a room
INDICATORS = (
    "registered",
    "reporting",
    "in_use",
    "hours",
    "teachers_casting",
    "teachers_casting_3",
    "library_share",
    "silent",
    "over_norm",
)
KINDS = {
    "registered": "count",
    "reporting": "share",
    "in_use": "share",
    "hours": "hours",
    "teachers_casting": "share",
    "teachers_casting_3": "share",
    "library_share": "share",
    "silent": "count",
    "over_norm": "count",
}

_SCOPE = {
    "all": "1 = 1",
    "region": "m.region_id = ?",
    "municipality": "s.municipality_id = ?",
    "school": "s.id = ?",
    "room": "p.room_id = ?",
    "panel": "p.id = ?",
}
_PANELS = """SELECT p.id, p.name, p.school_id, p.room_id, coalesce(r.name, '') AS room, s.municipality_id,
    m.region_id, substr(coalesce(p.paired_at, p.created_at), 1, 10) AS registered,
    substr(p.decommissioned_at, 1, 10) AS gone
    FROM panel p JOIN school s ON s.id = p.school_id JOIN municipality m ON m.id = s.municipality_id
    LEFT JOIN room r ON r.id = p.room_id
    WHERE p.state != 'pending' AND {scope} ORDER BY p.id"""
_SCHOOLS = """SELECT s.id, s.municipality_id, m.region_id, s.school_days
    FROM school s JOIN municipality m ON m.id = s.municipality_id WHERE {scope}"""
# The rollups of the scope's panels: a few are sought one by one in each week or day, many are joined
# to the registry and kept by the node's own column (SQLite checks that faster than 5,000 ids).
FEW_PANELS = 500
FEW_SCHOOLS = 50  # likewise for the schools whose teachers' casts are read
_OF_SCOPE = """JOIN panel p ON p.id = w.panel_id JOIN school s ON s.id = p.school_id
    JOIN municipality m ON m.id = s.municipality_id"""
# Row by row, summed in Python: a week is one row per panel, and SQLite's GROUP BY would sort them.
_USAGE = """SELECT w.panel_id, w.heartbeats > 0, w.lessons > 0 OR w.in_use_s > 0, w.in_use_s, w.cast_s,
    w.library_s FROM {table} w {join} WHERE w.{column} IN (SELECT value FROM json_each(?)) AND {scope}"""
_TREND = """SELECT w.week, sum(w.heartbeats > 0), sum(w.lessons > 0 OR w.in_use_s > 0), sum(w.in_use_s),
    sum(w.cast_s), sum(w.library_s) FROM panel_week w {join}
    WHERE w.week IN (SELECT value FROM json_each(?)) AND {scope} GROUP BY w.week"""


@dataclass(frozen=True)
class Node:
    """A place in the hierarchy the statistics are asked of; `all` (id 0) is the whole country."""

    level: str
    id: int


class Panel(NamedTuple):
    id: int
    name: str
    school_id: int
    room_id: int | None
    room: str
    municipality_id: int
    region_id: int
    registered: date
    gone: date | None  # decommissioned on this day

    def key(self, level: str) -> int:
        """Return the id of the group of `level` the panel is in; a school's panels without a room are
        the group of minus the school's id (all: 0)."""
        if level == "all":
            return 0
        if level == "room":
            return self.room_id or -self.school_id
        return self.id if level == "panel" else getattr(self, f"{level}_id")

    def span(self, first: date, last: date) -> tuple[date, date] | None:
        """Return the days from `first` to `last` it was registered on, or None if it was not at all."""
        start = first if first > self.registered else self.registered
        end = last if self.gone is None or self.gone > last else self.gone
        return (start, end) if start <= end else None


@dataclass
class Tally:
    """The sums behind the indicators of one group of panels (and its schools' teachers) in one period."""

    registered: int = 0
    reporting: int = 0
    in_use: int = 0
    silent: int = 0
    in_use_s: float = 0.0
    panel_days: int = 0  # school days summed over the registered panels: the hours' denominator
    cast_s: float = 0.0
    library_s: float = 0.0
    teachers: dict[date, list[int]] | None = None  # week -> [teachers, cast at least once, at least 3]
    # Lessons over a screen-time norm; None where no school day was checked (or for a panel: a lesson
    # is the room's, not one panel's).
    over_norm: int | None = None

    def merge(self, other: Tally) -> None:
        """Add the panels' figures of `other` (not its teachers: those are counted by school)."""
        self.registered += other.registered
        self.reporting += other.reporting
        self.in_use += other.in_use
        self.silent += other.silent
        self.in_use_s += other.in_use_s
        self.panel_days += other.panel_days
        self.cast_s += other.cast_s
        self.library_s += other.library_s

    def values(self) -> dict[str, float | int | None]:
        return {
            "registered": self.registered,
            # A period with no school day (a vacation week) judges no panel: it is not idle.
            "reporting": _share(self.reporting, self.registered) if self.panel_days else None,
            "in_use": _share(self.in_use, self.registered) if self.panel_days else None,
            "hours": self.in_use_s / 3600 / self.panel_days if self.panel_days else None,
            "teachers_casting": self._teachers(1),
            "teachers_casting_3": self._teachers(2),
            "library_share": self.library_s / self.cast_s if self.cast_s else None,
            "silent": self.silent,
            "over_norm": self.over_norm,
        }

    def _teachers(self, column: int) -> float | None:
        """The weekly share of teachers who cast, averaged over the period's weeks that had teachers."""
        if self.teachers is None:
            return None
        shares = [week[column] / week[0] for week in self.teachers.values() if week[0]]
        return sum(shares) / len(shares) if shares else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Scope:
    """The panels and schools under one node, with the school calendar of the days asked about."""

    node: Node
    panels: list[Panel]
    schools: dict[int, tuple[int, int, str | None]]
    calendar: SchoolCalendar
    silent_after_days: int
    today: date
    # The node holds every panel of the database (the usual controller serves one region): the rollups
    # need no join to the registry to keep to it.
    covers_all: bool
    # What one page asks several times (two periods and the trend), read once.
    _teacher_rows: list[tuple] | None = field(default=None, repr=False)
    _casts: dict[date, dict[int, tuple[int, int]]] = field(default_factory=dict, repr=False)
    _keys: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _schools_of: dict[str, dict[int, set[int]]] = field(default_factory=dict, repr=False)

    def rollup_filter(self) -> dict[str, str]:
        """The join and condition that keep a rollup's rows to the scope's panels (none if it has all)."""
        if self.covers_all:
            return {"join": "", "scope": "1 = 1"}
        if len(self.panels) <= FEW_PANELS:
            return {"join": "", "scope": "w.panel_id IN (SELECT value FROM json_each(?))"}
        return {"join": _OF_SCOPE, "scope": _SCOPE[self.node.level]}

    @property
    def args(self) -> list[Any]:
        if self.covers_all:
            return []
        if len(self.panels) <= FEW_PANELS:
            return [json.dumps([panel.id for panel in self.panels])]
        return [self.node.id]

    def schools_of(self, level: str) -> dict[int, set[int]]:
        """Return the schools of each group of `level` that has panels in the scope."""
        if level not in self._schools_of:
            groups: dict[int, set[int]] = defaultdict(set)
            for panel, key in zip(self.panels, self.keys(level), strict=True):
                groups[key].add(panel.school_id)
            self._schools_of[level] = dict(groups)
        return self._schools_of[level]

    def keys(self, level: str) -> list[int]:
        """Return the group of `level` of each panel, in the order of `panels`."""
        if level not in self._keys:
            self._keys[level] = [panel.key(level) for panel in self.panels]
        return self._keys[level]


def load_scope(db: Any, node: Node, first: date, last: date, settings: dict[str, Any], today: date) -> Scope:
    """Read the panels and schools under `node`, and their calendar from `first` to `last`."""
    args = [] if node.level == "all" else [node.id]
    panels = [_panel(row) for row in db.execute(_PANELS.format(scope=_SCOPE[node.level]), args)]
    if node.level in TEACHER_LEVELS:
        rows = db.execute(_SCHOOLS.format(scope=_SCOPE[node.level]), args)
    else:
        ids = json.dumps(sorted({panel.school_id for panel in panels}))
        rows = db.execute(_SCHOOLS.format(scope="s.id IN (SELECT value FROM json_each(?))"), [ids])
    schools = {row[0]: (row[1], row[2], row[3]) for row in rows}
    # Whole weeks: teachers are counted by week, and a week with no school day counts none.
    calendar = SchoolCalendar(
        db, schools, settings["school_days"], monday(first), monday(last) + timedelta(days=6)
    )
    everything = db.execute("SELECT count(*) FROM panel").fetchone()[0]
    silent_after = int(settings["panel_silent_after_days"])
    return Scope(
        node, panels, schools, calendar, silent_after, today, node.level == "all" or everything == len(panels)
    )


def _panel(row: Any) -> Panel:
    gone = date.fromisoformat(row[8]) if row[8] else None
    return Panel(*row[:7], date.fromisoformat(row[7]), gone)


def count(db: Any, scope: Scope, period: Period, levels: Iterable[str]) -> dict[tuple[str, int], Tally]:
    """Return the tally of each group of each of `levels` under the scope's node for `period`."""
    levels = tuple(levels)
    tallies: dict[tuple[str, int], Tally] = defaultdict(Tally)
    usage = _usage(db, scope, period)
    end = min(period.end, scope.today)
    spans = [panel.span(period.start, period.end) for panel in scope.panels]
    unheard = [
        p for p, span in zip(scope.panels, spans, strict=True) if span and not usage.get(p.id, (0,))[0]
    ]
    long_period = period.days > scope.silent_after_days
    last_heard = _last_reports(db, unheard if not long_period else scope.panels, end)
    # Each panel is added to its group of the finest level asked; the coarser groups sum those.
    finest = max(levels, key=LEVELS.index)
    keys = scope.keys(finest)
    member: dict[int, int] = {}  # a group of the finest level -> one of its panels
    nothing = (0, 0, 0.0, 0.0, 0.0)
    calendar, after_days = scope.calendar, scope.silent_after_days
    school_days: dict[tuple[int, tuple[date, date]], int] = {}  # most panels share their school's span
    for n, panel in enumerate(scope.panels):
        span = spans[n]
        if span is None:
            continue
        reported, used, in_use_s, cast_s, library_s = usage.get(panel.id, nothing)
        member.setdefault(keys[n], n)
        tally = tallies[(finest, keys[n])]
        tally.registered += 1
        tally.reporting += reported
        tally.in_use += used
        if not reported or long_period:  # one that reported within the period is not silent at its end
            tally.silent += _silent(panel, end, after_days, last_heard)
        tally.in_use_s += in_use_s
        tally.cast_s += cast_s
        tally.library_s += library_s
        days = school_days.get((panel.school_id, span))
        if days is None:
            days = school_days[(panel.school_id, span)] = calendar.count(panel.school_id, *span)
        tally.panel_days += days
    for level in levels:
        if level != finest:
            of_level = scope.keys(level)
            for key, n in member.items():
                tallies[(level, of_level[n])].merge(tallies[(finest, key)])
    _count_norms(db, scope, period.start, period.end, levels, tallies)
    teacher_levels = [level for level in levels if level in TEACHER_LEVELS]
    if teacher_levels:
        weeks = _weeks(period.start, period.end)
        for school_id, by_week in _teachers(db, scope, weeks).items():
            municipality_id, region_id, _days = scope.schools[school_id]
            keys = {"all": 0, "region": region_id, "municipality": municipality_id, "school": school_id}
            for level in teacher_levels:
                tally = tallies[(level, keys[level])]
                tally.teachers = tally.teachers if tally.teachers is not None else {}
                for week, figures in by_week.items():
                    sums = tally.teachers.setdefault(week, [0, 0, 0])
                    for n in range(3):
                        sums[n] += figures[n]
    return tallies


def _silent(panel: Panel, end: date, after_days: int, last_heard: dict[int, date | None]) -> int:
    """Return 1 if `panel`, registered at `end`, had sent nothing for more than `after_days` days by then."""
    if panel.registered > end or (panel.gone is not None and panel.gone <= end):
        return 0
    last = last_heard.get(panel.id) or panel.registered
    return int((end - max(last, panel.registered)).days > after_days)


def _usage(db: Any, scope: Scope, period: Period) -> dict[int, tuple]:
    """Return panel id -> (reported, used, in-use s, cast s, library s) of `period`."""
    weeks, days = period.parts(scope.today)
    sums: dict[int, tuple] = {}
    for table, column, keys in (("panel_week", "week", weeks), ("panel_day", "day", days)):
        if not keys:
            continue
        sql = _USAGE.format(table=table, column=column, **scope.rollup_filter())
        args = [json.dumps([key.isoformat() for key in keys]), *scope.args]
        for row in db.execute(sql, args):
            before = sums.get(row[0])
            sums[row[0]] = row[1:] if before is None else _add(before, row[1:])
    return sums


def _add(before: tuple, figures: tuple) -> tuple:
    return (
        max(before[0], figures[0]),
        max(before[1], figures[1]),
        *(a + b for a, b in zip(before[2:], figures[2:], strict=True)),
    )


def _last_reports(db: Any, panels: list[Panel], end: date) -> dict[int, date | None]:
    """Return each panel's last day with a heartbeat up to `end` (one index seek per panel)."""
    if not panels:
        return {}
    rows = db.execute(
        "SELECT ids.value, (SELECT day FROM panel_day d WHERE d.panel_id = ids.value AND d.day <= ?"
        " AND d.heartbeats > 0 ORDER BY d.day DESC LIMIT 1) FROM json_each(?) AS ids",
        [end.isoformat(), json.dumps([panel.id for panel in panels])],
    )
    return {panel_id: date.fromisoformat(day) if day else None for panel_id, day in rows}


def _weeks(first: date, last: date) -> list[date]:
    """Return the Mondays of the weeks that overlap the days from `first` to `last`."""
    weeks, week = [], monday(first)
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


def _teachers(db: Any, scope: Scope, weeks: list[date]) -> dict[int, dict[date, list[int]]]:
    """Return school id -> week -> [teachers, who cast at least once, at least three times]."""
    if scope._teacher_rows is None:
        # Teachers counted in groups of the same school and dates: usually one group per school.
        scope._teacher_rows = db.execute(
            "SELECT node_id, substr(created_at, 1, 10), substr(archived_at, 1, 10), count(*) FROM user"
            " WHERE role = 'teacher' AND node_type = 'school'"
            " AND node_id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3",
            [json.dumps(sorted(scope.schools))],
        ).fetchall()
    missing = [week for week in weeks if week not in scope._casts]
    for week in missing:
        scope._casts[week] = {}
    # A few schools are sought in each week; many are read with every school of the week.
    few = len(scope.schools) <= FEW_SCHOOLS
    rows = db.execute(
        "SELECT week, school_id, sum(casts >= 1), sum(casts >= 3) FROM cast_week"
        " WHERE week IN (SELECT value FROM json_each(?))"
        + (" AND school_id IN (SELECT value FROM json_each(?))" if few else "")
        + " GROUP BY week, school_id",
        [json.dumps([week.isoformat() for week in missing])]
        + ([json.dumps(list(scope.schools))] if few else []),
    )
    for week, school_id, once, thrice in rows if missing else ():
        scope._casts[date.fromisoformat(week)][school_id] = (once, thrice)
    found = {
        school: {week: [0, *scope._casts[week].get(school, (0, 0))] for week in weeks}
        for school in scope.schools
    }
    bounds = [(week, week.isoformat(), (week + timedelta(days=6)).isoformat()) for week in weeks]
    for school_id, created, archived, teachers in scope._teacher_rows:
        for week, first, last in bounds:
            # A week the school does not work (a vacation) counts no teacher: nobody could cast.
            working = scope.calendar.count(school_id, week, week + timedelta(days=6))
            if working and created <= last and (archived is None or archived >= first):
                found[school_id][week][0] += teachers
    return found


def trend(db: Any, scope: Scope, weeks: list[date]) -> dict[str, list[float | int | None]]:
    """Return each indicator of the scope's node for each week (Mondays); silence is a state, not a trend."""
    tallies = {week: Tally(teachers={}) for week in weeks}
    _trend_usage(db, scope, weeks, tallies)
    _trend_registered(scope, weeks, tallies)
    if scope.node.level in TEACHER_LEVELS:
        for by_week in _teachers(db, scope, weeks).values():
            for week, figures in by_week.items():
                sums = tallies[week].teachers.setdefault(week, [0, 0, 0])  # type: ignore[union-attr]
                for n in range(3):
                    sums[n] += figures[n]
    else:
        for tally in tallies.values():
            tally.teachers = None
    _trend_norms(db, scope, weeks, tallies)
    values = [tallies[week].values() for week in weeks]
    return {name: [row[name] for row in values] for name in INDICATORS if name != "silent"}


# The screen-time norms' daily check (controller/norms.py): the school days checked, and the lessons found
# over a norm, by room.
_NORM_DAYS = """SELECT DISTINCT school_id FROM norm_day
    WHERE day BETWEEN ? AND ? AND school_id IN (SELECT value FROM json_each(?))"""
_NORM_LESSONS = """SELECT school_id, {room}, count(*) FROM norm_lesson
    WHERE day BETWEEN ? AND ? AND school_id IN (SELECT value FROM json_each(?)) GROUP BY school_id, {room}"""


def _count_norms(
    db: Any,
    scope: Scope,
    first: date,
    last: date,
    levels: Iterable[str],
    tallies: dict[tuple[str, int], Tally],
) -> None:
    """Set the lessons over a norm of each group of `levels` whose schools had a school day checked."""
    levels = [level for level in levels if level != "panel"]
    if not levels:
        return
    args = [first.isoformat(), last.isoformat(), json.dumps(sorted(scope.schools))]
    checked = {row[0] for row in db.execute(_NORM_DAYS, args)}
    if not checked:
        return
    for level in levels:  # zero, not None, in every group with a checked school
        for key, schools in scope.schools_of(level).items():
            tally = tallies.get((level, key))
            if tally is not None and tally.over_norm is None and not schools.isdisjoint(checked):
                tally.over_norm = 0
    by_room = "room_id" if "room" in levels else "NULL"  # else a school's rows are summed by SQLite
    for school_id, room_id, lessons in db.execute(_NORM_LESSONS.format(room=by_room), args):
        municipality_id, region_id, _days = scope.schools[school_id]
        keys = {"all": 0, "region": region_id, "municipality": municipality_id, "school": school_id}
        keys["room"] = room_id
        for level in levels:
            tally = tallies.get((level, keys[level]))
            if tally is not None:  # a group outside the scope (another room of the school) has none
                tally.over_norm = (tally.over_norm or 0) + lessons


def _trend_usage(db: Any, scope: Scope, weeks: list[date], tallies: dict[date, Tally]) -> None:
    args = [json.dumps([week.isoformat() for week in weeks]), *scope.args]
    rows = db.execute(_TREND.format(**scope.rollup_filter()), args)
    for week, reporting, in_use, in_use_s, cast_s, library_s in rows:
        tally = tallies[date.fromisoformat(week)]
        tally.reporting, tally.in_use = reporting, in_use
        tally.in_use_s, tally.cast_s, tally.library_s = in_use_s, cast_s, library_s


_WEEK_OF_DAY = "date(day, '-6 days', 'weekday 1')"  # the Monday of the day's week


def _trend_norms(db: Any, scope: Scope, weeks: list[date], tallies: dict[date, Tally]) -> None:
    """Set each week's lessons over a norm of the scope's node, in one read for all the weeks."""
    node = scope.node
    if node.level == "panel":
        return
    schools = scope.schools_of(node.level).get(node.id if node.level != "all" else 0, set())
    args = [weeks[0].isoformat(), (weeks[-1] + timedelta(days=6)).isoformat(), json.dumps(sorted(schools))]
    of_schools = "day BETWEEN ? AND ? AND school_id IN (SELECT value FROM json_each(?))"
    checked = f"SELECT DISTINCT {_WEEK_OF_DAY} FROM norm_day WHERE {of_schools}"
    for (week,) in db.execute(checked, args):
        tallies[date.fromisoformat(week)].over_norm = 0
    of_node = f"{of_schools} AND room_id = ?" if node.level == "room" else of_schools
    found = f"SELECT {_WEEK_OF_DAY} AS week, count(*) FROM norm_lesson WHERE {of_node} GROUP BY week"
    for week, lessons in db.execute(found, args + ([node.id] if node.level == "room" else [])):
        tally = tallies[date.fromisoformat(week)]
        tally.over_norm = (tally.over_norm or 0) + lessons


def _trend_registered(scope: Scope, weeks: list[date], tallies: dict[date, Tally]) -> None:
    """Count the registered panels and their school days of each week.

    Most panels were registered before the first week and still are: they are counted by school, once.
    """
    steady: dict[int, int] = defaultdict(int)
    for panel in scope.panels:
        if panel.registered <= weeks[0] and panel.gone is None:
            steady[panel.school_id] += 1
            continue
        for week in weeks:
            span = panel.span(week, week + timedelta(days=6))
            if span is not None:
                tallies[week].registered += 1
                tallies[week].panel_days += scope.calendar.count(panel.school_id, *span)
    for school_id, panels in steady.items():
        for week in weeks:
            tallies[week].registered += panels
            tallies[week].panel_days += panels * scope.calendar.count(
                school_id, week, week + timedelta(days=6)
            )
