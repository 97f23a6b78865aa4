"""Pre-provisioning: a region's list of purchased panels, by serial, with the school each is meant for.

The file (CSV or XLSX, read as the registry imports are) has a serial and the school's OGRN on each
row, and optionally the room's name and the panel's name. Each row is checked on its own: a bad one
is reported with its row number and reason, the good ones are kept. A serial already listed and not
yet paired is updated; a serial that already belongs to a registered panel is reported.

When a panel with a listed serial asks for a pairing code, its school's IT sees it waiting and
confirms it with one click instead of typing the code (controller.web.pairing).
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from classcast.i18n import N_, Message
from controller import access
from controller.import_columns import PROVISION_HEADINGS, heading_key, name_key
from controller.imports import MAX_BYTES, MAX_ROWS, FileRefused, rows_of

FIELDS = ("serial", "school_ogrn", "room", "name")
LABELS = {
    "serial": N_("Серийный номер"),
    "school_ogrn": N_("ОГРН школы"),
    "room": N_("Кабинет"),
    "name": N_("Имя панели"),
}
MAX_SERIAL = 64


@dataclass
class Report:
    added: int = 0
    updated: int = 0
    bad_rows: list[dict[str, Any]] = field(default_factory=list)

    def bad(self, row: int, field_name: str, text: str, **values: object) -> None:
        self.bad_rows.append({"row": row, "field": field_name, "message": Message(text, values)})


def columns_of(headings: list[str]) -> dict[str, int]:
    """Return field -> column position; FileRefused when the serial or the school column is missing."""
    accepted = {heading_key(word): name for name, words in PROVISION_HEADINGS.items() for word in words}
    accepted |= {heading_key(str(label)): name for name, label in LABELS.items()}
    index: dict[str, int] = {}
    for position, heading in enumerate(headings):
        name = accepted.get(heading_key(heading))
        if name is not None and name not in index:
            index[name] = position
    for needed in ("serial", "school_ogrn"):
        if needed not in index:
            raise FileRefused(
                N_("В файле нет столбца «%(column)s» (%(field)s); заголовки — в первой строке."),
                column=LABELS[needed],
                field=needed,
            )
    return index


def load(db: Database, user: dict[str, Any], data: bytes) -> Report:
    """Add or update the file's provisions within the user's subtree; return what happened to each row."""
    if len(data) > MAX_BYTES:
        raise FileRefused(N_("Файл больше %(limit)d МБ: разделите список на части."), limit=MAX_BYTES >> 20)
    report, seen = Report(), set()
    with closing(rows_of(data)) as rows:
        first = next(rows, None)
        if first is None:
            raise FileRefused(N_("Файл пуст."))
        index = columns_of(first[1])
        for count, (number, cells) in enumerate(rows, start=1):
            if count > MAX_ROWS:
                raise FileRefused(N_("В файле больше %(limit)d строк: разделите список."), limit=MAX_ROWS)
            values = {name: cells[i] if i < len(cells) else "" for name, i in index.items()}
            _take(db, user, report, seen, number, values)
    return report


def _take(
    db: Database, user: dict[str, Any], report: Report, seen: set[str], row: int, values: dict[str, str]
) -> None:
    serial = values["serial"].strip()
    if not serial or len(serial) > MAX_SERIAL:
        report.bad(row, "serial", N_("Укажите серийный номер (до %(limit)d знаков)."), limit=MAX_SERIAL)
        return
    if serial in seen:
        report.bad(row, "serial", N_("Серийный номер %(serial)s уже есть выше в файле."), serial=serial)
        return
    seen.add(serial)
    school = _school(db, user, values["school_ogrn"].strip())
    if school is None:
        report.bad(row, "school_ogrn", N_("Школа с таким ОГРН не найдена в вашей части реестра."))
        return
    room_id = None
    if values.get("room", "").strip():
        room_id = _room(db, school, values["room"])
        if room_id is None:
            report.bad(row, "room", N_("В этой школе нет кабинета «%(room)s»."), room=values["room"].strip())
            return
    if db.execute(
        "SELECT 1 FROM panel WHERE serial = ? AND state IN ('pending', 'active')", [serial]
    ).fetchone():
        report.bad(row, "serial", N_("Панель %(serial)s уже зарегистрирована."), serial=serial)
        return
    record = {
        "serial": serial,
        "school_id": school,
        "room_id": room_id,
        "name": (values.get("name") or "").strip()[:100] or None,
    }
    existing = db.execute(
        "SELECT id FROM provision WHERE serial = ? AND panel_id IS NULL", [serial]
    ).fetchone()
    if existing:
        db["provision"].update(existing[0], record)
        report.updated += 1
    else:
        db["provision"].insert({**record, "created_by": user["id"], "created_at": time.time()})
        report.added += 1


def _school(db: Database, user: dict[str, Any], ogrn: str) -> int | None:
    row = db.execute("SELECT id FROM school WHERE ogrn = ? AND archived_at IS NULL", [ogrn]).fetchone()
    if row is None or not access.within(user, access.place_of(db, "school", row[0])):
        return None
    return row[0]


def _room(db: Database, school_id: int, name: str) -> int | None:
    rows = db.execute("SELECT id, name FROM room WHERE school_id = ? AND archived_at IS NULL", [school_id])
    return next((room_id for room_id, room in rows if name_key(room) == name_key(name)), None)


def waiting_for_school(db: Database, school_id: int, now: float | None = None) -> list[dict[str, Any]]:
    """Return the live pairings of the school's provisioned serials, for one-click confirmation.

    `conflict` is set when two waiting devices claim one serial: then neither is confirmed by a click,
    school IT types the code off the right screen.
    """
    rows = db.query(
        """SELECT w.code, w.serial, w.mac, w.model, w.os, w.curve_public_key, w.expires_at,
                  v.id AS provision_id, v.room_id, v.name, r.name AS room,
                  (SELECT count(*) FROM pairing o WHERE o.serial = w.serial AND o.state = 'waiting'
                       AND o.expires_at > :now) AS claims
           FROM pairing w JOIN provision v ON v.serial = w.serial AND v.panel_id IS NULL
           LEFT JOIN room r ON r.id = v.room_id
           WHERE w.state = 'waiting' AND w.expires_at > :now AND v.school_id = :school
           ORDER BY w.serial, w.created_at""",
        {"now": time.time() if now is None else now, "school": school_id},
    )
    return [{**row, "conflict": row.pop("claims") > 1} for row in rows]


def provision_for(db: Database, serial: str | None, school_id: int) -> dict[str, Any] | None:
    if not serial:
        return None
    rows = db.query(
        "SELECT * FROM provision WHERE serial = ? AND school_id = ? AND panel_id IS NULL", [serial, school_id]
    )
    return next(iter(rows), None)
