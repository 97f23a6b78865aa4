"""What a room's screens show now, as the teacher's page sees it: owner, cast, view, each panel's answer."""

from __future__ import annotations

from typing import Any

from classcast.i18n import N_
from controller.store import alerts, desired, orgs, room_casts

# Why a panel did not show a cast, in words for the teacher (the panel's error codes: docs/protocol.md).
ERROR_TEXT = {
    "offline": N_("экран не в сети"),
    "no_answer": N_("экран не ответил"),
    "no_display": N_("на экране не запущена страница показа"),
    "timeout": N_("страница показа не подтвердила показ"),
    "fetch_failed": N_("экран не смог загрузить материал"),
    "checksum_mismatch": N_("материал повреждён при загрузке"),
    "bad_item": N_("экран не понял команду"),
    "not_shown": N_("на экране уже другой показ"),
    "bad_control": N_("экран не понял команду"),
    "replaced": N_("экрану уже отправлен другой показ"),
}


def snapshots(db: Any, hub: Any, rooms: list[dict[str, Any]], translate: Any) -> list[dict[str, Any]]:
    """Return the snapshot (contract: docs/casting.md) of each room, in the order given."""
    ids = [room["id"] for room in rooms]
    casts = room_casts.of_rooms(db, ids)
    panels = _panels_of(db, ids)
    answers = _last_answers(db, [p["id"] for group in panels.values() for p in group])
    shown_alerts = alerts.active_for_schools(db, {room["school_id"] for room in rooms})
    owners = _names(db, {c["user_id"] for c in casts.values() if c["user_id"] is not None})
    return [
        {
            "id": room["id"],
            "room_id": room["id"],
            "name": room["name"],
            "usual": bool(room.get("usual")),
            "owner": _owner(casts.get(room["id"]), owners),
            "cast": _cast(db, casts.get(room["id"])),
            "alert": desired.alert_message(shown_alerts.get(room["school_id"])),
            "panels": [
                _panel(p, hub.is_connected(p["id"]), casts.get(room["id"]), answers.get(p["id"]), translate)
                for p in panels.get(room["id"], [])
            ],
        }
        for room in rooms
    ]


def room_snapshot(db: Any, hub: Any, room_id: int, translate: Any) -> dict[str, Any] | None:
    room = orgs.get_room(db, room_id)
    return snapshots(db, hub, [room], translate)[0] if room else None


def _panels_of(db: Any, room_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    marks = ", ".join("?" * len(room_ids))
    by_room: dict[int, list[dict[str, Any]]] = {room_id: [] for room_id in room_ids}
    if room_ids:
        sql = f"""SELECT id, name, room_id FROM panel WHERE room_id IN ({marks}) AND state = 'active'
                  ORDER BY name"""
        for panel in db.query(sql, room_ids):
            by_room[panel["room_id"]].append(panel)
    return by_room


def _last_answers(db: Any, panel_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Return each panel's latest cast with its answer (status sent, shown or failed)."""
    if not panel_ids:
        return {}
    marks = ", ".join("?" * len(panel_ids))
    rows = db.query(
        f"""SELECT c.* FROM "cast" c JOIN (SELECT max(id) AS id FROM "cast" WHERE panel_id IN ({marks})
            GROUP BY panel_id) last ON last.id = c.id""",
        panel_ids,
    )
    return {row["panel_id"]: row for row in rows}


def _names(db: Any, user_ids: set[int]) -> dict[int, str]:
    marks = ", ".join("?" * len(user_ids))
    sql = f"SELECT id, full_name FROM user WHERE id IN ({marks})"
    return {row[0]: row[1] for row in db.execute(sql, list(user_ids)).fetchall()} if user_ids else {}


def _owner(cast: dict[str, Any] | None, names: dict[int, str]) -> dict[str, Any] | None:
    if cast is None or cast["user_id"] is None:
        return None
    return {"user_id": cast["user_id"], "name": names.get(cast["user_id"], "")}


def _cast(db: Any, cast: dict[str, Any] | None) -> dict[str, Any] | None:
    if cast is None:
        return None
    item = cast["item"]
    lesson_set = None
    if cast["lesson_set_id"] is not None:
        row = db.execute(
            """SELECT title, (SELECT count(*) FROM lesson_set_item WHERE set_id = s.id)
               FROM lesson_set s WHERE id = ?""",
            [cast["lesson_set_id"]],
        ).fetchone()
        if row is not None:
            index = cast["set_index"]
            lesson_set = {"id": cast["lesson_set_id"], "title": row[0], "index": index, "count": row[1]}
    return {
        "title": item.get("title", ""),
        "kind": item["kind"],
        "pages": pages_of(item),
        "view": cast["view"],
        "lesson_set": lesson_set,
    }


def pages_of(item: dict[str, Any]) -> int:
    """Return how many pages the item has: a PDF's count, 1 for most kinds, 0 for unknown (an HTML5
    bundle pages through its own slides, which only it knows)."""
    if item["kind"] == "pdf":
        return len(item["pages"])
    return 0 if item["kind"] == "html5" else 1


def _panel(
    panel: dict[str, Any],
    online: bool,
    cast: dict[str, Any] | None,
    last: dict[str, Any] | None,
    translate: Any,
) -> dict[str, Any]:
    status, shown_at, error = "idle", None, None
    if cast is not None and last is not None:
        status, shown_at, error = last["status"], last["shown_at"], last["error"]
    if not online:
        status = "offline"
    text = ERROR_TEXT.get(error) if error else None
    return {
        "panel_id": panel["id"],
        "name": panel["name"],
        "online": online,
        "status": status,
        "shown_at": shown_at,
        "error": error,
        "error_text": translate(text) if text else (error and translate(N_("ошибка"))),
    }
