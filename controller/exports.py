"""Writing a school list or a staff list as the import reads it back: CSV (UTF-8 with BOM) or XLSX.

Nothing here touches the database or Flask: rows in, file bytes out. The columns are exactly the
fields controller.imports reads (`FIELDS`), headed by its Russian column labels, so a file exported,
edited in a spreadsheet and uploaded again previews only the edits. Every cell is written as the text
it holds: a value that starts with "=" is an XLSX text cell, never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from controller.imports import FIELDS, LABELS, PROGRESS_EVERY, SCHOOL_ROLES, Progress

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Column widths in the XLSX, in characters: enough for the usual value, not for the longest.
_WIDTHS = {"name": 48, "short_name": 28, "address": 40, "full_name": 32, "email": 28, "municipality": 28}


def headings(kind: str) -> list[str]:
    """Return the heading row of a `kind` list: the import's own column labels.

    In Russian whatever the UI's language: the import matches headings in Russian or as field names.
    """
    return [str(LABELS[field]) for field in FIELDS[kind]]


def school_cells(school: dict[str, Any]) -> list[str]:
    """Return a school's row: its municipality's name and its own fields, empty cells for NULLs."""
    return [school.get(field) or "" for field in FIELDS["schools"]]


def staff_cells(account: dict[str, Any]) -> list[str]:
    """Return an account's row: the role as its code, the node as a staff list names it.

    A school by its OGRN for school roles, a municipality by its name for municipal coordinators.
    """
    at_school = account["role"] in SCHOOL_ROLES
    node = {
        "school_ogrn": (account.get("school_ogrn") or "") if at_school else "",
        "municipality": "" if at_school else (account.get("municipality") or ""),
    }
    return [node[field] if field in node else account.get(field) or "" for field in FIELDS["staff"]]


_CELLS = {"schools": school_cells, "staff": staff_cells}


def write(
    kind: str, file_format: str, rows: Iterable[dict[str, Any]], title: str, progress: Progress | None = None
) -> bytes:
    """Return the file of `rows` (schools or accounts as the store gives them) in `file_format`.

    `title` names the XLSX sheet; `progress` is called every PROGRESS_EVERY rows, as while importing.
    """
    lines = _lines(kind, rows, progress)
    return _csv(lines) if file_format == "csv" else _xlsx(kind, lines, title)


def _lines(kind: str, rows: Iterable[dict[str, Any]], progress: Progress | None) -> Iterator[list[str]]:
    yield headings(kind)
    cells = _CELLS[kind]
    for number, row in enumerate(rows, start=1):
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(number, None)
        yield cells(row)


def _csv(lines: Iterator[list[str]]) -> bytes:
    # ";" and the BOM: what Russian Excel opens as columns in UTF-8 with a double click.
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(lines)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _xlsx(kind: str, lines: Iterator[list[str]], title: str) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title(title))
    sheet.freeze_panes = "A2"
    for index, field in enumerate(FIELDS[kind]):
        sheet.column_dimensions[get_column_letter(index + 1)].width = _WIDTHS.get(field, 16)
    for values in lines:
        sheet.append([_text_cell(sheet, value) for value in values])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text_cell(sheet: Any, value: str) -> str | WriteOnlyCell | None:
    """Return what to append for one value: nothing for an empty cell, the text, or a text cell for "=…".

    Control characters are not allowed in XLSX at all; "=…" is kept as text, never run as a formula.
    """
    if not value:
        return None
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def sheet_title(title: str) -> str:
    """Return `title` as Excel allows a sheet's name: up to 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()
    return cleaned[:31] or "Sheet"
