"""The import API: upload a school or staff list for a preview, page through it, apply it once.

Previewing, reading the preview and applying it are the steps of one "create import", and the guard
asks for that action on each; a preview exists only for its author (404 for anyone else).
"""

from __future__ import annotations

from typing import Any

import gevent
from flask import Blueprint, request
from flask_babel import gettext as _

from classcast.i18n import N_, Message
from controller import access
from controller.app import services
from controller.i18n import translate
from controller.imports import KINDS, MAX_BYTES, FileRefused
from controller.store import audit
from controller.store import imports as store
from controller.web.auth import current_user
from controller.web.guard import guarded
from controller.web.security import check_csrf

blueprint = Blueprint("imports", __name__, url_prefix="/api")

_NODE_NOT_FOUND = {
    "region": N_("Регион не найден."),
    "municipality": N_("Муниципалитет не найден."),
    "school": N_("Школа не найдена."),
}


@blueprint.post("/imports")
@guarded("import", "create")
def create_preview() -> Any:
    check_csrf()
    kind = request.form.get("kind")
    if kind not in KINDS:
        return _invalid(_("Укажите, что в файле: kind = schools (школы) или staff (сотрудники)."))
    upload = request.files.get("file")
    if upload is None:
        return _invalid(_("Приложите файл списка (поле file): CSV или XLSX."))
    svc, user = services(), current_user()
    try:
        scope = store.resolve_scope(svc.db.read, user, kind, *_scope_arg())
        data = upload.stream.read(MAX_BYTES + 1)
        preview = store.preview(svc.db, user, kind, data, scope, _let_others_run)
    except FileRefused as exc:
        return {"error": "bad_file", "message": translate(exc.message)}, 400
    except access.NotFound as missing:
        return _deny(404, translate(_NODE_NOT_FOUND.get(str(missing), N_("Не найдено."))))
    except access.Forbidden:
        return _deny(403, _("Недостаточно прав для импорта такого списка."))
    except store.Refused as exc:
        return _refused(exc)
    return _localized(preview), 201


@blueprint.get("/imports/<preview_id>")
@guarded("import", "create", id_arg="preview_id")
def get_preview(preview_id: str) -> Any:
    db, user, section = services().db.read, current_user(), request.args.get("section")
    try:
        if section is None:
            return _localized(store.summary(db, preview_id, user))
        offset = max(request.args.get("offset", 0, type=int), 0)
        limit = min(max(request.args.get("limit", 100, type=int), 1), 1000)
        result = store.page(db, preview_id, user, section, offset, limit)
    except store.Refused as exc:
        return _refused(exc)
    if section == "bad":
        result["items"] = [_bad_row(entry) for entry in result["items"]]
    return result


@blueprint.post("/imports/<preview_id>/apply")
@guarded("import", "create", id_arg="preview_id")
def apply_preview(preview_id: str) -> Any:
    check_csrf()
    try:
        return store.apply(services().db, current_user(), preview_id, request.remote_addr)
    except store.Changed as exc:
        return {"error": exc.code, "message": translate(exc.message), "preview": _localized(exc.preview)}, 409
    except store.Refused as exc:
        return _refused(exc)


def _scope_arg() -> tuple[str | None, int | None]:
    """Return the node the form names for the import (region_id, municipality_id or school_id), if any."""
    given = [
        (level, request.form[f"{level}_id"]) for level in access.LEVELS if request.form.get(f"{level}_id")
    ]
    if not given:
        return None, None
    if len(given) > 1 or not given[0][1].isdigit():
        raise store.Refused(
            400, "scope", N_("Укажите один узел числом: region_id, municipality_id или school_id.")
        )
    return given[0][0], int(given[0][1])


def _let_others_run(done: int, total: int | None) -> None:
    # Reading 60,000 rows takes seconds of CPU: let casts and telemetry have the loop between batches.
    gevent.sleep(0)


def _localized(preview: dict[str, Any]) -> dict[str, Any]:
    """Return a preview's summary with its messages in the request's language."""
    first = {**preview["first"], "bad": [_bad_row(entry) for entry in preview["first"]["bad"]]}
    return {**preview, "first": first, "notes": [translate(note) for note in preview["notes"]]}


def _bad_row(entry: dict[str, Any]) -> dict[str, Any]:
    reason = translate(Message(entry["reason"], entry["values"]))
    return {key: value for key, value in entry.items() if key != "values"} | {"reason": reason}


def _invalid(message: str) -> tuple[dict[str, Any], int]:
    return {"error": "invalid", "message": message}, 400


def _refused(exc: store.Refused) -> tuple[dict[str, Any], int]:
    if exc.status in (403, 404):
        return _deny(exc.status, translate(exc.message))
    return {"error": exc.code, "message": translate(exc.message)}, exc.status


def _deny(status: int, message: str) -> tuple[dict[str, Any], int]:
    """Answer a denial found past the guard (a node or a preview not theirs), audited as the guard does."""
    svc, user = services(), current_user()
    detail = {"route": request.path[:200], "status": status, "action": "create"}
    actor = audit.Actor.of(user, request.remote_addr)
    home = access.home_of(svc.db.read, user)
    svc.db.write(audit.record, actor, "denied", "denied", "import", None, home, detail)
    return {"error": "not_found" if status == 404 else "forbidden", "message": message}, status
