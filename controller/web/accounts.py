"""The accounts API: staff manage the accounts of their subtree, of roles below their own."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, request
from flask_babel import gettext as _

from classcast.i18n import N_
from controller import access
from controller.app import services
from controller.store import audit, users
from controller.store.users import AccountInvalid
from controller.web.auth import current_user
from controller.web.errors import invalid
from controller.web.guard import guarded
from controller.web.security import check_csrf

blueprint = Blueprint("accounts", __name__, url_prefix="/api")


def _invalid(exc: AccountInvalid) -> tuple[dict[str, Any], int]:
    return invalid(exc.fields)


def _forbidden() -> tuple[dict[str, Any], int]:
    return {"error": "forbidden", "message": _("Недостаточно прав для такой роли или узла.")}, 403


def _may_place(manager: dict[str, Any], row: dict[str, Any]) -> bool:
    """Return whether `manager` may give an account this role at this node."""
    if not access.may_manage_role(manager, row["role"]):
        return False
    if row["node_type"] is None:
        return manager["role"] == "operator"
    try:
        place = access.place_of(services().db.read, row["node_type"], row["node_id"])
    except access.NotFound:
        return False
    return access.within(manager, place)


def _audit(action: str, account: dict[str, Any], detail: dict[str, Any] | None = None) -> None:
    svc = services()
    place = access.place_of(svc.db.read, "user", account["id"])
    actor = audit.Actor.of(current_user(), request.remote_addr)
    svc.db.write(audit.record, actor, action, "ok", "user", account["id"], place, detail)


@blueprint.get("/users")
@guarded("user", "read")
def list_users() -> Any:
    scope = access.scope_filter(current_user())
    return {"users": users.list_accounts(services().db.read, scope, request.args.get("archived") == "1")}


@blueprint.post("/users")
@guarded("user", "create", parent="node")
def create_user() -> Any:
    check_csrf()
    body = request.get_json(silent=True)
    try:
        row = users.clean_account(body, creating=True)
    except AccountInvalid as exc:
        return _invalid(exc)
    if not _may_place(current_user(), row):
        return _forbidden()
    password = body.get("password") if isinstance(body.get("password"), str) else None
    if password is not None and len(password) < 10:
        return _invalid(AccountInvalid({"password": N_("Пароль не короче 10 символов.")}))
    initial = None if password else secrets.token_urlsafe(12)
    try:
        account = services().db.write(users.create_account, row, password or initial)
    except AccountInvalid as exc:
        return _invalid(exc)
    _audit("create", account, {k: v for k, v in row.items() if k != "email"})
    return {**account, "initial_password": initial}, 201


@blueprint.get("/users/<int:user_id>")
@guarded("user", "read", id_arg="user_id")
def get_user(user_id: int) -> Any:
    return users.public_account(services().db.read, user_id)


@blueprint.patch("/users/<int:user_id>")
@guarded("user", "update", id_arg="user_id")
def update_user(user_id: int) -> Any:
    check_csrf()
    manager = current_user()
    current = users.public_account(services().db.read, user_id)
    if not access.may_manage_role(manager, current["role"]):
        return _forbidden()
    try:
        row = users.clean_account(request.get_json(silent=True), creating=False)
    except AccountInvalid as exc:
        return _invalid(exc)
    if "role" in row and not _may_place(manager, row):
        return _forbidden()
    try:
        account = services().db.write(users.update_account, user_id, row)
    except AccountInvalid as exc:
        return _invalid(exc)
    _audit("update", account, {k: v for k, v in row.items() if k != "email"})
    return account


@blueprint.post("/users/<int:user_id>/archive")
@guarded("user", "archive", id_arg="user_id")
def archive_user(user_id: int) -> Any:
    check_csrf()
    current = users.public_account(services().db.read, user_id)
    if not access.may_manage_role(current_user(), current["role"]):
        return _forbidden()
    account = services().db.write(users.archive_account, user_id)
    _audit("archive", account)
    return account
