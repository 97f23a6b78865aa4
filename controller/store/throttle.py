"""Throttling of guesses: sign-in failures per login and per address, pairing codes per user and in all.

Keys are counted whether or not the login exists, so the lock-out says nothing about which logins
are real; the answer a locked-out person gets is as generic as a wrong password's. A pairing code has
30^8 values and lives 10 minutes: ten wrong codes per person and two hundred across the controller
per window leave a guesser no chance, while a person who mistypes twice goes on at once.
"""

from __future__ import annotations

import time

from sqlite_utils import Database

WINDOW_S = 15 * 60
# failures allowed in a window before a lock-out, by the key's kind
LIMITS = {"login": 5, "ip": 50, "pairing-user": 10, "pairing-all": 200}
FIRST_LOCK_S = 60.0
MAX_LOCK_S = 15 * 60.0


def keys(login: str, ip: str | None) -> list[str]:
    return [f"login:{login.lower()[:128]}", f"ip:{ip or '?'}"]


def pairing_keys(user_id: int) -> list[str]:
    return [f"pairing-user:{user_id}", "pairing-all:"]


def locked_for(db: Database, keys: list[str]) -> float:
    """Return how many more seconds sign-in stays locked for any of `keys` (0 when it is not)."""
    now = time.time()
    rows = db.query(
        f"SELECT max(locked_until) AS until FROM login_throttle WHERE key IN ({','.join('?' * len(keys))})",
        keys,
    )
    until = next(iter(rows))["until"] or 0
    return max(0.0, until - now)


def record_failure(db: Database, keys: list[str]) -> None:
    now = time.time()
    for key in keys:
        row = next(iter(db.query("SELECT * FROM login_throttle WHERE key = ?", [key])), None)
        if row is None or now - row["window_start"] > WINDOW_S:
            row = {"key": key, "failures": 0, "window_start": now, "locked_until": 0}
        row["failures"] += 1
        over = row["failures"] - LIMITS[key.split(":", 1)[0]]
        if over >= 0:
            row["locked_until"] = now + min(MAX_LOCK_S, FIRST_LOCK_S * 2**over)
        db["login_throttle"].upsert(row, pk="key")


def clear(db: Database, login: str) -> None:
    """Forget a login's failures after it signs in (its address keeps its count)."""
    db.execute("DELETE FROM login_throttle WHERE key = ?", [f"login:{login.lower()[:128]}"])
