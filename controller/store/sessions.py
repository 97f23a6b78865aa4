"""Signed-in sessions, held on the server: the cookie carries a random id, the table only its hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from sqlite_utils import Database

# last_seen_at is written at most this often, so a busy page does not write on every request.
_TOUCH_EVERY_S = 60.0


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(db: Database, user_id: int, ip: str | None, method: str, lifetime_s: float) -> str:
    """Return the id of a new session for `user_id` (its only copy outside the database's hash)."""
    session_id = secrets.token_urlsafe(32)
    now = time.time()
    db["session"].insert(
        {
            "id_hash": _hash(session_id),
            "user_id": user_id,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + lifetime_s,
            "ip": ip,
            "method": method,
        }
    )
    return session_id


def user_of(db: Database, session_id: str) -> dict[str, Any] | None:
    """Return the active user of a live session, or None (unknown, ended, expired, or user archived)."""
    rows = db.query(
        """SELECT user.*, session.last_seen_at AS session_seen FROM session
           JOIN user ON user.id = session.user_id
           WHERE session.id_hash = ? AND session.expires_at > ? AND user.archived_at IS NULL""",
        [_hash(session_id), time.time()],
    )
    return next(iter(rows), None)


def needs_touch(user: dict[str, Any]) -> bool:
    return time.time() - user["session_seen"] > _TOUCH_EVERY_S


def touch(db: Database, session_id: str) -> None:
    db["session"].update(_hash(session_id), {"last_seen_at": time.time()})


def end(db: Database, session_id: str) -> None:
    db.execute("DELETE FROM session WHERE id_hash = ?", [_hash(session_id)])


def end_all(db: Database, user_id: int) -> None:
    """End every session of a user (on archiving them, or a password change)."""
    db.execute("DELETE FROM session WHERE user_id = ?", [user_id])


def purge_expired(db: Database) -> int:
    return db.execute("DELETE FROM session WHERE expires_at <= ?", [time.time()]).rowcount


# The user's own single sign-on access token, for the main system when main_credentials is "user":
# kept in the session's row on the server only (never in the cookie, never sent to a browser or a
# panel), and gone with the session. Needs the columns session.sso_access_token (TEXT) and
# session.sso_token_expires_at (REAL, epoch seconds; NULL: as long as the session).
def keep_sso_token(db: Database, session_id: str, token: str | None, expires_at: float | None) -> None:
    """Keep the provider's access token with the session it signed in (None forgets it)."""
    db["session"].update(_hash(session_id), {"sso_access_token": token, "sso_token_expires_at": expires_at})


def sso_token(db: Database, session_id: str, user_id: int) -> str | None:
    """Return the live access token of `user_id`'s live session `session_id`, or None."""
    now = time.time()
    rows = db.query(
        """SELECT sso_access_token FROM session WHERE id_hash = ? AND user_id = ? AND expires_at > ?
           AND (sso_token_expires_at IS NULL OR sso_token_expires_at > ?)""",
        [_hash(session_id), user_id, now, now],
    )
    row = next(iter(rows), None)
    return row["sso_access_token"] if row else None
