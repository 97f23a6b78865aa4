"""Panels: enrolment, their credentials, and who is who when one connects."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlite_utils import Database

from controller.timeutil import now_iso


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enroll_panel(db: Database, room_id: int, name: str, curve_public_key: str) -> tuple[int, str]:
    """Return the new panel's id and its token, the only time the token exists outside the panel."""
    room = db["room"].get(room_id)
    token = secrets.token_urlsafe(32)
    panel_id = (
        db["panel"]
        .insert(
            {
                "school_id": room["school_id"],
                "room_id": room_id,
                "name": name,
                "state": "active",
                "token_hash": token_hash(token),
                "curve_public_key": curve_public_key,
                "created_at": now_iso(),
            }
        )
        .last_pk
    )
    return panel_id, token


def panel_by_token(db: Database, token: str) -> dict[str, Any] | None:
    """Return the active panel that holds `token`, or None."""
    rows = db.query("SELECT * FROM panel WHERE token_hash = ? AND state = 'active'", [token_hash(token)])
    return next(iter(rows), None)


def panel_id_by_key(db: Database, curve_public_key: str) -> int | None:
    """Return the id of the active panel whose CURVE public key (Z85) this is, or None."""
    rows = db.query(
        "SELECT id FROM panel WHERE curve_public_key = ? AND state = 'active'", [curve_public_key]
    )
    row = next(iter(rows), None)
    return row["id"] if row else None


def panels_of_room(db: Database, room_id: int) -> list[dict[str, Any]]:
    return list(
        db.query("SELECT * FROM panel WHERE room_id = ? AND state = 'active' ORDER BY name", [room_id])
    )


def mark_connected(
    db: Database, panel_id: int, player_version: str | None, address: str | None = None
) -> None:
    changes = {"last_seen_at": now_iso(), "player_version": player_version, "last_address": address}
    db["panel"].update(panel_id, changes)


def rotate_credentials(db: Database, panel_id: int, curve_public_key: str | None = None) -> str | None:
    """Return the panel's new token (None if there is no active panel `panel_id`); the old one stops working.

    With `curve_public_key`, the panel's ZeroMQ key is replaced too (the panel made a new key pair).
    """
    active = db.execute("SELECT 1 FROM panel WHERE id = ? AND state = 'active'", [panel_id]).fetchone()
    if active is None:
        return None
    token = secrets.token_urlsafe(32)
    changes: dict[str, Any] = {"token_hash": token_hash(token)}
    if curve_public_key is not None:
        changes["curve_public_key"] = curve_public_key
    db["panel"].update(panel_id, changes)
    return token


def touch(db: Database, panel_ids: list[int]) -> None:
    """Mark these panels seen now: they are connected (or just were), whether or not their agent reports."""
    if panel_ids:
        marks = ", ".join("?" for _ in panel_ids)
        db.execute(f"UPDATE panel SET last_seen_at = ? WHERE id IN ({marks})", [now_iso(), *panel_ids])
