"""Reading a school list or a staff list (CSV or XLSX): its rows, checked one by one.

Nothing here touches the database. `parse` turns a file into good records and bad rows;
controller.import_plan then compares the records with the importer's scope. A bad row costs only
itself: it is listed with its row number as the spreadsheet shows it (the headings are row 1), its
field and the reason, and the good rows go on.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import openpyxl

from classcast.i18n import N_, Message
from controller import timeutil
from controller.import_columns import HEADINGS, ROLE_WORDS, heading_key, name_key
from controller.store import registry, users

KINDS = ("schools", "staff")
KEY = {"schools": "ogrn", "staff": "login"}
FIELDS = {
    "schools": ("municipality", "name", "short_name", "ogrn", "inn", "address", "timezone"),
    "staff": ("login", "full_name", "email", "role", "school_ogrn", "municipality"),
}
REQUIRED_COLUMNS = {"schools": ("ogrn", "name"), "staff": ("login", "full_name", "role")}
LABELS = {
    "municipality": N_("Муниципалитет"),
    "name": N_("Название"),
    "short_name": N_("Краткое название"),
    "ogrn": N_("ОГРН"),
    "inn": N_("ИНН"),
    "address": N_("Адрес"),
    "timezone": N_("Часовой пояс"),
    "login": N_("Логин"),
    "full_name": N_("ФИО"),
    "email": N_("Электронная почта"),
    "role": N_("Роль"),
    "school_ogrn": N_("ОГРН школы"),
}
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 60
SCHOOL_ROLES = ("teacher", "school_it")
STAFF_ROLES = (*SCHOOL_ROLES, "municipal")
DEFAULT_TIMEZONE = timeutil.DEFAULT_TIMEZONE
REQUIRED = N_("Обязательное поле.")

# (rows read so far, rows in the file if known): called every PROGRESS_EVERY rows while reading.
Progress = Callable[[int, int | None], None]
PROGRESS_EVERY = 1000


class FileRefused(ValueError):
    """The file as a whole cannot be imported (format, size, headings); `message` says why, for people."""

    def __init__(self, text: str, **values: object) -> None:
        self.message = Message(text, values)
        super().__init__(str(self.message))


@dataclass
class Parsed:
    """A file's rows, checked one by one: the good records and the bad rows with their reasons."""

    kind: str
    columns: list[str]  # the fields the file has a column for
    headings: dict[str, str]  # field -> its heading as the file spells it
    ignored: list[str] = field(default_factory=list)  # headings that name no field
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (row number, fields)
    bad: list[dict[str, Any]] = field(default_factory=list)
    mentioned: set[str] = field(default_factory=set)  # keys named by bad rows: never archived for it
    rows: int = 0  # data rows read, empty ones not counted
    seen: dict[str, int] = field(default_factory=dict)  # key -> the row of its first good record

    def keys(self) -> set[str]:
        """Return every key the file names, in good rows and bad ones."""
        return {values[KEY[self.kind]] for _, values in self.records} | self.mentioned

    def problem(self, row: int, field_name: str, reason: str | Message) -> dict[str, Any]:
        """Return a bad-row entry: where (row, field, the file's heading) and why (a marked message)."""
        text, values = (reason.text, dict(reason.values)) if isinstance(reason, Message) else (reason, {})
        column = self.headings.get(field_name, field_name)
        return {"row": row, "field": field_name, "column": column, "reason": text, "values": values}

    def to_json(self) -> dict[str, Any]:
        fields = FIELDS[self.kind]
        records = [[row, *(values[f] for f in fields)] for row, values in self.records]
        return {
            **{
                name: getattr(self, name)
                for name in ("kind", "columns", "headings", "ignored", "bad", "rows")
            },
            "records": records,
            "mentioned": sorted(self.mentioned),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parsed:
        fields = FIELDS[data["kind"]]
        records = [(rec[0], dict(zip(fields, rec[1:], strict=True))) for rec in data["records"]]
        return cls(**{**data, "records": records, "mentioned": set(data["mentioned"])})


def school_mention(municipality: str, name: str) -> str:
    """Return how a bad row without an OGRN names its school, to keep that school from being archived."""
    return f"name:{name_key(municipality)}|{name_key(name)}"


def reason_text(entry: dict[str, Any]) -> str:
    """Return a bad row's reason in Russian (the web layer translates it instead)."""
    return str(Message(entry["reason"], entry["values"]))


# --- reading the file ------------------------------------------------------------------------------


def parse(kind: str, data: bytes, progress: Progress | None = None) -> Parsed:
    """Return the file's records checked one by one; raise FileRefused if it cannot be read as a list."""
    if len(data) > MAX_BYTES:
        raise FileRefused(N_("Файл больше %(limit)d МБ: разделите список на части."), limit=MAX_BYTES >> 20)
    with closing(rows_of(data, progress)) as rows:
        first = next(rows, None)
        if first is None:
            raise FileRefused(N_("Файл пуст."))
        parsed, index = _start(kind, first[1])
        for number, cells in rows:
            parsed.rows += 1
            if parsed.rows > MAX_ROWS:
                raise FileRefused(N_("В файле больше %(limit)d строк: разделите список."), limit=MAX_ROWS)
            values = {f: cells[i] if i < len(cells) else "" for f, i in index.items()}
            _take(parsed, number, values)
    return parsed


def rows_of(data: bytes, progress: Progress | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number as the spreadsheet shows it, cells as text) for each row that is not empty."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data, progress)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(N_("Формат XLS (Excel 97–2003) не читается: сохраните файл как XLSX или CSV."))
    return _csv_rows(_decode(data), progress)


def _decode(data: bytes) -> str:
    # UTF-8 (with or without the BOM Excel writes) first: a cp1251 reading never fails, so it goes last.
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise FileRefused(N_("Файл не похож на CSV или XLSX: сохраните список как CSV (UTF-8) или XLSX."))


def _csv_rows(text: str, progress: Progress | None) -> Iterator[tuple[int, list[str]]]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Russian Excel writes ";", others ","; a heading rarely holds a delimiter, so the first line decides.
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    total = text.count("\n") + 1
    try:
        yield from _numbered(reader, total, progress)
    except csv.Error as exc:
        raise FileRefused(
            N_("Строка %(row)d: CSV испорчен (%(error)s)."), row=reader.line_num, error=exc
        ) from None


def _xlsx_rows(data: bytes, progress: Progress | None) -> Iterator[tuple[int, list[str]]]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - a damaged file raises anything from zipfile to XML parsers
        raise FileRefused(N_("Не удалось прочитать XLSX: файл повреждён или это не таблица.")) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)  # not max_col: it pads every row to that width
        yield from _numbered(rows, sheet.max_row, progress)
    except FileRefused:
        raise
    except Exception:  # noqa: BLE001 - as above, for damage found while reading the sheet
        raise FileRefused(N_("Не удалось прочитать XLSX: файл повреждён или это не таблица.")) from None
    finally:
        book.close()


def _numbered(rows: Any, total: int | None, progress: Progress | None) -> Iterator[tuple[int, list[str]]]:
    for number, cells in enumerate(rows, start=1):
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(number, total)
        texts = [_text(cell) for cell in cells[:MAX_COLUMNS]]
        if any(texts):
            yield number, texts


def _text(value: Any) -> str:
    """Return a cell as the text it shows; a formula stays the text it is, never evaluated."""
    if type(value) is str:  # nearly every cell: the quick way first
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an OGRN that Excel turned into a number
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _start(kind: str, headings: list[str]) -> tuple[Parsed, dict[str, int]]:
    accepted = {heading_key(str(LABELS[f])): f for f in FIELDS[kind]}
    for field_name, words in HEADINGS[kind].items():
        accepted.update({heading_key(w): field_name for w in (field_name, *words)})
    index: dict[str, int] = {}
    parsed = Parsed(kind, [], {})
    for position, heading in enumerate(headings):
        field_name = accepted.get(heading_key(heading))
        if field_name is None:
            parsed.ignored += [heading] if heading else []
        elif field_name in index:
            raise FileRefused(N_("Столбец «%(column)s» встречается дважды."), column=heading)
        else:
            index[field_name] = position
            parsed.headings[field_name] = heading
    for needed in REQUIRED_COLUMNS[kind]:
        if needed not in index:
            raise missing_column(needed)
    parsed.columns = [f for f in FIELDS[kind] if f in index]
    return parsed, index


def missing_column(field_name: str) -> FileRefused:
    return FileRefused(
        N_("В файле нет столбца «%(column)s» (%(field)s); заголовки — в первой строке."),
        column=LABELS[field_name],
        field=field_name,
    )


def _take(parsed: Parsed, row: int, values: dict[str, str]) -> None:
    check = _check_school if parsed.kind == "schools" else _check_staff
    record, problems = check(values)
    key = record.get(KEY[parsed.kind]) or values.get(KEY[parsed.kind])
    if key in parsed.seen:
        repeat = Message(N_("Повтор: это значение уже было в строке %(row)d."), {"row": parsed.seen[key]})
        problems.append((KEY[parsed.kind], repeat))
    if problems:
        parsed.bad += [parsed.problem(row, f, reason) for f, reason in problems]
        if key:
            parsed.mentioned.add(key)
        elif parsed.kind == "schools" and values.get("name"):
            # A school entered by hand has no OGRN: its row is bad, but it still names the school.
            parsed.mentioned.add(school_mention(values.get("municipality", ""), values["name"]))
    else:
        parsed.records.append((row, record))
        parsed.seen[key] = row


# --- checking a row on its own ---------------------------------------------------------------------

Problems = list[tuple[str, str | Message]]
_OGRN_WRONG = N_("ОГРН — 13 цифр с верной контрольной цифрой.")


def _check_school(values: dict[str, str]) -> tuple[dict[str, Any], Problems]:
    school_kind = registry.KINDS["school"]
    body = {f: values.get(f, "") for f in school_kind.fields}
    body["short_name"] = body["short_name"] or body["name"][:120]  # lists often have the full name only
    body["inn"] = _inn_padded(body["inn"])
    problems: Problems = [] if body["ogrn"] else [("ogrn", REQUIRED)]
    try:
        record = registry.clean(school_kind, body, creating=True)
    except registry.Invalid as exc:
        # An empty short name is made from the name: when both are empty, the fault is the name's alone.
        faults = [(f, why) for f, why in exc.fields.items() if f != "short_name" or values.get("short_name")]
        return {"ogrn": body["ogrn"]}, problems + faults
    return {"municipality": values.get("municipality", ""), **record}, problems


@functools.lru_cache(maxsize=256)
def _role(text: str) -> str | None:
    """Return the role a cell of the role column names (a file repeats a handful of words)."""
    return ROLE_WORDS.get(heading_key(text))


def _inn_padded(inn: str) -> str:
    # Excel drops the leading zero of an INN kept as a number (0105…, Adygea); the check digit confirms it.
    return "0" + inn if len(inn) == 9 and inn.isdigit() and registry.inn_ok("0" + inn) else inn


def _check_staff(values: dict[str, str]) -> tuple[dict[str, Any], Problems]:
    problems: Problems = [(f, REQUIRED) for f in ("login", "full_name", "role") if not values.get(f)]
    role = _role(values.get("role", ""))
    if values.get("role") and role is None:
        problems.append(
            ("role", N_("Роль: teacher, school_it или municipal (учитель, администратор ОО, МОУО)."))
        )
    given = {f: values[f] for f in ("login", "full_name", "email") if values.get(f)}
    try:
        given = users.clean_account(given, creating=False)  # the same rules as the accounts API
    except users.AccountInvalid as exc:
        problems += list(exc.fields.items())
    school_ogrn = values.get("school_ogrn", "") if role in SCHOOL_ROLES else ""
    if school_ogrn and not registry.ogrn_ok(school_ogrn):
        problems.append(("school_ogrn", _OGRN_WRONG))
    record = {
        "login": given.get("login", values.get("login", "")),
        "full_name": given.get("full_name"),
        "email": given.get("email"),
        "role": role,
        "school_ogrn": school_ogrn or None,
        "municipality": (values.get("municipality") or None) if role == "municipal" else None,
    }
    return record, problems
