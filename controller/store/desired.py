"""Desired state: what each panel should be showing and doing, held by the controller.

A panel that connects is sent the whole of it (never the changes it missed), so a panel that was
offline, restarted or replaced its SD card converges on the same screen. Each change bumps the
version; the panel acknowledges the version it applied.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlite_utils import Database

from controller.store import alerts, schedules

EMPTY: dict[str, Any] = {"show": None}  # what is kept per panel; the schedule and the alert are not


def get(db: Database, panel_id: int) -> dict[str, Any]:
    """Return the panel's desired state: {"version", "show", "schedule", "alert", "panel"}.

    The alert is not kept per panel: it is the one active for the panel's school (or municipality)
    now, so an alert reaches every panel of its scope, those that connect later too. Nor is the
    schedule: it is the one of the panel's room now, so a panel moved to another room follows that one.
    """
    row = db.execute("SELECT version, state FROM panel_desired WHERE panel_id = ?", [panel_id]).fetchone()
    version, state = (row[0], json.loads(row[1])) if row else (0, dict(EMPTY))
    names = _names(db, panel_id)
    school = db.execute("SELECT school_id FROM panel WHERE id = ?", [panel_id]).fetchone()
    alert = alerts.active_for_schools(db, [school[0]]).get(school[0]) if school else None
    schedule = schedules.for_panel(db, panel_id)
    return {
        "version": version,
        **EMPTY,
        **state,
        "schedule": schedule,
        "alert": alert_message(alert),
        "panel": names,
    }


def alert_message(alert: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return an alert as panels receive it (docs/protocol.md), or None for no alert."""
    if alert is None:
        return None
    return {"id": str(alert["id"]), "title": alert["title"], "text": alert["text"], "level": alert["level"]}


def _names(db: Database, panel_id: int) -> dict[str, Any]:
    row = next(
        iter(
            db.query(
                """SELECT p.id, p.name, r.name AS room, s.short_name AS school FROM panel p
                   JOIN school s ON s.id = p.school_id LEFT JOIN room r ON r.id = p.room_id
                   WHERE p.id = ?""",
                [panel_id],
            )
        ),
        None,
    )
    return row or {"id": panel_id, "name": "", "room": None, "school": None}


def update(db: Database, panel_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change parts of the panel's desired state (its "show"); return the new whole state."""
    unknown = set(changes) - set(EMPTY)
    if unknown:
        raise ValueError(f"not part of the desired state: {sorted(unknown)}")
    current = get(db, panel_id)
    state = {key: current[key] for key in EMPTY} | changes
    db.execute(
        """INSERT INTO panel_desired (panel_id, version, state, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (panel_id) DO UPDATE SET version = excluded.version, state = excluded.state,
               updated_at = excluded.updated_at""",
        [panel_id, current["version"] + 1, json.dumps(state, ensure_ascii=False), time.time()],
    )
    return get(db, panel_id)
