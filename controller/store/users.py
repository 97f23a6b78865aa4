"""Accounts: creation and password sign-in (argon2id)."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlite_utils import Database

from controller.timeutil import now_iso

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the login is unknown, so a wrong login costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("classcast-no-such-user")


def create_user(
    db: Database, login: str, password: str, full_name: str, role: str, node_type: str, node_id: int
) -> int:
    row = {
        "login": login,
        "password_hash": _hasher.hash(password),
        "full_name": full_name,
        "role": role,
        "node_type": node_type,
        "node_id": node_id,
        "created_at": now_iso(),
    }
    return db["user"].insert(row).last_pk


def authenticate(db: Database, login: str, password: str) -> dict[str, Any] | None:
    """Return the active user with this login and password, or None."""
    user = next(iter(db.query("SELECT * FROM user WHERE login = ? AND archived_at IS NULL", [login])), None)
    try:
        _hasher.verify(user["password_hash"] if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return user


def get_user(db: Database, user_id: int) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM user WHERE id = ? AND archived_at IS NULL", [user_id])
    return next(iter(rows), None)
