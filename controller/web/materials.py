"""A school's materials (the content store's uploads, as teachers see them) and teachers' lesson sets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request
from flask_babel import gettext as _

from classcast.i18n import N_
from controller.app import services
from controller.i18n import translate
from controller.store import content, lesson_sets
from controller.web.auth import current_user
from controller.web.errors import invalid
from controller.web.guard import guarded
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("materials", __name__, url_prefix="/api")

MAX_TITLE_CHARS = 200


@blueprint.get("/materials")
@guarded("content", "read")
def materials_api():
    """The school's materials and the shared samples, with the school's use of its quota."""
    user, svc = current_user(), services()
    school_id = user["node_id"] if user["node_type"] == "school" else None
    return {
        "materials": content.list_materials(svc.db.read, school_id),
        "used": content.school_usage(svc.db.read, school_id) if school_id else 0,
        "quota": svc.settings["school_quota_bytes"],
    }


@blueprint.post("/materials")
@guarded("content", "create", parent="home")
def upload_api():
    """Add an uploaded file (image, video, PDF, HTML5 bundle) to the school's materials."""
    check_csrf()
    user, svc = current_user(), services()
    upload = request.files.get("file")
    if upload is None or user["node_type"] != "school":
        return {"error": "no_file", "message": _("Выберите файл.")}, 400
    title = (request.form.get("title") or upload.filename or _("Материал")).strip()[:MAX_TITLE_CHARS]
    try:
        material = content.add_material(
            svc.db, svc.content, upload.stream, title, user["node_id"], user["id"], svc.settings
        )
    except content.ContentError as exc:
        log.info("user %s: upload refused: %s", user["id"], exc.code)
        return {"error": exc.code, "message": translate(exc.message)}, exc.status
    log.info(
        "user %s uploaded material %s (%s, %s bytes)",
        user["id"],
        material["id"],
        material["kind"],
        material["size"],
    )
    return material, 201


@blueprint.get("/lesson-sets")
@guarded("lesson_set", "read")
def lesson_sets_api():
    return {"lesson_sets": lesson_sets.of_user(services().db.read, current_user()["id"])}


@blueprint.post("/lesson-sets")
@guarded("lesson_set", "create", parent="home")
def create_set_api():
    check_csrf()
    user = current_user()
    checked = _checked_set(user, request.get_json(silent=True))
    if isinstance(checked, Refusal):
        return checked.answer
    set_id = services().db.write(lesson_sets.create, user["node_id"], user["id"], *checked)
    return lesson_sets.get(services().db.read, set_id), 201


@blueprint.put("/lesson-sets/<int:set_id>")
@guarded("lesson_set", "update", id_arg="set_id")
def update_set_api(set_id: int):
    check_csrf()
    user = current_user()
    if not _own_set(user, set_id):
        return _no_set()
    checked = _checked_set(user, request.get_json(silent=True))
    if isinstance(checked, Refusal):
        return checked.answer
    services().db.write(lesson_sets.replace, set_id, *checked)
    return lesson_sets.get(services().db.read, set_id)


@blueprint.delete("/lesson-sets/<int:set_id>")
@guarded("lesson_set", "archive", id_arg="set_id")
def delete_set_api(set_id: int):
    check_csrf()
    if not _own_set(current_user(), set_id):
        return _no_set()
    services().db.write(lesson_sets.delete, set_id)
    return {"deleted": set_id}


def _own_set(user: dict[str, Any], set_id: int) -> bool:
    found = lesson_sets.get(services().db.read, set_id)
    return found is not None and found["user_id"] == user["id"]


def _no_set() -> Any:
    return {"error": "not_found", "message": _("Набор уроков не найден.")}, 404


@dataclass
class Refusal:
    answer: Any  # the 400 answer naming what is wrong


def _checked_set(user: dict[str, Any], body: Any) -> tuple[str, list[dict[str, Any]]] | Refusal:
    """Return (title, items) of a lesson set in the request, or the refusal naming what is wrong."""
    body = body if isinstance(body, dict) else {}
    title = body.get("title").strip()[:MAX_TITLE_CHARS] if isinstance(body.get("title"), str) else ""
    items = body.get("items")
    if not title:
        return Refusal(invalid({"title": N_("Назовите набор.")}))
    if not isinstance(items, list) or not 0 < len(items) <= lesson_sets.MAX_ITEMS:
        return Refusal(invalid({"items": N_("Добавьте в набор от 1 до 100 материалов или ссылок.")}))
    checked = [_checked_item(user, item) for item in items]
    if None in checked:
        return Refusal(invalid({"items": N_("В наборе есть материал, которого нет, или ссылка не на сайт.")}))
    return title, checked  # type: ignore[return-value] - None was refused above


def _checked_item(user: dict[str, Any], item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    title = item.get("title").strip()[:MAX_TITLE_CHARS] if isinstance(item.get("title"), str) else ""
    if isinstance(item.get("material"), int) and not isinstance(item["material"], bool):
        found = content.get_material(services().db.read, item["material"], user["node_id"])
        return {"material": found["id"], "title": title or found["title"]} if found else None
    url = item.get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) <= 2000:
        return {"url": url, "title": title or url}
    return None
