"""Casts: what was sent to which panel, and what the panel answered."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from controller.timeutil import now_iso


def create_cast(db: Database, panel: dict[str, Any], user_id: int | None, item: dict[str, Any]) -> int:
    row = {
        "panel_id": panel["id"],
        "room_id": panel["room_id"],
        "user_id": user_id,
        "kind": item["kind"],
        "content_sha256": item.get("sha256"),
        "url": item.get("url"),
        "title": item["title"],
        "status": "sent",
        "created_at": now_iso(),
    }
    return db["cast"].insert(row).last_pk


def record_answer(db: Database, cast_id: int, answer: dict[str, Any]) -> None:
    """Keep the panel's answer to a cast: shown (with its time) or failed (with the reason)."""
    if answer.get("ok"):
        db["cast"].update(cast_id, {"status": "shown", "shown_at": answer.get("shown_at"), "error": None})
    else:
        db["cast"].update(cast_id, {"status": "failed", "error": str(answer.get("error", "unknown"))[:80]})


def get_cast(db: Database, cast_id: int) -> dict[str, Any] | None:
    return next(iter(db.query('SELECT * FROM "cast" WHERE id = ?', [cast_id])), None)


def count_by_status(db: Database) -> dict[str, int]:
    return {
        row["status"]: row["n"]
        for row in db.query('SELECT status, count(*) AS n FROM "cast" GROUP BY status')
    }
