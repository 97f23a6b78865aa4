"""Pairing: a new panel shows a one-time code, school IT approves it, the panel collects its credentials.

The panel asks for a code with its CURVE public key and a secret of its own (only the secret's hash is
kept). Whoever reads the code off the screen can approve it into a room, but only the holder of the
secret can collect the token, and it can do so once: the token is made at that moment, handed over and
kept only as a hash. A code lives `CODE_TTL_S`, binds at most once, and is never reused while waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from classcast.i18n import N_
from classcast.identity import fingerprint
from controller.store import lifecycle, panels
from controller.timeutil import now_iso

# Crockford-like: no 0/O, 1/I/L, U; read aloud or typed off a screen across a classroom without doubt.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
CODE_TTL_S = 10 * 60
RETENTION_S = 7 * 86400  # spent and expired pairings are kept a week: enough to explain a support call
_TEXT_LIMITS = {"serial": 64, "mac": 64, "model": 128, "os": 128, "player_version": 32}


class Refused(Exception):
    """A pairing step refused, with the HTTP status and a message for the person (marked N_)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Collected:
    """What a panel takes home once approved: the only time its token exists outside the panel."""

    panel_id: int
    name: str
    token: str


def normalize_code(typed: str) -> str:
    """Return a typed code as stored: upper case, without the spaces and dashes people type in it."""
    return "".join(typed.split()).replace("-", "").upper()


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_code(db: Database) -> str:
    while True:  # 30^8 codes: a clash with one of the few waiting ones is rare; try again if it happens
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if (
            db.execute("SELECT 1 FROM pairing WHERE code = ? AND state = 'waiting'", [code]).fetchone()
            is None
        ):
            return code


def request_code(
    db: Database, public_key: str, secret: str, facts: dict[str, Any], address: str | None
) -> dict:
    """Return a new pairing (id, code, expiry) for the panel holding `public_key`; its older ones end.

    Refused (409) when the key already belongs to an active panel: that panel must be revoked first.
    """
    taken = db.execute(
        "SELECT 1 FROM panel WHERE curve_public_key = ? AND state = 'active'", [public_key]
    ).fetchone()
    if taken is not None:
        raise Refused(409, "already_registered", N_("Эта панель уже зарегистрирована."))
    now = time.time()
    # A panel asks again when its code runs out or it restarts; the code it showed before stops working.
    db.execute(
        "UPDATE pairing SET expires_at = min(expires_at, ?) WHERE curve_public_key = ? AND state = 'waiting'",
        [now, public_key],
    )
    row = {
        "id": secrets.token_urlsafe(16),
        "code": _new_code(db),
        "curve_public_key": public_key,
        "secret_hash": _secret_hash(secret),
        **{key: _text(facts.get(key), limit) for key, limit in _TEXT_LIMITS.items()},
        "address": address,
        "created_at": now,
        "expires_at": now + CODE_TTL_S,
    }
    db["pairing"].insert(row)
    # Counted as a device that tried to connect without being registered, until it is (reconciliation).
    lifecycle.record_contact(db, "pairing", lifecycle.key_hash(public_key), address, row)
    return {"id": row["id"], "code": row["code"], "expires_at": row["expires_at"]}


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int) and str(value).strip() else None


def waiting(db: Database, code: str) -> dict[str, Any] | None:
    """Return the live pairing with this code, or None (never one that expired, was approved or spent)."""
    rows = db.query(
        "SELECT * FROM pairing WHERE code = ? AND state = 'waiting' AND expires_at > ?",
        [normalize_code(code), time.time()],
    )
    return next(iter(rows), None)


def summary(pairing: dict[str, Any]) -> dict[str, Any]:
    """Return what school IT sees before approving: the device's facts and its key's fingerprint."""
    keys = ("code", "serial", "mac", "model", "os", "player_version", "expires_at", "created_at")
    return {key: pairing[key] for key in keys} | {"fingerprint": fingerprint(pairing["curve_public_key"])}


def approve(
    db: Database, code: str, room_id: int, name: str, user_id: int, replaces: int | None = None
) -> dict[str, Any]:
    """Register the panel waiting with `code` in the room, as 'pending' until it collects its token.

    Returns the new panel (id, name, school_id, room_id) and the pairing's summary. Refused (404) when
    no live pairing has this code: wrong, expired, already approved or spent are one answer. With
    `replaces`, the new device takes over that panel: the old one is decommissioned (its credentials
    deleted) and points to its successor, so its history stays readable.
    """
    pairing = waiting(db, code)
    if pairing is None:
        raise Refused(404, "unknown_code", N_("Код не найден или устарел. Проверьте код на экране панели."))
    room = db["room"].get(room_id)
    panel = {
        "school_id": room["school_id"],
        "room_id": room_id,
        "name": name,
        "state": "pending",
        "curve_public_key": pairing["curve_public_key"],
        **{key: pairing[key] for key in ("serial", "mac", "model", "os", "player_version")},
    }
    # Approved before but never collected (the panel lost its pairing): the same device, so the same row.
    earlier = db.execute(
        "SELECT id FROM panel WHERE curve_public_key = ? AND state = 'pending'", [pairing["curve_public_key"]]
    ).fetchone()
    if earlier is not None:
        panel_id = earlier[0]
        db["panel"].update(panel_id, panel)
    else:
        panel_id = db["panel"].insert({**panel, "created_at": now_iso()}).last_pk
    db["pairing"].update(pairing["id"], {"state": "approved", "panel_id": panel_id, "approved_by": user_id})
    if pairing["serial"]:
        db.execute(
            "UPDATE provision SET panel_id = ?, used_at = ? WHERE serial = ? AND panel_id IS NULL",
            [panel_id, time.time(), pairing["serial"]],
        )
    if replaces is not None:
        lifecycle.revoke(db, replaces, state="decommissioned")
        db["panel"].update(replaces, {"replaced_by": panel_id})
    return {
        "panel": {"id": panel_id, "name": name, "school_id": room["school_id"], "room_id": room_id},
        "pairing": summary(pairing),
    }


def collect(db: Database, pairing_id: str, secret: str) -> dict[str, Any] | Collected:
    """Return the panel's credentials once its pairing is approved, else the pairing's state.

    The state is {"state": "waiting", "expires_at"} or {"state": "expired"}; a pairing already
    collected answers "expired" too, so a copied secret gets nothing the second time. Raises
    Refused(404) for an unknown id or a wrong secret (one answer for both).
    """
    pairing = next(iter(db.query("SELECT * FROM pairing WHERE id = ?", [pairing_id])), None)
    if pairing is None or not hmac.compare_digest(pairing["secret_hash"], _secret_hash(secret)):
        raise Refused(404, "unknown_pairing", N_("Запрос на подключение не найден."))
    if pairing["state"] == "waiting":
        if pairing["expires_at"] <= time.time():
            return {"state": "expired"}
        return {"state": "waiting", "expires_at": pairing["expires_at"]}
    if pairing["state"] == "spent":
        return {"state": "expired"}
    token = secrets.token_urlsafe(32)
    db["panel"].update(
        pairing["panel_id"],
        {"state": "active", "token_hash": panels.token_hash(token), "paired_at": now_iso()},
    )
    db["pairing"].update(pairing_id, {"state": "spent"})
    panel = db["panel"].get(pairing["panel_id"])
    return Collected(panel_id=panel["id"], name=panel["name"], token=token)


def forget_old(db: Database, now: float | None = None) -> int:
    """Delete pairings that ended more than `RETENTION_S` ago; return how many."""
    cutoff = (now or time.time()) - RETENTION_S
    return db.execute("DELETE FROM pairing WHERE expires_at < ?", [cutoff]).rowcount
