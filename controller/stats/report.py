"""What a statistics page or export shows of one node: its indicators, its children's, the trend.

Each value comes with the previous period's, the direction of the change, whether that is better, and
the colour band the operator's thresholds give it. Labels are Russian source messages; the caller
passes its translation (the web answers in the user's language, the CLI and the schedule in Russian).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from classcast.i18n import N_
from controller.stats import tally
from controller.stats.period import Period, monday
from controller.stats.tally import CHILD, INDICATORS, KINDS, Node

Translate = Callable[[str], str]

LABELS = {
    "registered": N_("Зарегистрировано панелей"),
    "reporting": N_("Передают данные"),
    "in_use": N_("Используются"),
    "hours": N_("Часов в учебный день"),
    "teachers_casting": N_("Учителя, выводившие на экран"),
    "teachers_casting_3": N_("Учителя, выводившие 3 раза и более"),
    "library_share": N_("Доля библиотеки"),
    "silent": N_("Молчат более 30 дней"),
    "over_norm": N_("Уроков сверх нормы СанПиН"),
}
LEVEL_TITLES = {
    "all": N_("Все регионы"),
    "region": N_("Регионы"),
    "municipality": N_("Муниципалитеты"),
    "school": N_("Школы"),
    "room": N_("Кабинеты"),
    "panel": N_("Панели"),
}
NO_ROOM = N_("Без кабинета")
LOWER_IS_BETTER = frozenset({"silent", "over_norm"})
_NAMES = {
    "region": "SELECT id, name FROM region WHERE {where}",
    "municipality": "SELECT id, name FROM municipality WHERE {where}",
    "school": "SELECT id, short_name FROM school WHERE {where}",
    "room": "SELECT id, name FROM room WHERE {where}",
    "panel": "SELECT id, name FROM panel WHERE state != 'pending' AND {where}",
}
_PARENT_COLUMN = {
    "region": None,
    "municipality": "region_id",
    "school": "municipality_id",
    "room": "school_id",
}


class NodeNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Bands:
    """The operator's colour thresholds, as fractions."""

    red_below: float
    green_from: float

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Bands:
        return cls(settings["stats_band_red_below"] / 100, settings["stats_band_green_from"] / 100)

    def colour(self, share: float | None) -> str | None:
        if share is None:
            return None
        return "red" if share < self.red_below else "green" if share >= self.green_from else "yellow"


def cell(name: str, value: Any, previous: Any, bands: Bands, registered: int | None) -> dict[str, Any]:
    """Return one indicator's value with the previous period's, the change and its colour."""
    direction = better = None
    if value is not None and previous is not None:
        direction = "up" if value > previous + 1e-9 else "down" if value < previous - 1e-9 else "same"
        if direction != "same":
            better = (direction == "down") == (name in LOWER_IS_BETTER)
    if KINDS[name] == "share":
        band = bands.colour(value)
    elif name == "silent" and registered:
        band = bands.colour(1 - value / registered)  # the share of panels that are not silent
    else:
        band = None
    return {"value": value, "previous": previous, "direction": direction, "better": better, "band": band}


def cells(now: tally.Tally | None, before: tally.Tally | None, bands: Bands) -> dict[str, dict[str, Any]]:
    values = (now or tally.Tally()).values()
    previous = (before or tally.Tally()).values()
    if now is not None and now.teachers is None:  # a room or a panel: teachers belong to the school
        previous["teachers_casting"] = previous["teachers_casting_3"] = None
    registered = values["registered"]
    return {name: cell(name, values[name], previous[name], bands, registered) for name in INDICATORS}


def node_name(db: Any, node: Node, translate: Translate) -> str:
    if node.level == "all":
        return translate(LEVEL_TITLES["all"])
    rows = list(db.execute(_NAMES[node.level].format(where="id = ?"), [node.id]))
    if not rows:
        raise NodeNotFound(node.level)
    return rows[0][1]


def children(db: Any, node: Node) -> list[tuple[int, str]]:
    """Return the (id, name) of each child of `node` that is not archived, by name."""
    level = CHILD[node.level]
    if level == "panel":
        where, args = "room_id = ?", [node.id]
    elif node.level == "all":
        where, args = "archived_at IS NULL", []
    else:
        where, args = f"{_PARENT_COLUMN[level]} = ? AND archived_at IS NULL", [node.id]
    return sorted(db.execute(_NAMES[level].format(where=where), args), key=lambda row: (row[1], row[0]))


def path(db: Any, node: Node, home: Node, translate: Translate) -> list[dict[str, Any]]:
    """Return the breadcrumbs from the viewer's own node (`home`) down to `node`."""
    chain = [node]
    sql = {
        "panel": "SELECT 'room', room_id FROM panel WHERE id = ?",
        "room": "SELECT 'school', school_id FROM room WHERE id = ?",
        "school": "SELECT 'municipality', municipality_id FROM school WHERE id = ?",
        "municipality": "SELECT 'region', region_id FROM municipality WHERE id = ?",
        "region": "SELECT 'all', 0",
    }
    while chain[-1] != home and chain[-1].level != "all":
        current = chain[-1]
        args = [] if current.level == "region" else [current.id]
        row = next(iter(db.execute(sql[current.level], args)), None)
        if row is None or row[1] is None:
            if current.level == "panel":  # a panel without a room: up to its school
                row = next(
                    iter(db.execute("SELECT 'school', school_id FROM panel WHERE id = ?", [current.id]))
                )
            else:
                break
        chain.append(Node(row[0], row[1]))
    return [{"level": n.level, "id": n.id, "name": node_name(db, n, translate)} for n in reversed(chain)]


def trend_weeks(period: Period, today: date, weeks: int) -> list[date]:
    """Return the Mondays of the `weeks` weeks up to the one the period ends in (or today's)."""
    last = monday(min(period.end, today))
    return [last - timedelta(days=7 * n) for n in reversed(range(weeks))]


def build(
    db: Any,
    node: Node,
    period: Period,
    settings: dict[str, Any],
    today: date,
    home: Node,
    translate: Translate = str,
) -> dict[str, Any]:
    """Return what the page of `node` shows for `period` (the answer of the statistics API)."""
    weeks = trend_weeks(period, today, int(settings["stats_trend_weeks"]))
    first = min(period.previous.start, weeks[0])
    last = max(period.end, weeks[-1] + timedelta(days=6))
    scope = tally.load_scope(db, node, first, last, settings, today)
    child = CHILD.get(node.level)
    levels = [node.level] + ([child] if child else []) + (["panel"] if node.level == "school" else [])
    now = tally.count(db, scope, period, levels)
    before = tally.count(db, scope, period.previous, levels)
    bands = Bands.of(settings)
    answer: dict[str, Any] = {
        "node": {"level": node.level, "id": node.id, "name": node_name(db, node, translate)},
        "path": path(db, node, home, translate),
        "period": _days(period),
        "previous": _days(period.previous),
        "bands": {"red_below": bands.red_below, "green_from": bands.green_from},
        "indicators": list(INDICATORS),
        "labels": {name: translate(label) for name, label in LABELS.items()},
        "kinds": KINDS,
        "summary": cells(now.get((node.level, node.id)), before.get((node.level, node.id)), bands),
        "trend": {"weeks": [w.isoformat() for w in weeks], "values": tally.trend(db, scope, weeks)},
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if child:
        answer["children"] = _rows(db, node, child, now, before, bands, translate)
    if node.level == "school":
        answer["panels"] = _panel_rows(scope, now, before, bands, translate)
    return answer


def _rows(
    db: Any, node: Node, level: str, now: dict, before: dict, bands: Bands, translate: Translate
) -> dict:
    listed = children(db, node)
    if level == "room" and ("room", -node.id) in now:  # the school's panels without a room
        listed.append((-node.id, translate(NO_ROOM)))
    rows = [
        {
            "id": child_id,
            "name": name,
            "values": cells(now.get((level, child_id)), before.get((level, child_id)), bands),
        }
        for child_id, name in listed
    ]
    return {"level": level, "title": translate(LEVEL_TITLES[level]), "rows": rows}


def _panel_rows(scope: tally.Scope, now: dict, before: dict, bands: Bands, translate: Translate) -> dict:
    rows = [
        {
            "id": panel.id,
            "name": panel.name,
            "room": panel.room or translate(NO_ROOM),
            "values": cells(now[("panel", panel.id)], before.get(("panel", panel.id)), bands),
        }
        for panel in scope.panels
        if ("panel", panel.id) in now
    ]
    return {"level": "panel", "title": translate(LEVEL_TITLES["panel"]), "rows": rows}


def _days(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}
