"""The registry's objects — regions, municipalities, schools, rooms — their fields, checks and changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlite_utils import Database

from classcast.i18n import N_, Message
from controller.timeutil import now_iso


class Invalid(ValueError):
    """Fields that failed their checks: field name -> the reason (marked N_), for the person who typed it."""

    def __init__(self, fields: dict[str, str | Message]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Kind:
    name: str
    table: str
    parent: str | None  # the kind one level up, whose id is the "<parent>_id" field
    fields: tuple[str, ...]  # editable fields, the parent's id not included
    required: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "region": Kind("region", "region", None, ("code", "name"), ("code", "name")),
    "municipality": Kind("municipality", "municipality", "region", ("name",), ("name",)),
    "school": Kind(
        "school",
        "school",
        "municipality",
        ("name", "short_name", "ogrn", "inn", "address", "timezone"),
        ("name", "short_name"),
    ),
    "room": Kind("room", "room", "school", ("name",), ("name",)),
}


def ogrn_ok(value: str) -> bool:
    """Return whether `value` is a legal entity's OGRN: 13 digits whose last is the check digit."""
    return bool(re.fullmatch(r"\d{13}", value)) and int(value[:12]) % 11 % 10 == int(value[12])


def inn_ok(value: str) -> bool:
    """Return whether `value` is a legal entity's INN: 10 digits whose last is the check digit."""
    if not re.fullmatch(r"\d{10}", value):
        return False
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return sum(w * int(d) for w, d in zip(weights, value, strict=False)) % 11 % 10 == int(value[9])


def _timezone_ok(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_CHECKS = {
    "code": (lambda v: bool(re.fullmatch(r"\d{2,3}", v)), N_("Код региона — 2 или 3 цифры.")),
    "ogrn": (ogrn_ok, N_("ОГРН — 13 цифр с верной контрольной цифрой.")),
    "inn": (inn_ok, N_("ИНН организации — 10 цифр с верной контрольной цифрой.")),
    "timezone": (_timezone_ok, N_("Часовой пояс в виде Europe/Moscow или Asia/Novosibirsk.")),
}
_MAX_LENGTH = {"name": 300, "short_name": 120, "address": 500}


def clean(kind: Kind, body: Any, *, creating: bool) -> dict[str, Any]:
    """Return the fields of `body` that `kind` accepts, trimmed and checked; raise Invalid otherwise."""
    if not isinstance(body, dict):
        raise Invalid({"_": N_("Нужен JSON-объект.")})
    row, errors = {}, {}
    for field in kind.fields:
        if field not in body:
            continue
        value = body[field]
        value = value.strip() if isinstance(value, str) else value
        if value in ("", None) and field not in kind.required:
            row[field] = None
            continue
        error = _field_error(field, value)
        if error:
            errors[field] = error
        else:
            row[field] = value
    if creating:
        errors.update(
            {f: N_("Обязательное поле.") for f in kind.required if not row.get(f) and f not in errors}
        )
    if errors:
        raise Invalid(errors)
    return row


def _field_error(field: str, value: Any) -> str | Message | None:
    if not isinstance(value, str):
        return N_("Нужна строка.")
    if len(value) > _MAX_LENGTH.get(field, 300):
        return Message(N_("Не длиннее %(limit)d символов."), {"limit": _MAX_LENGTH.get(field, 300)})
    check = _CHECKS.get(field)
    return check[1] if check and not check[0](value) else None


def create(db: Database, kind: Kind, row: dict[str, Any], parent_id: int | None) -> dict[str, Any]:
    if kind.parent:
        row = {**row, f"{kind.parent}_id": parent_id}
    _check_unique(db, kind, row, None)
    object_id = db[kind.table].insert(row).last_pk
    return db[kind.table].get(object_id)


def update(db: Database, kind: Kind, object_id: int, row: dict[str, Any]) -> dict[str, Any]:
    _check_unique(db, kind, row, object_id)
    if row:
        db[kind.table].update(object_id, row)
    return db[kind.table].get(object_id)


def archive(db: Database, kind: Kind, object_id: int) -> dict[str, Any]:
    """Return the object, archived (kept for the telemetry and history that refer to it, never deleted)."""
    db[kind.table].update(object_id, {"archived_at": now_iso()})
    return db[kind.table].get(object_id)


def _check_unique(db: Database, kind: Kind, row: dict[str, Any], object_id: int | None) -> None:
    for field, message in (
        ("code", N_("Регион с таким кодом уже есть.")),
        ("ogrn", N_("Школа с таким ОГРН уже есть.")),
    ):
        if row.get(field) and field in kind.fields:
            sql = f"SELECT id FROM {kind.table} WHERE {field} = ? AND id IS NOT ?"
            if next(iter(db.query(sql, [row[field], object_id])), None):
                raise Invalid({field: message})


def get(db: Database, kind: Kind, object_id: int) -> dict[str, Any] | None:
    return next(iter(db.query(f"SELECT * FROM {kind.table} WHERE id = ?", [object_id])), None)


_PLACE_COLUMNS = {
    "region": "region.id AS region_id, NULL AS municipality_id, NULL AS school_id",
    "municipality": "region_id, municipality.id AS municipality_id, NULL AS school_id",
    "school": "m.region_id AS region_id, school.municipality_id AS municipality_id, school.id AS school_id",
    "room": "m.region_id AS region_id, s.municipality_id AS municipality_id, room.school_id AS school_id",
}
_JOINS = {
    "region": "",
    "municipality": "",
    "school": "JOIN municipality m ON m.id = school.municipality_id",
    "room": "JOIN school s ON s.id = room.school_id JOIN municipality m ON m.id = s.municipality_id",
}


def listing(
    db: Database, kind: Kind, scope: tuple[str, list[Any]], parent_id: int | None, archived: bool
) -> list[dict[str, Any]]:
    """Return the objects of `kind` inside the scope condition, under `parent_id` if given, by name."""
    where, params = scope
    sql = f"""SELECT * FROM (SELECT {kind.table}.*, {_PLACE_COLUMNS[kind.name]} FROM {kind.table}
              {_JOINS[kind.name]}) WHERE ({where})"""
    if parent_id is not None and kind.parent:
        sql += f" AND {kind.parent}_id = ?"
        params = [*params, parent_id]
    if not archived:
        sql += " AND archived_at IS NULL"
    return list(db.query(sql + " ORDER BY name LIMIT 5000", params))
