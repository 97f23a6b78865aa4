"""School IT's hands on a registered panel: revoke, decommission, move, replace, and remote actions.

Revoking deletes the panel's credentials and cuts its live connections at once: the Socket.IO session
is closed here, and the telemetry ingest refuses the panel's next batch (it checks the panel's state
on every message). Remote actions go over the panel's Socket.IO session; each is recorded with
whether the panel acknowledged it, and audited. A screenshot is handed to the requester and kept
nowhere.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, g, request
from flask_babel import gettext as _

from classcast.i18n import N_
from classcast.protocol import (
    EVENT_IDENTIFY,
    EVENT_REBOOT,
    EVENT_RESTART_PLAYER,
    EVENT_SCREENSHOT,
    IDENTIFY_SECONDS,
)
from controller import access
from controller.app import services
from controller.i18n import translate
from controller.store import audit, desired, lifecycle
from controller.web.auth import current_user
from controller.web.errors import invalid
from controller.web.guard import guarded
from controller.web.pairing import approve_code, checked_code
from controller.web.panels import send_state
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("panel_admin", __name__, url_prefix="/api/panels")

ACTIONS = ("identify", "screenshot", "restart_player", "reboot", "resend_state")
_EVENTS = {
    "identify": EVENT_IDENTIFY,
    "screenshot": EVENT_SCREENSHOT,
    "restart_player": EVENT_RESTART_PLAYER,
    "reboot": EVENT_REBOOT,
}
_OUTCOME_TEXT = {
    "ok": N_("Панель подтвердила."),
    "failed": N_("Панель ответила, что не смогла: %(error)s."),
    "offline": N_("Панель не в сети: команда не доставлена."),
    "no_answer": N_("Панель не ответила вовремя."),
}


def _panel(panel_id: int) -> dict[str, Any]:
    return services().db.read["panel"].get(panel_id)


def _audit(action: str, panel_id: int, detail: dict[str, Any], outcome: str = "ok") -> None:
    actor = audit.Actor.of(current_user(), request.remote_addr)
    services().db.write(audit.record, actor, action, outcome, "panel", panel_id, g.place, detail)


@blueprint.post("/<int:panel_id>/revoke")
@guarded("panel", "archive", id_arg="panel_id")
def revoke(panel_id: int) -> Any:
    """Delete the panel's credentials and cut it off; the device returns to its pairing screen."""
    return _end(panel_id, "revoked")


@blueprint.post("/<int:panel_id>/decommission")
@guarded("panel", "archive", id_arg="panel_id")
def decommission(panel_id: int) -> Any:
    """Take the panel out of the registry's counts for good (revoking it first if need be)."""
    return _end(panel_id, "decommissioned")


def _end(panel_id: int, state: str) -> Any:
    check_csrf()
    svc = services()
    before = svc.db.write(lifecycle.revoke, panel_id, state)
    if before is None:
        message = _("Панель уже отозвана.") if state == "revoked" else _("Панель уже списана.")
        return {"error": "conflict", "message": message}, 409
    cut = svc.hub.disconnect(panel_id)
    _audit(f"{'revoke' if state == 'revoked' else 'decommission'}_panel", panel_id, {"was": before["state"]})
    log.info("panel %d %s by %s (live connection cut: %s)", panel_id, state, current_user()["login"], cut)
    return {"id": panel_id, "state": state}


@blueprint.post("/<int:panel_id>/move")
@guarded("panel", "update", id_arg="panel_id")
def move(panel_id: int) -> Any:
    """Move the panel to another room (of a school the caller manages)."""
    check_csrf()
    body = request.get_json(silent=True) or {}
    room_id = body.get("room_id")
    if not isinstance(room_id, int) or isinstance(room_id, bool):
        return invalid({"room_id": _("Выберите кабинет.")})
    user, svc = current_user(), services()
    try:
        place = access.place_of(svc.db.read, "room", room_id)
        access.check(user, "panel", "update", place, where="room")
    except (access.NotFound, access.Forbidden):
        return {"error": "not_found", "message": _("Кабинет не найден.")}, 404
    before = _panel(panel_id)
    svc.db.write(lifecycle.move, panel_id, room_id)
    _audit("move_panel", panel_id, {"from_room_id": before["room_id"], "to_room_id": room_id})
    if svc.hub.is_connected(panel_id):
        send_state(svc, panel_id)  # the panel's name card (identify) now names the new room
    return {"id": panel_id, "room_id": room_id}


@blueprint.post("/<int:panel_id>/replace")
@guarded("panel", "update", id_arg="panel_id")
def replace(panel_id: int) -> Any:
    """Register the device showing `code` in this panel's place; the old one is decommissioned."""
    code = checked_code()
    if isinstance(code, tuple):
        return code
    user, svc = current_user(), services()
    old = _panel(panel_id)
    if old["state"] not in ("active", "pending", "revoked") or old["room_id"] is None:
        return {"error": "conflict", "message": _("Эту панель уже нельзя заменить.")}, 409
    answer = approve_code(user, code, old["room_id"], old["name"], {"via": "replace"}, replaces=panel_id)
    if isinstance(answer, tuple) and answer[1] == 201:
        svc.hub.disconnect(panel_id)
        return {**answer[0], "replaced": panel_id}, 201
    return answer


def act(panel_id: int, action: str) -> Any:
    """Send a remote action to the panel; answer whether it acknowledged (and the screenshot, if asked)."""
    check_csrf()
    svc, user = services(), current_user()
    if _panel(panel_id)["state"] != "active":
        return {
            "error": "conflict",
            "message": _("Панель не зарегистрирована: команды ей не отправить."),
        }, 409
    action_id = svc.db.write(_record_action, panel_id, action, user["id"])
    answer = _send(panel_id, action)
    outcome = (
        "ok"
        if answer.get("ok")
        else answer.get("error")
        if answer.get("error") in _OUTCOME_TEXT
        else "failed"
    )
    svc.db.write(
        _record_answer, action_id, outcome, None if outcome == "ok" else str(answer.get("error"))[:80]
    )
    # The audit log says a screenshot was taken, never what it showed.
    _audit(
        "panel_command",
        panel_id,
        {"action": action, "outcome": outcome},
        "ok" if outcome == "ok" else "failed",
    )
    result: dict[str, Any] = {
        "action_id": action_id,
        "action": action,
        "acknowledged": outcome in ("ok", "failed"),
        "outcome": outcome,
        "message": translate(_OUTCOME_TEXT[outcome], error=str(answer.get("message") or answer.get("error"))),
    }
    if action == "screenshot" and outcome == "ok":
        result["image"] = f"data:{answer.get('mime', 'image/png')};base64,{answer.get('data', '')}"
    return result


def _action_route(action: str) -> None:
    def view(panel_id: int) -> Any:
        return act(panel_id, action)

    view.__name__ = f"act_{action}"
    view.__doc__ = f"Send `{action}` to the panel (see act)."
    guarded_view = guarded("panel", "command", id_arg="panel_id")(view)
    blueprint.add_url_rule(f"/<int:panel_id>/actions/{action}", view.__name__, guarded_view, methods=["POST"])


for _action in ACTIONS:
    _action_route(_action)


def _send(panel_id: int, action: str) -> dict[str, Any]:
    svc = services()
    if action == "resend_state":
        return send_state(svc, panel_id)
    payload: dict[str, Any] = {}
    if action == "identify":
        names = desired.get(svc.db.read, panel_id)["panel"]
        payload = {
            "name": names["name"],
            "room": names["room"],
            "school": names["school"],
            "seconds": IDENTIFY_SECONDS,
        }
    return svc.hub.send(panel_id, _EVENTS[action], payload)


def _record_action(db: Any, panel_id: int, action: str, user_id: int) -> int:
    row = {"panel_id": panel_id, "action": action, "user_id": user_id, "requested_at": time.time()}
    return db["panel_action"].insert(row).last_pk


def _record_answer(db: Any, action_id: int, outcome: str, error: str | None) -> None:
    db["panel_action"].update(action_id, {"answered_at": time.time(), "outcome": outcome, "error": error})
