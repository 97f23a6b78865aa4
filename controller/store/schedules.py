"""Rooms' screen schedules and the schools' bell-schedule files, as the database keeps them.

A room has at most one schedule: the text school IT uploaded (for download) and the checked document
with its materials resolved (what panels are sent), named by its revision. A school's bell files are
kept by name, so a room's schedule that names one (`bells: bells-school.yaml`) finds it later.
Checking an upload is controller.schedules; this module only reads and writes rows.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from controller.timeutil import now_iso, zone_of


def room_schedule(db: Database, room_id: int) -> dict[str, Any] | None:
    """Return the room's schedule (its document parsed, the uploader's name, the room's active panels)."""
    sql = """SELECT rs.room_id, rs.title, rs.file_name, rs.revision, rs.uploaded_at, rs.document,
            u.full_name AS uploaded_by,
            (SELECT count(*) FROM panel p WHERE p.room_id = rs.room_id AND p.state = 'active') AS panels
        FROM room_schedule rs LEFT JOIN user u ON u.id = rs.uploaded_by WHERE rs.room_id = ?"""
    row = next(iter(db.query(sql, [room_id])), None)
    return row and {**row, "document": json.loads(row["document"])}


def source(db: Database, room_id: int) -> tuple[str, str] | None:
    """Return the file name and the text uploaded as the room's schedule, or None."""
    row = db.execute("SELECT file_name, source FROM room_schedule WHERE room_id = ?", [room_id]).fetchone()
    return row and (row[0], row[1])


def bell_files(db: Database, school_id: int) -> dict[str, str]:
    """Return the school's bell files, name → text."""
    rows = db.execute("SELECT name, text FROM schedule_file WHERE school_id = ?", [school_id])
    return dict(rows.fetchall())


def save(
    db: Database,
    room_id: int,
    kept: dict[str, Any],
    bells: dict[str, str],
    user_id: int | None,
) -> None:
    """Keep `kept` (title, file_name, source, document, revision) as the room's schedule, and `bells`
    (name → text) as its school's bell files, replacing those of the same names."""
    at = now_iso()
    db["room_schedule"].upsert(
        {**kept, "room_id": room_id, "uploaded_by": user_id, "uploaded_at": at}, pk="room_id"
    )
    school_id = db.execute("SELECT school_id FROM room WHERE id = ?", [room_id]).fetchone()[0]
    for name, text in bells.items():
        db["schedule_file"].upsert(
            {"school_id": school_id, "name": name, "text": text, "uploaded_by": user_id, "uploaded_at": at},
            pk=("school_id", "name"),
        )


def remove(db: Database, room_id: int) -> dict[str, Any] | None:
    """Delete the room's schedule; return its file name and revision, or None if it had none."""
    row = next(
        iter(db.query("SELECT file_name, revision FROM room_schedule WHERE room_id = ?", [room_id])), None
    )
    if row is not None:
        db.execute("DELETE FROM room_schedule WHERE room_id = ?", [room_id])
    return row


def for_panel(db: Database, panel_id: int) -> dict[str, Any] | None:
    """Return the schedule of the panel's room as the panel is sent it (docs/protocol.md), or None."""
    sql = """SELECT rs.revision, rs.title, s.timezone, rs.document FROM panel p
        JOIN room_schedule rs ON rs.room_id = p.room_id JOIN school s ON s.id = p.school_id WHERE p.id = ?"""
    row = db.execute(sql, [panel_id]).fetchone()
    if row is None:
        return None
    revision, title, timezone, document = row
    return {
        "revision": revision,
        "title": title,
        "timezone": zone_of(timezone).key,  # one a panel can use
        "document": json.loads(document),
    }
