"""Pairing over HTTP: the panel's side (ask for a code, collect the credentials) and school IT's side.

The panel's two routes are public: a panel with no credentials has nothing to sign in with. What
protects them is the pairing itself: a code only binds once someone with rights over a room approves
it, and only the holder of the pairing's secret can collect the token. School IT's two routes go
through the guard; wrong codes are counted per person and across the controller (see throttle).
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any

from flask import Blueprint, request
from flask_babel import gettext as _

from classcast.identity import fingerprint
from controller import access, provisions
from controller.app import services
from controller.i18n import translate
from controller.ingest import server_keys
from controller.store import audit, pairings, throttle
from controller.web.auth import current_user
from controller.web.errors import invalid
from controller.web.guard import guarded, public
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("pairing", __name__)

_Z85_KEY = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
_SECRET = re.compile(r"[A-Za-z0-9_\-]{32,128}")
MAX_WAITING = 5000  # live codes across the controller: a flood of requests cannot fill the disk
MAX_WAITING_PER_ADDRESS = 500  # a school behind one NAT address unpacking a delivery still fits


@blueprint.post("/api/panel/v1/pairings")
@public("a panel with no credentials asks for a pairing code; binding it needs school IT's approval")
def request_code() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "invalid", "message": "JSON body expected"}, 400
    key, secret = body.get("public_key"), body.get("secret")
    if not isinstance(key, str) or not _Z85_KEY.fullmatch(key):
        return {"error": "invalid", "message": "public_key: a CURVE public key in Z85 (40 characters)"}, 400
    if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        return {"error": "invalid", "message": "secret: 32 to 128 URL-safe characters"}, 400
    svc = services()
    if _too_many_waiting(request.remote_addr):
        log.warning("pairing code refused to %s: too many codes waiting", request.remote_addr)
        return {"error": "busy", "message": "too many pairing codes waiting; retry later"}, 429
    try:
        made = svc.db.write(pairings.request_code, key, secret, body, request.remote_addr)
    except pairings.Refused as exc:
        log.warning("pairing code refused to %s: %s", request.remote_addr, exc.code)
        return {"error": exc.code, "message": translate(exc.message)}, exc.status
    log.info("pairing code issued to %s (key %s)", request.remote_addr, fingerprint(key))
    return {**made, "expires_in": pairings.CODE_TTL_S}, 201


def _too_many_waiting(address: str | None) -> bool:
    db, now = services().db.read, time.time()
    live = "SELECT count(*) FROM pairing WHERE state = 'waiting' AND expires_at > ?"
    if db.execute(live, [now]).fetchone()[0] >= MAX_WAITING:
        return True
    from_here = db.execute(live + " AND address IS ?", [now, address]).fetchone()[0]
    return from_here >= MAX_WAITING_PER_ADDRESS


@blueprint.get("/api/panel/v1/pairings/<pairing_id>")
@public("the panel that asked for the code collects its credentials with the pairing's secret")
def collect(pairing_id: str) -> Any:
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    svc = services()
    try:
        result = svc.db.write(pairings.collect, pairing_id, secret if scheme == "Bearer" else "")
    except pairings.Refused as exc:
        log.warning("pairing collection refused to %s: %s", request.remote_addr, exc.code)
        return {"error": exc.code, "message": translate(exc.message)}, exc.status
    if isinstance(result, dict):
        return result, 200 if result["state"] == "waiting" else 410
    controller_key, _secret = server_keys(svc.data_dir)
    place = access.place_of(svc.db.read, "panel", result.panel_id)
    actor = audit.Actor(None, None, None, request.remote_addr)
    detail = {"step": "credentials collected by the panel"}
    svc.db.write(audit.record, actor, "update", "ok", "panel", result.panel_id, place, detail)
    log.info("panel %d collected its credentials from %s", result.panel_id, request.remote_addr)
    return {
        "state": "approved",
        "panel_id": result.panel_id,
        "name": result.name,
        "token": result.token,
        "controller_key": controller_key,
    }


@blueprint.post("/api/pairings/lookup")
@guarded("panel", "create")
def lookup() -> Any:
    """Return what the panel showing this code says of itself, for school IT to check before approving."""
    code = checked_code()
    if isinstance(code, tuple):
        return code
    svc, user = services(), current_user()
    pairing = pairings.waiting(svc.db.read, code)
    if pairing is None:
        return _wrong_code(user, code)
    return pairings.summary(pairing)


@blueprint.post("/api/pairings/approve")
@guarded("panel", "create", parent="room")
def approve() -> Any:
    """Register the panel showing this code in the room, under the name given."""
    code = checked_code()
    if isinstance(code, tuple):
        return code
    name = str(request.get_json(silent=True).get("name") or "").strip()
    if not name or len(name) > 100:
        return invalid({"name": _("Дайте панели имя (до 100 знаков), например «Кабинет 101, у доски».")})
    user = current_user()
    room_id = int(request.get_json(silent=True)["room_id"])
    return approve_code(user, code, room_id, name, {"via": "pairing"})


def approve_code(
    user: dict[str, Any], code: str, room_id: int, name: str, how: dict[str, Any], replaces: int | None = None
) -> Any:
    """Register the panel showing `code` (audited either way); the answer for the approving page."""
    svc = services()
    try:
        made = svc.db.write(pairings.approve, code, room_id, name, user["id"], replaces)
    except pairings.Refused:
        return _wrong_code(user, code)
    panel = made["panel"]
    detail = {
        **how,
        "name": name,
        "room_id": room_id,
        "fingerprint": made["pairing"]["fingerprint"],
        "serial": made["pairing"]["serial"],
    }
    if replaces is not None:
        detail["replaces"] = replaces
    actor = audit.Actor.of(user, request.remote_addr)
    place = access.place_of(svc.db.read, "panel", panel["id"])
    svc.db.write(audit.record, actor, "enroll_panel", "ok", "panel", panel["id"], place, detail)
    log.info("panel %d approved by %s into room %d (%s)", panel["id"], user["login"], room_id, how["via"])
    return {**panel, "state": "pending", "fingerprint": made["pairing"]["fingerprint"]}, 201


@blueprint.get("/api/pairings/provisioned")
@guarded("panel", "create")
def provisioned() -> Any:
    """Return the panels of the school's provisioning list that are waiting with a code right now."""
    user = current_user()
    items = provisions.waiting_for_school(services().db.read, user["node_id"])
    return {"items": [_provisioned_item(row) for row in items]}


def _provisioned_item(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("code", "serial", "mac", "model", "os", "expires_at", "room_id", "room", "name", "conflict")
    return {key: row[key] for key in keys} | {"fingerprint": fingerprint(row["curve_public_key"])}


@blueprint.post("/api/pairings/confirm")
@guarded("panel", "create")
def confirm() -> Any:
    """Register a provisioned panel with one click: its room and name come from the region's list."""
    code = checked_code()
    if isinstance(code, tuple):
        return code
    svc, user = services(), current_user()
    waiting = next(
        (w for w in provisions.waiting_for_school(svc.db.read, user["node_id"]) if w["code"] == code), None
    )
    if waiting is None:
        return _wrong_code(user, code)
    if waiting["conflict"]:
        message = _("Этот серийный номер показывают две панели. Введите код с экрана нужной панели.")
        return {"error": "conflict", "message": message}, 409
    body = request.get_json(silent=True) or {}
    room_id = waiting["room_id"] or body.get("room_id")
    if not isinstance(room_id, int) or not _room_of_school(room_id, user["node_id"]):
        return invalid({"room_id": _("Выберите кабинет: в списке закупки он не указан.")})
    name = (
        waiting["name"]
        or str(body.get("name") or "").strip()[:100]
        or _("Панель %(serial)s", serial=waiting["serial"])
    )
    return approve_code(user, code, room_id, name, {"via": "provision", "serial": waiting["serial"]})


def _room_of_school(room_id: int, school_id: int) -> bool:
    row = (
        services()
        .db.read.execute(
            "SELECT 1 FROM room WHERE id = ? AND school_id = ? AND archived_at IS NULL", [room_id, school_id]
        )
        .fetchone()
    )
    return row is not None


def checked_code() -> str | tuple[dict[str, Any], int]:
    """Return the code a staff request carries, or the answer refusing it (malformed, or throttled)."""
    check_csrf()
    code = code_from_body()
    if isinstance(code, tuple):
        return code
    return throttled(current_user()) or code


def code_from_body() -> str | tuple[dict[str, Any], int]:
    body = request.get_json(silent=True)
    code = pairings.normalize_code(str(body.get("code") or "")) if isinstance(body, dict) else ""
    if len(code) != pairings.CODE_LENGTH:
        return invalid({"code": _("Введите код с экрана панели: 8 знаков.")})
    return code


def throttled(user: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    wait = throttle.locked_for(services().db.read, throttle.pairing_keys(user["id"]))
    if wait <= 0:
        return None
    minutes = max(1, math.ceil(wait / 60))
    message = _("Слишком много неверных кодов. Попробуйте снова через %(minutes)s мин.", minutes=minutes)
    return {"error": "throttled", "message": message, "retry_after": math.ceil(wait)}, 429


def _wrong_code(user: dict[str, Any], code: str) -> tuple[dict[str, Any], int]:
    svc = services()
    svc.db.write(throttle.record_failure, throttle.pairing_keys(user["id"]))
    actor = audit.Actor.of(user, request.remote_addr)
    place = access.home_of(svc.db.read, user)
    detail = {"reason": "unknown or expired code"}
    svc.db.write(audit.record, actor, "enroll_panel", "failed", "panel", None, place, detail)
    log.warning("wrong pairing code from %s (%s)", user["login"], request.remote_addr)
    message = _("Код не найден или устарел. Проверьте код на экране панели.")
    return {"error": "unknown_code", "message": message}, 404
