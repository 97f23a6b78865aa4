"""The teacher's page and the cast API: choose a room, choose what to show, see each screen's answer."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from classcast.i18n import N_
from controller.app import services
from controller.casting import CastError, cast_to_room, item_from_content, item_from_url
from controller.i18n import translate
from controller.store import casts, content, orgs, panels
from controller.web.auth import current_user, login_required
from controller.web.guard import guarded, public
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("casting", __name__)

_STATUS = {"shown": N_("показано"), "failed": N_("ошибка"), "sent": N_("отправлено")}
_ERRORS = {
    "offline": N_("экран не в сети"),
    "no_answer": N_("экран не ответил"),
    "no_display": N_("на экране не запущена страница показа"),
    "timeout": N_("страница показа не подтвердила показ"),
    "fetch_failed": N_("экран не смог загрузить материал"),
    "checksum_mismatch": N_("материал повреждён при загрузке"),
    "bad_item": N_("экран не понял команду"),
}


@blueprint.get("/")
@login_required
@public("the caller's own page: lists only the rooms of their own school")
def home():
    user = current_user()
    if user["node_type"] != "school":
        # Municipal, regional and operator staff cast nothing; their work starts at the registry.
        return redirect(url_for("admin.registry_page"))
    svc = services()
    school_id = user["node_id"] if user["node_type"] == "school" else None
    rooms = orgs.rooms_of_school(svc.db.read, school_id) if school_id else []
    for room in rooms:
        room["online"] = sum(
            svc.hub.is_connected(p["id"]) for p in panels.panels_of_room(svc.db.read, room["id"])
        )
    materials = list(
        svc.db.read.query(
            "SELECT * FROM content WHERE school_id IS NULL OR school_id = ? ORDER BY title", [school_id]
        )
    )
    return render_template("teacher.html", user=user, rooms=rooms, materials=materials)


@blueprint.post("/cast")
@login_required
@guarded("cast", "create", parent="room")
def cast_form():
    """Cast from the teacher's page (a form post); the answers come back as a notice on the page."""
    check_csrf()
    try:
        answers = _cast(request.form)
    except CastError as exc:
        flash(translate(exc.message), "error")
        return redirect(url_for("casting.home"))
    for answer in answers:
        if answer.get("ok"):
            flash(_("%(panel)s: показано", panel=answer["panel"]), "ok")
        else:
            reason = translate(_ERRORS.get(answer.get("error"), N_("ошибка")))
            flash(_("%(panel)s: %(reason)s", panel=answer["panel"], reason=reason), "error")
    return redirect(url_for("casting.home"))


@blueprint.post("/api/casts")
@guarded("cast", "create", parent="room")
def cast_api():
    """Cast from a script or a page: JSON in, each panel's answer out."""
    check_csrf()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "bad_request", "message": _("Нужен JSON-объект.")}, 400
    try:
        answers = _cast(body)
    except CastError as exc:
        return {"error": exc.code, "message": translate(exc.message)}, exc.status
    return {"casts": answers}


@blueprint.get("/api/casts/<int:cast_id>")
@guarded("cast", "read", id_arg="cast_id")
def cast_status(cast_id: int):
    record = casts.get_cast(services().db.read, cast_id)
    record["status_text"] = translate(_STATUS.get(record["status"], record["status"]))
    return record


def _cast(fields: Any) -> list[dict[str, Any]]:
    user = current_user()
    svc = services()
    try:
        room_id = int(fields.get("room_id", ""))
    except (TypeError, ValueError):
        raise CastError("bad_room", N_("Выберите кабинет.")) from None
    if user["node_type"] != "school":
        raise CastError("no_such_room", N_("Кабинет не найден."), 404)
    if fields.get("content"):
        item = item_from_content(svc, str(fields["content"]), user["node_id"])
    elif fields.get("url"):
        item = item_from_url(str(fields["url"]), fields.get("title"))
    else:
        raise CastError("no_item", N_("Выберите материал или вставьте ссылку."))
    return cast_to_room(svc, user, room_id, item)


@blueprint.post("/content")
@login_required
@guarded("content", "create", parent="home")
def upload():
    """Add an uploaded image to the content store of the user's school."""
    check_csrf()
    user = current_user()
    upload = request.files.get("file")
    if upload is None or user["node_type"] != "school":
        flash(_("Выберите файл."), "error")
        return redirect(url_for("casting.home"))
    title = (request.form.get("title") or upload.filename or _("Материал")).strip()[:200]
    try:
        record = content.add_content(services().db, services().content, upload.read(), title, user["node_id"])
    except content.ContentError as exc:
        flash(translate(str(exc)), "error")
        return redirect(url_for("casting.home"))
    log.info("user %s uploaded content %s (%s bytes)", user["id"], record["sha256"], record["size"])
    flash(_("Материал «%(title)s» загружен.", title=record["title"]), "ok")
    return redirect(url_for("casting.home"))
