"""Incidents school IT is told of: a panel offline in school hours, overheating, short of disk,
under-volted, or its credentials used by a second device.

An incident opens once (a unique index allows one open incident per panel and kind) and resolves once;
each opening and resolution queues one message per configured channel in notification_outbox.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlite_utils import Database

KINDS = ("offline", "overheat", "low_disk", "undervoltage", "clone")


def open_incident(
    db: Database, panel_id: int, kind: str, detail: dict[str, Any] | None, channels: tuple[str, ...]
) -> int | None:
    """Open an incident unless one of this kind is open for the panel; return its id if opened."""
    if kind not in KINDS:
        raise ValueError(kind)
    if db.execute(
        "SELECT 1 FROM incident WHERE panel_id = ? AND kind = ? AND resolved_at IS NULL", [panel_id, kind]
    ).fetchone():
        return None
    school = db.execute("SELECT school_id FROM panel WHERE id = ?", [panel_id]).fetchone()
    if school is None:
        return None
    now = time.time()
    incident_id = (
        db["incident"]
        .insert(
            {
                "panel_id": panel_id,
                "school_id": school[0],
                "kind": kind,
                "opened_at": now,
                "detail": json.dumps(detail or {}, ensure_ascii=False),
            }
        )
        .last_pk
    )
    _queue(db, incident_id, "opened", channels, now)
    return incident_id


def resolve_incident(db: Database, panel_id: int, kind: str, channels: tuple[str, ...]) -> int | None:
    """Resolve the open incident of this kind for the panel; return its id, or None if none was open."""
    row = db.execute(
        "SELECT id FROM incident WHERE panel_id = ? AND kind = ? AND resolved_at IS NULL", [panel_id, kind]
    ).fetchone()
    if row is None:
        return None
    now = time.time()
    db["incident"].update(row[0], {"resolved_at": now})
    _queue(db, row[0], "resolved", channels, now)
    return row[0]


def _queue(db: Database, incident_id: int, event: str, channels: tuple[str, ...], now: float) -> None:
    for channel in channels:
        db["notification_outbox"].insert(
            {
                "incident_id": incident_id,
                "event": event,
                "channel": channel,
                "created_at": now,
                "next_attempt_at": now,
            }
        )


def flag_clone(
    db: Database, panel_id: int, channel: str, addresses: list[str], channels: tuple[str, ...]
) -> None:
    """Mark the panel as used by two devices at once (on `channel`) and open a `clone` incident."""
    detail = {"channel": channel, "addresses": addresses}
    db["panel"].update(panel_id, {"clone_seen_at": time.time(), "clone_detail": json.dumps(detail)})
    open_incident(db, panel_id, "clone", detail, channels)


def open_kinds(db: Database, panel_id: int) -> set[str]:
    rows = db.execute("SELECT kind FROM incident WHERE panel_id = ? AND resolved_at IS NULL", [panel_id])
    return {row[0] for row in rows}


def recent(
    db: Database, scope: tuple[str, list[Any]], resolved_since: float, limit: int = 200
) -> list[dict[str, Any]]:
    """Return the open incidents and those resolved since `resolved_since`, in a subtree, open first.

    `scope` is an SQL condition on region_id, municipality_id and school_id with its parameters
    (controller.access.scope_filter). Each row names its panel, room and school; detail is parsed.
    """
    where, params = scope
    rows = db.query(
        f"""SELECT * FROM (
                SELECT i.id, i.kind, i.opened_at, i.resolved_at, i.detail, p.id AS panel_id,
                       p.name AS panel_name, r.name AS room_name, s.id AS school_id,
                       s.short_name AS school_name, s.municipality_id, m.region_id
                FROM incident i JOIN panel p ON p.id = i.panel_id JOIN school s ON s.id = i.school_id
                JOIN municipality m ON m.id = s.municipality_id LEFT JOIN room r ON r.id = p.room_id
                WHERE i.resolved_at IS NULL OR i.resolved_at >= ?)
            WHERE {where}
            ORDER BY resolved_at IS NOT NULL, coalesce(resolved_at, opened_at) DESC, id DESC LIMIT ?""",
        [resolved_since, *params, limit],
    )
    return [{**row, "detail": json.loads(row["detail"]) if row["detail"] else {}} for row in rows]
