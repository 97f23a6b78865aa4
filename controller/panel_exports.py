"""The registry of display devices and the monthly reconciliation as spreadsheets: CSV or XLSX.

Nothing here touches the database or Flask: rows in (as controller.store.panel_registry gives them),
file bytes out; the caller hands in `tr`, which puts a marked message in the reader's language. The
columns are documented in docs/ui.md («Выгрузка реестра панелей»), headings and units alike.

A value a device reported about itself (a serial, a model, a name typed by school IT) may start with
"=", "+", "-" or "@", which a spreadsheet would run as a formula. In XLSX such a value is a text cell,
shown as it is and never run; in CSV, which has no cell types, it is prefixed with a single quote, as
OWASP's "CSV injection" advice says. Numbers the controller computed (a temperature below zero) are
written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from classcast.i18n import N_
from controller.exports import FORMATS as FORMATS  # the same two formats as the list exports
from controller.exports import sheet_title
from controller.timeutil import zone_of

Cell = str | int | float | datetime | None
Translate = Callable[[str], str]

# What a spreadsheet takes for the start of a formula (OWASP adds tab and carriage return).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GIB = 1024**3
# Where no school is known (a device nobody registered), times are written in Moscow time.
_TIME_FORMAT = "DD.MM.YYYY HH:MM"  # XLSX
_CSV_TIME_FORMAT = "%d.%m.%Y %H:%M"  # what Russian Excel reads back as a date and time

STATUS_WORDS = {
    "pending": N_("ждёт ключей"),
    "online": N_("в сети"),
    "offline": N_("не в сети"),
    "silent": N_("молчит"),
    "revoked": N_("отозвана"),
    "decommissioned": N_("списана"),
}
CHANNEL_WORDS = {
    "pairing": N_("запрос кода подключения"),
    "socketio": N_("соединение плеера"),
    "telemetry": N_("телеметрия агента"),
    "http": N_("запрос к API панелей"),
}
_YES, _NO = N_("да"), N_("нет")


@dataclass(frozen=True)
class Column:
    heading: str  # marked with N_, put in the reader's language when written
    width: int  # in characters, for the XLSX
    value: Callable[[dict[str, Any], Translate], Cell]


@dataclass(frozen=True)
class Sheet:
    title: str
    headings: list[str]
    widths: list[int]
    rows: list[list[Cell]]


def _field(name: str) -> Callable[[dict[str, Any], Translate], Cell]:
    return lambda row, tr: row.get(name)


def _time(name: str) -> Callable[[dict[str, Any], Translate], Cell]:
    return lambda row, tr: local_time(row.get(name), row.get("timezone"))


def _yes_no(name: str) -> Callable[[dict[str, Any], Translate], Cell]:
    return lambda row, tr: None if row.get(name) is None else tr(_YES if row[name] else _NO)


def _gib(name: str) -> Callable[[dict[str, Any], Translate], Cell]:
    return lambda row, tr: None if row.get(name) is None else round(row[name] / GIB, 2)


_SCREEN_WORDS = {
    "on": N_("включён"),
    "schedule": N_("выключен по расписанию"),
    "command": N_("выключен по команде"),
    "fault": N_("не управляется: неисправность"),
}


def _screen(row: dict[str, Any], tr: Translate) -> Cell:
    """The display's power as the panel last reported it, in the words of the registry page."""
    if row.get("screen_reason") == "fault":
        return tr(_SCREEN_WORDS["fault"])
    if row.get("screen_on") is None:
        return None
    return tr(_SCREEN_WORDS["on" if row["screen_on"] else row.get("screen_reason") or "command"])


def _refused(row: dict[str, Any], tr: Translate) -> Cell:
    return row["refused"] if row["state"] in ("revoked", "decommissioned") else None


def _temperature(row: dict[str, Any], tr: Translate) -> Cell:
    return None if row.get("temperature_c") is None else round(float(row["temperature_c"]), 1)


# The registry's columns, in order: docs/ui.md lists each with its meaning and unit.
REGISTRY_COLUMNS: tuple[Column, ...] = (
    Column(N_("ID панели"), 10, _field("id")),
    Column(N_("Муниципалитет"), 26, _field("municipality")),
    Column(N_("Школа"), 26, _field("school")),
    Column(N_("Кабинет"), 14, _field("room")),
    Column(N_("Имя панели"), 26, _field("name")),
    Column(N_("Модель"), 26, _field("model")),
    Column(N_("Серийный номер"), 20, _field("serial")),
    Column(N_("MAC-адрес"), 19, _field("mac")),
    Column(N_("Операционная система"), 24, _field("os")),
    Column(N_("Версия плеера"), 12, _field("player_version")),
    Column(N_("Версия агента"), 12, _field("agent_version")),
    Column(N_("Подключена"), 17, _time("paired_at")),
    Column(N_("Последняя связь"), 17, _time("last_seen_at")),
    Column(N_("Состояние"), 13, lambda row, tr: tr(STATUS_WORDS[row["status"]])),
    Column(N_("Температура, °C"), 11, _temperature),
    Column(N_("Свободно на диске, ГБ"), 11, _gib("disk_free_bytes")),
    Column(N_("Объём диска, ГБ"), 11, _gib("disk_total_bytes")),
    Column(N_("Пониженное напряжение сейчас"), 13, _yes_no("undervoltage_now")),
    Column(N_("Пониженное напряжение замечено"), 17, _time("undervoltage_seen_at")),
    Column(N_("Дисплей подключён"), 11, _yes_no("display_connected")),
    Column(N_("Экран"), 22, _screen),
    Column(N_("Клон замечен"), 17, _time("clone_seen_at")),
    Column(N_("Попыток связи после отзыва"), 11, _refused),
    Column(N_("Заменена панелью (ID)"), 11, _field("replaced_by")),
)


def local_time(value: str | float | None, timezone: str | None) -> datetime | None:
    """Return a stored time (ISO UTC text or Unix seconds) as a naive date and time in `timezone`.

    Naive, because a spreadsheet's cell has no time zone: the docs say whose time it is.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        moment = datetime.fromtimestamp(float(value), UTC)
    return moment.astimezone(zone_of(timezone)).replace(tzinfo=None, microsecond=0)


def table(title: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]], tr: Translate) -> Sheet:
    """Return a sheet of `rows` with `columns`, its headings and words in the reader's language."""
    return Sheet(
        title,
        [tr(column.heading) for column in columns],
        [column.width for column in columns],
        [[column.value(row, tr) for column in columns] for row in rows],
    )


def registry_sheet(rows: Sequence[dict[str, Any]], tr: Translate) -> Sheet:
    return table(tr(N_("Панели")), REGISTRY_COLUMNS, rows, tr)


def _words(name: str, words: dict[str, str]) -> Callable[[dict[str, Any], Translate], Cell]:
    return lambda row, tr: ", ".join(tr(words[item]) for item in row.get(name) or [] if item in words)


def _silent_days(now: float) -> Callable[[dict[str, Any], Translate], Cell]:
    def days(row: dict[str, Any], tr: Translate) -> Cell:
        seen = row.get("last_seen_at") or row.get("paired_at") or row.get("created_at")
        if not seen:
            return None
        moment = datetime.fromisoformat(seen.replace("Z", "+00:00")).timestamp()
        return int((now - moment) // 86400)

    return days


_PLACE = (
    Column(N_("Муниципалитет"), 26, _field("municipality")),
    Column(N_("Школа"), 26, _field("school")),
    Column(N_("Кабинет"), 14, _field("room")),
    Column(N_("Имя панели"), 26, _field("name")),
    Column(N_("Серийный номер"), 20, _field("serial")),
)
_UNKNOWN_COLUMNS = (
    Column(N_("Серийный номер"), 20, _field("serial")),
    Column(N_("MAC-адрес"), 19, _field("mac")),
    Column(N_("Модель"), 26, _field("model")),
    Column(N_("Сетевой адрес"), 16, _field("address")),
    Column(N_("Как пыталось подключиться"), 24, lambda row, tr: tr(CHANNEL_WORDS[row["channel"]])),
    Column(N_("Первая попытка"), 17, _time("first_at")),
    Column(N_("Последняя попытка"), 17, _time("last_at")),
    Column(N_("Попыток"), 10, _field("attempts")),
    Column(N_("Закуплена для школы"), 26, _field("provision_school")),
)
_UNPAIRED_COLUMNS = (
    *_PLACE,
    Column(N_("Внесена в список закупки"), 17, _time("created_at")),
    Column(N_("Последний запрос кода"), 17, _time("asking_at")),
)
_REFUSED_COLUMNS = (
    *_PLACE,
    Column(N_("Состояние"), 13, lambda row, tr: tr(STATUS_WORDS[row["state"]])),
    Column(N_("Отозвана"), 17, _time("revoked_at")),
    Column(N_("Первая попытка"), 17, _time("first_at")),
    Column(N_("Последняя попытка"), 17, _time("last_at")),
    Column(N_("Попыток"), 10, _field("attempts")),
    Column(N_("Как пыталась подключиться"), 24, _words("channels", CHANNEL_WORDS)),
    Column(N_("Сетевой адрес"), 16, _field("address")),
)


def reconciliation_sheets(lists: dict[str, Any], tr: Translate, now: float) -> list[Sheet]:
    """Return the reconciliation's four lists as four sheets (controller.store.panel_registry's dict)."""
    silent_columns = (
        *_PLACE,
        Column(N_("Последняя связь"), 17, _time("last_seen_at")),
        Column(N_("Дней без связи"), 10, _silent_days(now)),
    )
    return [
        table(tr(N_("Молчат")), silent_columns, lists["silent"], tr),
        table(tr(N_("Без регистрации")), _UNKNOWN_COLUMNS, lists["unknown"], tr),
        table(tr(N_("Закуплены, не подключены")), _UNPAIRED_COLUMNS, lists["unpaired"], tr),
        table(tr(N_("Отозваны, но на связи")), _REFUSED_COLUMNS, lists["refused"], tr),
    ]


# --- writing -------------------------------------------------------------------------------------------


def write(file_format: str, sheets: Sequence[Sheet]) -> bytes:
    """Return `sheets` as a file in `file_format` ("csv" or "xlsx").

    XLSX: one worksheet each, headings bold, frozen and filterable. CSV: one table; several are
    written one after another, each under a line with its title and apart by an empty line.
    """
    return _csv(sheets) if file_format == "csv" else _xlsx(sheets)


def csv_value(value: Cell) -> str:
    """Return a cell as CSV text: numbers with a decimal comma, times as Russian Excel reads them,
    and text that would start a formula neutralised with a leading single quote."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(_CSV_TIME_FORMAT)
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def _csv(sheets: Sequence[Sheet]) -> bytes:
    # ";" and the BOM: what Russian Excel opens as columns in UTF-8 with a double click.
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    several = len(sheets) > 1
    for number, sheet in enumerate(sheets):
        if several:
            if number:
                writer.writerow([])
            writer.writerow([csv_value(sheet.title)])
        writer.writerow([csv_value(heading) for heading in sheet.headings])
        writer.writerows([csv_value(value) for value in row] for row in sheet.rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _xlsx(sheets: Sequence[Sheet]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    for sheet in sheets:
        page = book.create_sheet(sheet_title(sheet.title))
        page.freeze_panes = "A2"
        for index, width in enumerate(sheet.widths, start=1):
            page.column_dimensions[get_column_letter(index)].width = width
        last = get_column_letter(max(len(sheet.headings), 1))
        page.auto_filter.ref = f"A1:{last}{len(sheet.rows) + 1}"
        page.append([_heading_cell(page, heading) for heading in sheet.headings])
        for row in sheet.rows:
            page.append([_xlsx_cell(page, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _heading_cell(page: Any, heading: str) -> WriteOnlyCell:
    cell = _text_cell(page, heading)
    cell.font = Font(bold=True)
    return cell


def _xlsx_cell(page: Any, value: Cell) -> Any:
    """Return what to append for one value: numbers as numbers, times as times, text always as text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        cell = WriteOnlyCell(page, value=value)
        cell.number_format = _TIME_FORMAT
        return cell
    if isinstance(value, int | float):
        return value
    return _text_cell(page, value)


def _text_cell(page: Any, value: str) -> WriteOnlyCell:
    # Control characters are not allowed in XLSX at all; "=…" must stay text, never become a formula.
    cell = WriteOnlyCell(page, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell
