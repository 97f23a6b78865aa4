"""A panel's life: pending → active (online, offline, silent) → revoked or decommissioned.

Only pending, active, revoked and decommissioned are stored (panel.state). Online, offline and silent
are how an active panel looks from its last contact, so they are computed when asked and always agree
with the clock: offline after `panel_offline_after_s` without contact, silent after
`panel_silent_after_days`. Revoking deletes the credentials and keeps their hashes, so that the
revoked device's later traffic is recognised, refused and counted.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from controller.timeutil import iso_from_unix

STATES = ("pending", "active", "revoked", "decommissioned")
# Rows for credentials nobody registered, kept per day: random tokens must not fill the disk.
MAX_UNKNOWN_PER_DAY = 10_000
# Contact attempts and remote actions are kept for three monthly reconciliations, then forgotten.
TRACE_RETENTION_S = 90 * 86400
STATUSES = ("pending", "online", "offline", "silent", "revoked", "decommissioned")


@dataclass(frozen=True)
class Thresholds:
    offline_after_s: float
    silent_after_s: float

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Thresholds:
        return cls(settings["panel_offline_after_s"], settings["panel_silent_after_days"] * 86400)


def status_sql(alias: str = "p") -> str:
    """Return an SQL expression for a panel's status; it reads :offline_before and :silent_before.

    Both are ISO times (UTC, as panel.last_seen_at): a contact older than :offline_before is offline,
    older than :silent_before silent. An active panel never seen counts from when it was paired.
    """
    seen = f"coalesce({alias}.last_seen_at, {alias}.paired_at, {alias}.created_at)"
    return f"""CASE WHEN {alias}.state != 'active' THEN {alias}.state
        WHEN {seen} < :silent_before THEN 'silent'
        WHEN {seen} < :offline_before THEN 'offline'
        ELSE 'online' END"""


def status_params(thresholds: Thresholds, now: float | None = None) -> dict[str, str]:
    now = time.time() if now is None else now
    return {
        "offline_before": iso_from_unix(now - thresholds.offline_after_s),
        "silent_before": iso_from_unix(now - thresholds.silent_after_s),
    }


def status_of(db: Database, panel_id: int, thresholds: Thresholds, now: float | None = None) -> str | None:
    row = db.execute(
        f"SELECT {status_sql()} FROM panel p WHERE p.id = :id",
        {"id": panel_id, **status_params(thresholds, now)},
    ).fetchone()
    return row[0] if row else None


def key_hash(curve_public_key: str) -> str:
    """Return how a CURVE public key is kept once revoked (and named in contact_attempt)."""
    return hashlib.sha256(curve_public_key.encode()).hexdigest()


def revoke(db: Database, panel_id: int, state: str = "revoked") -> dict[str, Any] | None:
    """Delete the panel's credentials, keeping their hashes; return the panel as it was, or None.

    `state` is "revoked" (the device pairs again, as a new panel) or "decommissioned" (out of the
    registry's counts for good). Only a pending or active panel holds credentials to revoke; a revoked
    panel may still be decommissioned.
    """
    panel = next(iter(db.query("SELECT * FROM panel WHERE id = ?", [panel_id])), None)
    if panel is None or panel["state"] == "decommissioned":
        return None
    if panel["state"] == "revoked" and state == "revoked":
        return None
    at = time.time()
    if panel["token_hash"]:
        db["revoked_credential"].upsert(
            {"hash": panel["token_hash"], "kind": "token", "panel_id": panel_id, "revoked_at": at}, pk="hash"
        )
    if panel["curve_public_key"]:
        db["revoked_credential"].upsert(
            {
                "hash": key_hash(panel["curve_public_key"]),
                "kind": "curve",
                "panel_id": panel_id,
                "revoked_at": at,
            },
            pk="hash",
        )
    changes: dict[str, Any] = {"state": state, "token_hash": None, "curve_public_key": None}
    changes["revoked_at" if state == "revoked" else "decommissioned_at"] = iso_from_unix(at)
    if state == "decommissioned" and not panel["revoked_at"]:
        changes["revoked_at"] = iso_from_unix(at)
    db["panel"].update(panel_id, changes)
    # The device's pairing requests may be approved again as a new panel: forget the old links.
    db.execute("DELETE FROM panel_desired WHERE panel_id = ?", [panel_id])
    return panel


def move(db: Database, panel_id: int, room_id: int) -> None:
    room = db["room"].get(room_id)
    db["panel"].update(panel_id, {"room_id": room_id, "school_id": room["school_id"]})


def record_contact(
    db: Database,
    channel: str,
    credential_hash: str,
    address: str | None,
    facts: dict[str, Any] | None = None,
) -> int | None:
    """Count one contact by a credential that is not (or no longer) registered; return its panel id.

    The panel id is that of the revoked panel the credential belonged to, or None for a device that
    was never registered (the reconciliation page lists those).
    """
    row = db.execute("SELECT panel_id FROM revoked_credential WHERE hash = ?", [credential_hash]).fetchone()
    panel_id = row[0] if row else None
    now = time.time()
    facts = facts or {}
    if panel_id is None and _unknown_flood(db, channel, credential_hash, now):
        return None
    db.execute(
        """INSERT INTO contact_attempt
               (channel, credential_hash, panel_id, serial, mac, model, address, first_at, last_at, attempts)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
           ON CONFLICT (channel, credential_hash) DO UPDATE SET
               attempts = attempts + 1, last_at = excluded.last_at, address = excluded.address,
               serial = coalesce(excluded.serial, serial), mac = coalesce(excluded.mac, mac),
               model = coalesce(excluded.model, model)""",
        [
            channel,
            credential_hash,
            panel_id,
            facts.get("serial"),
            facts.get("mac"),
            facts.get("model"),
            address,
            now,
            now,
        ],
    )
    return panel_id


def _unknown_flood(db: Database, channel: str, credential_hash: str, now: float) -> bool:
    known = db.execute(
        "SELECT 1 FROM contact_attempt WHERE channel = ? AND credential_hash = ?", [channel, credential_hash]
    ).fetchone()
    if known:
        return False
    recent = db.execute(
        "SELECT count(*) FROM contact_attempt WHERE panel_id IS NULL AND first_at > ?", [now - 86400]
    ).fetchone()[0]
    return recent >= MAX_UNKNOWN_PER_DAY


def record_refused_panel(db: Database, panel_id: int, channel: str, address: str | None) -> None:
    """Count one message from a panel whose credentials were revoked while it was connected."""
    row = db.execute(
        "SELECT hash FROM revoked_credential WHERE panel_id = ? AND kind = ?",
        [panel_id, "curve" if channel == "telemetry" else "token"],
    ).fetchone()
    record_contact(db, channel, row[0] if row else f"panel:{panel_id}", address)
    if row is None:  # revoked before its credentials were kept: attribute the row to the panel anyway
        db.execute(
            "UPDATE contact_attempt SET panel_id = ? WHERE channel = ? AND credential_hash = ?",
            [panel_id, channel, f"panel:{panel_id}"],
        )


def refused_count(db: Database, panel_id: int) -> int:
    """Return how many times a revoked panel's credentials were tried since it was revoked."""
    row = db.execute("SELECT coalesce(sum(attempts), 0) FROM contact_attempt WHERE panel_id = ?", [panel_id])
    return row.fetchone()[0]


def forget_old(db: Database, now: float | None = None) -> int:
    """Delete contact attempts and remote actions older than `TRACE_RETENTION_S`; return how many."""
    cutoff = (time.time() if now is None else now) - TRACE_RETENTION_S
    contacts = db.execute("DELETE FROM contact_attempt WHERE last_at < ?", [cutoff]).rowcount
    actions = db.execute("DELETE FROM panel_action WHERE requested_at < ?", [cutoff]).rowcount
    return contacts + actions
