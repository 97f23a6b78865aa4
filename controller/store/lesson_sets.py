"""A teacher's saved lesson sets: ordered lists of materials and links, kept to be cast in class."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from controller.timeutil import now_iso

MAX_ITEMS = 100


def of_user(db: Database, user_id: int) -> list[dict[str, Any]]:
    """Return the teacher's sets, newest first, each with its items in order."""
    sets = list(db.query("SELECT * FROM lesson_set WHERE user_id = ? ORDER BY updated_at DESC", [user_id]))
    for lesson_set in sets:
        lesson_set["items"] = items_of(db, lesson_set["id"])
    return sets


def get(db: Database, set_id: int) -> dict[str, Any] | None:
    row = next(iter(db.query("SELECT * FROM lesson_set WHERE id = ?", [set_id])), None)
    if row is not None:
        row["items"] = items_of(db, set_id)
    return row


def items_of(db: Database, set_id: int) -> list[dict[str, Any]]:
    """Return the set's items in order: {"material", "url", "title", "kind"} (kind: the material's)."""
    return list(
        db.query(
            """SELECT i.position, i.material_id AS material, i.url, i.title,
                      coalesce(c.kind, CASE WHEN i.url IS NOT NULL THEN 'page' END) AS kind
               FROM lesson_set_item i LEFT JOIN material m ON m.id = i.material_id
               LEFT JOIN content c ON c.sha256 = m.content_sha256
               WHERE i.set_id = ? ORDER BY i.position""",
            [set_id],
        )
    )


def create(db: Database, school_id: int, user_id: int, title: str, items: list[dict[str, Any]]) -> int:
    now = now_iso()
    row = {"school_id": school_id, "user_id": user_id, "title": title, "created_at": now, "updated_at": now}
    set_id = db["lesson_set"].insert(row).last_pk
    _put_items(db, set_id, items)
    return set_id


def replace(db: Database, set_id: int, title: str, items: list[dict[str, Any]]) -> None:
    """Give the set a new title and item list (the whole list: an edit of the order is a new list)."""
    db["lesson_set"].update(set_id, {"title": title, "updated_at": now_iso()})
    db.execute("DELETE FROM lesson_set_item WHERE set_id = ?", [set_id])
    _put_items(db, set_id, items)


def delete(db: Database, set_id: int) -> None:
    db.execute("DELETE FROM lesson_set_item WHERE set_id = ?", [set_id])
    db.execute("DELETE FROM lesson_set WHERE id = ?", [set_id])


def _put_items(db: Database, set_id: int, items: list[dict[str, Any]]) -> None:
    rows = [
        {
            "set_id": set_id,
            "position": position,
            "material_id": item.get("material"),
            "url": item.get("url"),
            "title": item["title"],
        }
        for position, item in enumerate(items)
    ]
    if rows:
        db["lesson_set_item"].insert_all(rows)
