"""Accounts: creation and password sign-in (argon2id)."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlite_utils import Database

from classcast.i18n import N_, Message
from controller.timeutil import now_iso

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the login is unknown, so a wrong login costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("classcast-no-such-user")


def create_user(
    db: Database,
    login: str,
    password: str,
    full_name: str,
    role: str,
    node_type: str | None,
    node_id: int | None,
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
    stored = user["password_hash"] if user else None
    try:
        # An account without a password (it signs in through single sign-on) costs the same time as a
        # wrong password, and the dummy hash's password never opens it.
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return user if stored else None


def get_user(db: Database, user_id: int) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM user WHERE id = ? AND archived_at IS NULL", [user_id])
    return next(iter(rows), None)


ROLE_NODE = {"teacher": "school", "school_it": "school", "municipal": "municipality", "regional": "region"}
_PUBLIC_FIELDS = "id, login, full_name, email, role, node_type, node_id, created_at, archived_at"


class AccountInvalid(ValueError):
    def __init__(self, fields: dict[str, str | Message]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def clean_account(body: Any, *, creating: bool) -> dict[str, Any]:
    """Return the account fields of `body`, checked; raise AccountInvalid with reasons in Russian."""
    if not isinstance(body, dict):
        raise AccountInvalid({"_": N_("Нужен JSON-объект.")})
    row: dict[str, Any] = {}
    errors: dict[str, str | Message] = {}
    for field, limit in (("login", 64), ("full_name", 200), ("email", 200)):
        value = body.get(field)
        if value is None and not (creating and field != "email"):
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            errors[field] = Message(N_("Строка от 1 до %(limit)d символов."), {"limit": limit})
        else:
            row[field] = value.strip()
    if "login" in row and not all(c.isalnum() or c in "._-@" for c in row["login"]):
        errors["login"] = N_("Только буквы, цифры и . _ - @")
    if "role" in body or creating:
        _clean_role(body, row, errors)
    if errors:
        raise AccountInvalid(errors)
    return row


def _clean_role(body: dict[str, Any], row: dict[str, Any], errors: dict[str, str | Message]) -> None:
    role = body.get("role")
    if role not in ROLE_NODE and role != "operator":
        errors["role"] = N_("Роль: teacher, school_it, municipal, regional или operator.")
        return
    node_type = ROLE_NODE.get(role)
    node_id = body.get("node_id")
    if node_type and (isinstance(node_id, bool) or not isinstance(node_id, int)):
        errors["node_id"] = N_(
            "Укажите, к какому узлу (школе, муниципалитету, региону) относится учётная запись."
        )
        return
    row.update(role=role, node_type=node_type, node_id=node_id if node_type else None)


def create_account(db: Database, row: dict[str, Any], password: str | None) -> dict[str, Any]:
    """Return the new account; without a password it can sign in only through single sign-on."""
    if next(iter(db.query("SELECT id FROM user WHERE login = ?", [row["login"]])), None):
        raise AccountInvalid({"login": N_("Такой логин уже есть.")})
    record = {**row, "password_hash": _hasher.hash(password) if password else None, "created_at": now_iso()}
    return public_account(db, db["user"].insert(record).last_pk)


def update_account(db: Database, user_id: int, row: dict[str, Any]) -> dict[str, Any]:
    if "login" in row and next(
        iter(db.query("SELECT id FROM user WHERE login = ? AND id != ?", [row["login"], user_id])), None
    ):
        raise AccountInvalid({"login": N_("Такой логин уже есть.")})
    if row:
        db["user"].update(user_id, row)
    return public_account(db, user_id)


def archive_account(db: Database, user_id: int) -> dict[str, Any]:
    db["user"].update(user_id, {"archived_at": now_iso()})
    db.execute("DELETE FROM session WHERE user_id = ?", [user_id])
    return public_account(db, user_id)


def public_account(db: Database, user_id: int) -> dict[str, Any]:
    """Return an account without its password hash or SSO subject."""
    return next(iter(db.query(f"SELECT {_PUBLIC_FIELDS} FROM user WHERE id = ?", [user_id])))


def list_accounts(db: Database, scope: tuple[str, list[Any]], archived: bool) -> list[dict[str, Any]]:
    """Return the accounts whose node lies inside the scope condition (on region/municipality/school ids)."""
    where, params = scope
    sql = f"""SELECT {_PUBLIC_FIELDS} FROM (
        SELECT u.*, coalesce(r.id, m.region_id, sm.region_id) AS region_id,
               coalesce(m.id, s.municipality_id) AS municipality_id, s.id AS school_id
        FROM user u
        LEFT JOIN region r ON u.node_type = 'region' AND r.id = u.node_id
        LEFT JOIN municipality m ON u.node_type = 'municipality' AND m.id = u.node_id
        LEFT JOIN school s ON u.node_type = 'school' AND s.id = u.node_id
        LEFT JOIN municipality sm ON sm.id = s.municipality_id)
        WHERE ({where}) {"" if archived else "AND archived_at IS NULL"} ORDER BY full_name LIMIT 10000"""
    return list(db.query(sql, params))


# Single sign-on (controller.web.oidc): an account is found by its SSO subject once linked, and linked at
# the first sign-on by one field an operator chose. Nothing here creates an account.
LINK_FIELDS = ("email", "login")


def find_by_oidc_subject(db: Database, subject: str) -> dict[str, Any] | None:
    """Return the active account linked to this SSO subject ("<issuer>|<sub>"), or None."""
    rows = db.query("SELECT * FROM user WHERE oidc_subject = ? AND archived_at IS NULL", [subject])
    return next(iter(rows), None)


def find_by_link_field(db: Database, field: str, value: str) -> list[dict[str, Any]]:
    """Return up to two active accounts whose `field` (email: any case; login: exact) equals `value`.

    Two mean the value is ambiguous, and the caller must link neither.
    """
    if field not in LINK_FIELDS:
        raise ValueError(f"cannot link accounts by {field!r}")
    condition = "lower(trim(email)) = lower(?)" if field == "email" else "login = ?"
    sql = f"SELECT * FROM user WHERE {condition} AND archived_at IS NULL ORDER BY id LIMIT 2"
    return list(db.query(sql, [value.strip()]))


def link_oidc_subject(db: Database, user_id: int, subject: str) -> bool:
    """Return whether the active account `user_id` is linked to `subject` now (linked here or before).

    An account linked to another subject stays as it is, and so does a subject that another active
    account holds. A subject held only by an archived account moves: that account can no longer sign
    in, and the person it belonged to may have a new account now (at another school).
    """
    target = get_user(db, user_id)
    if target is None or target["oidc_subject"] not in (None, subject):
        return False
    holder = find_by_oidc_subject(db, subject)
    if holder is not None:
        return holder["id"] == user_id
    db.execute(
        "UPDATE user SET oidc_subject = NULL WHERE oidc_subject = ? AND archived_at IS NOT NULL", [subject]
    )
    db.execute("UPDATE user SET oidc_subject = ? WHERE id = ?", [subject, user_id])
    return True
