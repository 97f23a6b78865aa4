"""Who has a room's screens now, with what, and where the remote stands (one cast per room at a time)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlite_utils import Database

from controller.timeutil import iso_from_unix


def get(db: Database, room_id: int) -> dict[str, Any] | None:
    """Return the room's cast ({"user_id", "item", "view", "lesson_set_id", "set_index", …}) or None."""
    row = next(iter(db.query("SELECT * FROM room_cast WHERE room_id = ?", [room_id])), None)
    return _decoded(row) if row else None


def of_rooms(db: Database, room_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Return the casts of these rooms by room id (rooms showing nothing are left out)."""
    marks = ", ".join("?" * len(room_ids))
    rows = db.query(f"SELECT * FROM room_cast WHERE room_id IN ({marks})", room_ids) if room_ids else []
    return {row["room_id"]: _decoded(row) for row in rows}


def start(
    db: Database,
    room_id: int,
    user_id: int | None,
    item: dict[str, Any],
    view: dict[str, Any],
    lesson_set: tuple[int, int] | None = None,
) -> None:
    """Make the room's cast this item (replacing any before it); `lesson_set` is (set id, index)."""
    now = time.time()
    set_id, index = lesson_set or (None, None)
    db.execute(
        """INSERT INTO room_cast (room_id, user_id, item, view, lesson_set_id, set_index, started_at,
               updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (room_id) DO UPDATE SET user_id = excluded.user_id, item = excluded.item,
               view = excluded.view, lesson_set_id = excluded.lesson_set_id,
               set_index = excluded.set_index, started_at = excluded.started_at,
               updated_at = excluded.updated_at""",
        [room_id, user_id, _json(item), _json(view), set_id, index, now, now],
    )


def set_view(db: Database, room_id: int, view: dict[str, Any]) -> None:
    db.execute(
        "UPDATE room_cast SET view = ?, updated_at = ? WHERE room_id = ?", [_json(view), time.time(), room_id]
    )


def clear(db: Database, room_id: int) -> None:
    db.execute("DELETE FROM room_cast WHERE room_id = ?", [room_id])


def usual_rooms(db: Database, user_id: int, days: int = 60) -> dict[int, int]:
    """Return how many times the teacher cast to each room in the last `days` days, by room id."""
    since = iso_from_unix(time.time() - days * 86400)
    rows = db.query(
        """SELECT room_id, count(DISTINCT created_at) AS n FROM "cast"
           WHERE user_id = ? AND created_at >= ? AND room_id IS NOT NULL GROUP BY room_id""",
        [user_id, since],
    )
    return {row["room_id"]: row["n"] for row in rows}


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "item": json.loads(row["item"]), "view": json.loads(row["view"])}


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)
