"""The usage report as a file: XLSX with one sheet per level, or CSV of one level, as on the screen.

Every sheet opens with the node, the period, the previous period and the time it was made, then a row
of headings and one row per group: its name, the names it sits under, and for each indicator the value
and the previous period's. Names are text whatever they start with (never a formula), and there are no
people's names anywhere: teachers are only counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import xlsxwriter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from classcast.i18n import N_
from controller.exports import FORMATS as FORMATS  # the same two formats as the list exports
from controller.exports import sheet_title
from controller.panel_exports import csv_value
from controller.stats import report, tally
from controller.stats.period import Period
from controller.stats.tally import INDICATORS, KINDS, LEVELS, Node

Progress = Callable[[int, int], None]
_NUMBER_FORMAT = {"share": "0.0%", "hours": "0.00", "count": "0"}
_PARENTS = {  # the names a row of each level is shown under
    "all": (),
    "region": (),
    "municipality": ("region",),
    "school": ("municipality",),
    "room": ("municipality", "school"),
    "panel": ("municipality", "school", "room"),
}
_HEADINGS = {
    "name": N_("Название"),
    "region": N_("Регион"),
    "municipality": N_("Муниципалитет"),
    "school": N_("Школа"),
    "room": N_("Кабинет"),
    "previous": N_("%(indicator)s, предыдущий период"),
    "title": N_("Статистика использования: %(name)s"),
    "period": N_("Период: %(start)s — %(end)s"),
    "before": N_("Предыдущий период: %(start)s — %(end)s"),
    "made": N_("Сформировано: %(at)s UTC"),
}


def russian(message: str, **values: Any) -> str:
    """The source messages as they are (the CLI and the scheduled reports speak Russian)."""
    return message % values if values else message


def pretranslated(translate: Callable[..., str]) -> Callable[..., str]:
    """Return the statistics' words as `translate` gives them, looked up without it.

    A request's language lives in its context, on the hub; the counting and writing run on a reading
    thread (Database.read_aside), which takes this instead.
    """
    messages = (*report.LABELS.values(), *report.LEVEL_TITLES.values(), report.NO_ROOM, *_HEADINGS.values())
    words = {message: translate(message) for message in messages}

    def lookup(message: str, **values: Any) -> str:
        text = words.get(message, message)
        return text % values if values else text

    return lookup


def report_file(
    db: Any,
    node: Node,
    period: Period,
    settings: dict[str, Any],
    today: date,
    translate: Callable[..., str],
    file_format: str,
    only: str | None = None,
) -> tuple[bytes, int]:
    """Return the report of `node` as a file in `file_format`, and how many rows it has."""
    header, parts = sheets(db, node, period, settings, today, translate, only)
    data = write_xlsx(header, parts) if file_format == "xlsx" else write_csv(header, parts[0])
    return data, sum(len(part.rows) for part in parts)


@dataclass
class Sheet:
    level: str
    title: str
    headings: list[str]
    rows: list[list[Any]]  # names (str) then values (numbers or None)


def sheets(
    db: Any,
    node: Node,
    period: Period,
    settings: dict[str, Any],
    today: date,
    translate: Callable[..., str] = russian,
    only: str | None = None,
) -> tuple[list[str], list[Sheet]]:
    """Return the header lines and a sheet per level from `node`'s down to the panels (or only `only`)."""
    levels = list(LEVELS[LEVELS.index(node.level) :]) if only is None else [only]
    scope = tally.load_scope(db, node, period.previous.start, period.end, settings, today)
    now = tally.count(db, scope, period, levels)
    before = tally.count(db, scope, period.previous, levels)
    names = _names(db, scope, translate)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    header = [
        translate(_HEADINGS["title"], name=report.node_name(db, node, translate)),
        translate(_HEADINGS["period"], start=_day(period.start), end=_day(period.end)),
        translate(_HEADINGS["before"], start=_day(period.previous.start), end=_day(period.previous.end)),
        translate(_HEADINGS["made"], at=made),
    ]
    return header, [_sheet(level, now, before, names, scope, translate) for level in levels]


def _sheet(level: str, now: dict, before: dict, names: dict, scope: tally.Scope, translate: Any) -> Sheet:
    parents = _PARENTS[level]
    headings = [translate(_HEADINGS["name"]), *(translate(_HEADINGS[p]) for p in parents)]
    for name in INDICATORS:
        label = translate(report.LABELS[name])
        headings += [label, translate(_HEADINGS["previous"], indicator=label)]
    listed = {key for key in (*now, *before, *names) if key[0] == level and _under(key, names, scope)}
    keys = sorted(listed, key=lambda k: names.get(k, ("", {}))[0])
    rows = []
    for key in keys:
        own, above = names.get(key, (str(key[1]), {}))[:2]
        values = now.get(key, tally.Tally()).values()
        previous = before.get(key, tally.Tally()).values()
        row: list[Any] = [own, *(above.get(p, "") for p in parents)]
        for name in INDICATORS:
            row += [values[name], previous[name]]
        rows.append(row)
    return Sheet(level, translate(report.LEVEL_TITLES[level]), headings, rows)


def _under(key: tuple[str, int], names: dict, scope: tally.Scope) -> bool:
    """Return whether group `key` lies under the scope's node (a municipality with no school does too)."""
    level, node = key[0], scope.node
    if level in ("room", "panel") or node.level == "all":
        return True  # the names of rooms and panels are read for the scope's panels only
    if level == "school":
        return key[1] in scope.schools
    if level == node.level:
        return key[1] == node.id
    if level == "municipality" and node.level == "region":
        return names[key][2] == node.id
    return False


def _names(db: Any, scope: tally.Scope, translate: Any) -> dict[tuple[str, int], tuple]:
    """Return (level, id) -> (its name, the names above it[, a municipality's region id]) in the scope."""
    school_ids = sorted(scope.schools)
    municipalities = dict(db.execute("SELECT id, name FROM municipality"))
    regions = dict(db.execute("SELECT id, name FROM region"))
    schools = {
        row[0]: row[1] for row in db.execute("SELECT id, short_name FROM school") if row[0] in scope.schools
    }
    no_room = translate(report.NO_ROOM)
    found: dict[tuple[str, int], tuple[str, dict[str, str]]] = {
        ("all", 0): (translate(report.LEVEL_TITLES["all"]), {})
    }
    for region_id, name in regions.items():
        found[("region", region_id)] = (name, {})
    for municipality_id, region_id, name in db.execute("SELECT id, region_id, name FROM municipality"):
        found[("municipality", municipality_id)] = (name, {"region": regions.get(region_id, "")}, region_id)
    for school_id in school_ids:
        municipality_id = scope.schools[school_id][0]
        found[("school", school_id)] = (
            schools.get(school_id, ""),
            {"municipality": municipalities[municipality_id]},
        )
    for panel in scope.panels:
        above = {
            "municipality": municipalities[panel.municipality_id],
            "school": schools.get(panel.school_id, ""),
        }
        found[("room", panel.key("room"))] = (panel.room or no_room, above)
        found[("panel", panel.id)] = (panel.name, {**above, "room": panel.room or no_room})
    return found


def write_xlsx(header: list[str], parts: list[Sheet], progress: Progress | None = None) -> bytes:
    """Return the sheets as XLSX: each number in its column's format (percent, hours, count).

    XlsxWriter writes rows straight to disk (constant memory) and formats whole columns, twice as fast
    as openpyxl writing a formatted cell at a time: a region's 200,000 cells in well under 5 s.
    """
    out = io.BytesIO()
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    book = xlsxwriter.Workbook(out, options)
    formats = {kind: book.add_format({"num_format": fmt}) for kind, fmt in _NUMBER_FORMAT.items()}
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    total, done = sum(len(sheet.rows) for sheet in parts), 0
    for part in parts:
        sheet = book.add_worksheet(sheet_title(part.title))
        names = len(part.headings) - 2 * len(INDICATORS)
        sheet.set_column(0, names - 1, 32)
        for column, name in enumerate(name for name in INDICATORS for _ in (0, 1)):
            sheet.set_column(names + column, names + column, 14, formats[KINDS[name]])
        for row, line in enumerate(header):
            sheet.write_string(row, 0, _clean(line))
        first = len(header) + 1
        for column, heading in enumerate(part.headings):
            sheet.write_string(first, column, _clean(heading), bold)
        sheet.freeze_panes(first + 1, 1)
        for row, values in enumerate(part.rows, start=first + 1):
            for column, value in enumerate(values[:names]):
                sheet.write_string(row, column, _clean(value))
            for column, value in enumerate(values[names:], start=names):
                if value is not None:
                    sheet.write_number(row, column, value)
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, total)
    book.close()
    if progress is not None:
        progress(total, total)
    return out.getvalue()


def write_csv(header: list[str], part: Sheet) -> bytes:
    """Return one level as CSV: ";" and a BOM, shares in percent, decimal commas (as Russian Excel reads)."""
    names = len(part.headings) - 2 * len(INDICATORS)
    kinds = [KINDS[name] for name in INDICATORS for _ in (0, 1)]
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerows([[csv_value(line)] for line in header])
    writer.writerow([])
    writer.writerow([csv_value(heading) for heading in part.headings])
    for row in part.rows:
        values = [_csv_number(value, kind) for value, kind in zip(row[names:], kinds, strict=True)]
        writer.writerow([*(csv_value(value or "") for value in row[:names]), *values])
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _clean(value: Any) -> str:
    """A name as XLSX allows it: control characters dropped (it is written as text whatever it holds)."""
    return ILLEGAL_CHARACTERS_RE.sub("", str(value or ""))


def _csv_number(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "share":
        return f"{value * 100:.1f}".replace(".", ",")
    if kind == "hours":
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def _day(day: date) -> str:
    return day.strftime("%d.%m.%Y")
