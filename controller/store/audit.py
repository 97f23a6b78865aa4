"""The audit log: who did what to which object, when, from where, and how it ended. Append-only.

Nothing secret goes in: no passwords, tokens, session ids or journal content. Each row carries the
object's place in the hierarchy, so every subtree's staff read their own part and no more.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from controller.access import Place, scope_filter

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "create",
    "update",
    "archive",
    "import",
    "export",
    "denied",
    "enroll_panel",
    "revoke_panel",
    "decommission_panel",
    "move_panel",
    "panel_command",
    "cast",
    "alert",
    "proxy",  # a call to the main system (journal, library): metadata only, never content
)
_SECRET_WORDS = ("password", "token", "secret", "session")


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    login: str | None
    role: str | None
    ip: str | None

    @classmethod
    def of(cls, user: dict[str, Any] | None, ip: str | None) -> Actor:
        if user is None:
            return cls(None, None, None, ip)
        return cls(user["id"], user["login"], user["role"], ip)


def record(
    db: Database,
    actor: Actor,
    action: str,
    outcome: str = "ok",
    kind: str | None = None,
    object_id: int | None = None,
    place: Place | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the audit log (inside the caller's transaction)."""
    place = place or Place()
    db["audit_event"].insert(
        {
            "at": time.time(),
            "actor_user_id": actor.user_id,
            "actor_login": actor.login,
            "actor_role": actor.role,
            "action": action,
            "object_kind": kind,
            "object_id": object_id,
            "region_id": place.region_id,
            "municipality_id": place.municipality_id,
            "school_id": place.school_id,
            "ip": actor.ip,
            "outcome": outcome,
            "detail": json.dumps(_without_secrets(detail), ensure_ascii=False) if detail else None,
        }
    )


def _without_secrets(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if not any(word in k.lower() for word in _SECRET_WORDS)}


def search(
    db: Database,
    user: dict[str, Any],
    filters: dict[str, Any],
    limit: int = 200,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Return the newest audit events in the user's subtree that match `filters`, newest first."""
    where, params = scope_filter(user)
    # Sign-ins and other events without an object are scoped by the actor's own place.
    conditions = [f"({where})"]
    for column in ("action", "object_kind", "outcome", "actor_login"):
        if filters.get(column):
            conditions.append(f"{column} = ?")
            params.append(filters[column])
    if filters.get("object_id"):
        conditions.append("object_id = ?")
        params.append(int(filters["object_id"]))
    if filters.get("since"):
        conditions.append("at >= ?")
        params.append(float(filters["since"]))
    if before_id:
        conditions.append("id < ?")
        params.append(before_id)
    sql = f"SELECT * FROM audit_event WHERE {' AND '.join(conditions)} ORDER BY id DESC LIMIT ?"
    rows = list(db.query(sql, [*params, limit]))
    for row in rows:
        row["detail"] = json.loads(row["detail"]) if row["detail"] else None
    return rows


def purge(db: Database, retention_days: float) -> int:
    """Delete events older than the operator's retention; return how many went."""
    cutoff = time.time() - retention_days * 86400
    return db.execute("DELETE FROM audit_event WHERE at < ?", [cutoff]).rowcount
