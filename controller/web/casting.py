"""The teacher's page and its API: the rooms and what their screens show, casting, the remote."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from classcast.i18n import N_
from controller import access, journal, remote
from controller.app import services
from controller.casting import CastError, cast, choice_from, room_ids_from
from controller.i18n import translate
from controller.rooms import snapshots
from controller.store import audit, casts, orgs, room_casts
from controller.web.auth import current_user, login_required
from controller.web.guard import guarded, public
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("casting", __name__)

_STATUS = {"shown": N_("показано"), "failed": N_("ошибка"), "sent": N_("отправлено")}


@blueprint.get("/")
@login_required
@public("the caller's own page: its data comes from the guarded API below")
def home():
    user = current_user()
    if user["node_type"] != "school":
        # Municipal, regional and operator staff cast nothing; their work starts at the registry.
        return redirect(url_for("admin.registry_page"))
    return render_template("teacher.html", user=user)


@blueprint.get("/api/cast/rooms")
@guarded("cast", "read")
def rooms_api():
    """The rooms of the caller's school, the caller's usual rooms first."""
    return {"rooms": school_rooms(current_user())}


def school_rooms(user: dict[str, Any]) -> list[dict[str, Any]]:
    svc = services()
    found = orgs.rooms_of_school(svc.db.read, user["node_id"]) if user["node_type"] == "school" else []
    usual = room_casts.usual_rooms(svc.db.read, user["id"])
    for room in found:
        room["usual"] = room["id"] in usual
    found.sort(key=lambda room: -usual.get(room["id"], 0))  # stable: name order within each count
    return snapshots(svc.db.read, svc.hub, found, translate)


@blueprint.post("/api/casts")
@guarded("cast", "create")
def cast_api():
    """Cast to one room or several: JSON in; each panel's answer and the rooms' snapshots out."""
    body = _json_body()
    return _answer(lambda user: _cast(user, body))


def _cast(user: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if body.get("current_lesson") is True:  # the room the timetable says the teacher teaches in now
        room_ids = [journal.current_room(services(), user)]
    else:
        room_ids = room_ids_from(body)
    choice = choice_from(services(), user, body)
    answers = cast(services(), user, room_ids, choice, body.get("take_over") is True)
    return {"casts": answers, "rooms": _changed(user, room_ids)}


@blueprint.post("/api/rooms/<int:room_id>/control")
@guarded("cast", "control", id_arg="room_id", id_kind="room")
def control_api(room_id: int):
    """A press of the remote: next, prev, goto ("page"), play, pause, blank, unblank, freeze, unfreeze."""
    body = _json_body()

    def act(user: dict[str, Any]) -> dict[str, Any]:
        answers = remote.control(services(), user, room_id, body.get("action"), body.get("page"))
        return {"answers": answers, "room": _changed(user, [room_id])[0]}

    return _answer(act)


@blueprint.post("/api/rooms/<int:room_id>/stop")
@guarded("cast", "control", id_arg="room_id", id_kind="room")
def stop_api(room_id: int):
    """Take the room's screens back to their schedule."""
    _json_body()

    def act(user: dict[str, Any]) -> dict[str, Any]:
        answers = remote.stop(services(), user, room_id)
        return {"answers": answers, "room": _changed(user, [room_id])[0]}

    return _answer(act)


@blueprint.get("/api/casts/<int:cast_id>")
@guarded("cast", "read", id_arg="cast_id")
def cast_status(cast_id: int):
    record = casts.get_cast(services().db.read, cast_id)
    record["status_text"] = translate(_STATUS.get(record["status"], record["status"]))
    return record


def _json_body() -> dict[str, Any]:
    check_csrf()
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _answer(act: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    user = current_user()
    if user["node_type"] != "school":
        return {"error": "no_such_room", "message": _("Кабинет не найден.")}, 404
    try:
        return act(user)
    except CastError as exc:
        log.info("user %s: %s (%s)", user["id"], exc.code, request.path)
        if exc.status in (403, 404):
            _audit_denial(user, exc)
        return {"error": exc.code, "message": translate(exc.message), **exc.detail}, exc.status


def _audit_denial(user: dict[str, Any], exc: CastError) -> None:
    """Keep a refused room or material in the audit log, as the guard keeps every other denial."""
    svc = services()
    actor = audit.Actor.of(user, request.remote_addr)
    detail = {"route": request.path[:200], "status": exc.status, "error": exc.code}
    home = access.home_of(svc.db.read, user)
    svc.db.write(audit.record, actor, "denied", "denied", "cast", None, home, detail)


def _changed(user: dict[str, Any], room_ids: list[int]) -> list[dict[str, Any]]:
    """Return the rooms' snapshots, after telling every open page of the school."""
    svc = services()
    found = [room for room in (orgs.get_room(svc.db.read, room_id) for room_id in room_ids) if room]
    changed = snapshots(svc.db.read, svc.hub, found, translate)
    svc.live.rooms_changed(changed, user["node_id"])
    return changed
