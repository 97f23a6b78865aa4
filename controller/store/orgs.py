"""The registry: region → municipality → school → room."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database


def create_region(db: Database, code: str, name: str) -> int:
    return db["region"].insert({"code": code, "name": name}).last_pk


def create_municipality(db: Database, region_id: int, name: str) -> int:
    return db["municipality"].insert({"region_id": region_id, "name": name}).last_pk


def create_school(db: Database, municipality_id: int, name: str, short_name: str, **details: Any) -> int:
    row = {"municipality_id": municipality_id, "name": name, "short_name": short_name, **details}
    return db["school"].insert(row).last_pk


def create_room(db: Database, school_id: int, name: str) -> int:
    return db["room"].insert({"school_id": school_id, "name": name}).last_pk


def get_room(db: Database, room_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM room WHERE id = ? AND archived_at IS NULL", [room_id]))
    return rows[0] if rows else None


def rooms_of_school(db: Database, school_id: int) -> list[dict[str, Any]]:
    """Return the school's rooms in name order, each with its panels' count."""
    return list(
        db.query(
            """SELECT room.*, (SELECT count(*) FROM panel
                               WHERE panel.room_id = room.id AND panel.state = 'active') AS panels
               FROM room WHERE school_id = ? AND archived_at IS NULL ORDER BY name""",
            [school_id],
        )
    )
