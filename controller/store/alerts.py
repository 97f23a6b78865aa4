"""Alerts to a whole school or municipality, and which of its panels acknowledged each."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

_PANELS_OF = {
    "school": "SELECT id FROM panel WHERE school_id = ? AND state = 'active'",
    "municipality": """SELECT p.id FROM panel p JOIN school s ON s.id = p.school_id
                       WHERE s.municipality_id = ? AND p.state = 'active'""",
}
_SCOPE_NAME = {
    "school": "SELECT short_name AS name FROM school WHERE id = ?",
    "municipality": "SELECT name FROM municipality WHERE id = ?",
}


def create(
    db: Database, node_type: str, node_id: int, title: str, text: str, level: str, sender_id: int | None
) -> tuple[int, list[int]]:
    """Record an alert and the panels it is for (each waiting for its ack); return (id, panel ids)."""
    row = {
        "node_type": node_type,
        "node_id": node_id,
        "title": title,
        "text": text,
        "level": level,
        "sender_id": sender_id,
        "created_at": time.time(),
    }
    alert_id = db["alert"].insert(row).last_pk
    panel_ids = [r[0] for r in db.execute(_PANELS_OF[node_type], [node_id]).fetchall()]
    db.conn.executemany(
        "INSERT INTO alert_ack (alert_id, panel_id) VALUES (?, ?)", [(alert_id, p) for p in panel_ids]
    )
    return alert_id, panel_ids


def clear(db: Database, alert_id: int, user_id: int | None) -> list[int]:
    """Mark the alert cleared; return the ids of the panels it was for."""
    db.execute(
        "UPDATE alert SET cleared_at = ?, cleared_by = ? WHERE id = ? AND cleared_at IS NULL",
        [time.time(), user_id, alert_id],
    )
    return [r[0] for r in db.execute("SELECT panel_id FROM alert_ack WHERE alert_id = ?", [alert_id])]


def record_answers(db: Database, answers: Iterable[tuple[int, int, float | None, str | None]]) -> None:
    """Keep panels' answers to alerts: (alert id, panel id, acked at or None, error or None)."""
    db.conn.executemany(
        """INSERT INTO alert_ack (alert_id, panel_id, acked_at, error) VALUES (?, ?, ?, ?)
           ON CONFLICT (alert_id, panel_id) DO UPDATE SET
               acked_at = coalesce(excluded.acked_at, acked_at), error = excluded.error""",
        list(answers),
    )


def get(db: Database, alert_id: int) -> dict[str, Any] | None:
    return next(iter(db.query("SELECT * FROM alert WHERE id = ?", [alert_id])), None)


def active(db: Database, node_type: str, node_id: int) -> list[dict[str, Any]]:
    """Return the alerts not yet cleared sent to exactly this node, newest first."""
    sql = """SELECT * FROM alert WHERE node_type = ? AND node_id = ? AND cleared_at IS NULL
             ORDER BY id DESC"""
    return list(db.query(sql, [node_type, node_id]))


def active_for_schools(db: Database, school_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Return the alert each school's panels show now (its own newest, else its municipality's)."""
    ids = sorted(set(school_ids))
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = db.query(
        f"""SELECT s.id AS school_id, a.* FROM school s JOIN alert a ON a.cleared_at IS NULL AND (
                (a.node_type = 'school' AND a.node_id = s.id)
                OR (a.node_type = 'municipality' AND a.node_id = s.municipality_id))
            WHERE s.id IN ({marks})
            ORDER BY a.node_type = 'school', a.id""",
        ids,
    )
    # Later rows win: a school's own alert over its municipality's, the newest over older ones.
    return {row.pop("school_id"): row for row in rows}


def summary(db: Database, alert: dict[str, Any], missing_limit: int = 500) -> dict[str, Any]:
    """Return the alert as its sender sees it: counts of panels acked and the panels that did not."""
    counts = db.execute(
        "SELECT count(*), count(acked_at) FROM alert_ack WHERE alert_id = ?", [alert["id"]]
    ).fetchone()
    missing = list(
        db.query(
            """SELECT p.id AS panel_id, p.name, r.name AS room, s.short_name AS school, k.error
               FROM alert_ack k JOIN panel p ON p.id = k.panel_id JOIN school s ON s.id = p.school_id
               LEFT JOIN room r ON r.id = p.room_id
               WHERE k.alert_id = ? AND k.acked_at IS NULL ORDER BY s.short_name, r.name, p.name
               LIMIT ?""",
            [alert["id"], missing_limit],
        )
    )
    name = db.execute(_SCOPE_NAME[alert["node_type"]], [alert["node_id"]]).fetchone()
    sender = db.execute("SELECT full_name FROM user WHERE id = ?", [alert["sender_id"]]).fetchone()
    return {
        **{key: alert[key] for key in ("id", "title", "text", "level", "created_at", "cleared_at")},
        "scope": {"type": alert["node_type"], "id": alert["node_id"], "name": name[0] if name else ""},
        "sender": sender[0] if sender else None,
        "total": counts[0],
        "acked": counts[1],
        "missing": missing,
    }
