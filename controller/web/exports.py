"""The export API: a school list or a staff list as a file in the import's format, to edit and upload.

`GET /api/exports/schools` and `GET /api/exports/staff`, each `?format=csv|xlsx` and optionally one
of `region_id`, `municipality_id`, `school_id` (the exporter's own node otherwise) and `archived=1`.
The guard asks for the action "export" on schools or accounts; each export is one audit event.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import gevent
from flask import Blueprint, Response, request
from flask_babel import gettext as _

from classcast.i18n import N_
from controller import access, exports
from controller.app import services
from controller.i18n import translate
from controller.store import audit
from controller.store import exports as store
from controller.store.imports import Refused
from controller.web.auth import current_user
from controller.web.guard import guarded

blueprint = Blueprint("exports", __name__, url_prefix="/api")

_NODE_NOT_FOUND = {
    "region": N_("Регион не найден."),
    "municipality": N_("Муниципалитет не найден."),
    "school": N_("Школа не найдена."),
}


@blueprint.get("/exports/schools")
@guarded("school", "export")
def export_schools() -> Any:
    return _export("schools", _("Школы"))


@blueprint.get("/exports/staff")
@guarded("user", "export")
def export_staff() -> Any:
    return _export("staff", _("Сотрудники"))


def _export(kind: str, title: str) -> Any:
    """Answer the file of the `kind` list of the node the request names, audited."""
    file_format = request.args.get("format", "csv")
    if file_format not in exports.FORMATS:
        return {"error": "invalid", "message": _("Формат выгрузки: csv или xlsx.")}, 400
    svc, user = services(), current_user()
    archived = request.args.get("archived") == "1"
    try:
        scope = store.resolve_scope(svc.db.read, user, kind, *_scope_arg())
    except access.NotFound as missing:
        return _deny(kind, 404, translate(_NODE_NOT_FOUND.get(str(missing), N_("Не найдено."))))
    except access.Forbidden:
        return _deny(kind, 403, _("Недостаточно прав для выгрузки такого списка."))
    except Refused as exc:
        return {"error": exc.code, "message": translate(exc.message)}, exc.status
    rows = (store.schools if kind == "schools" else store.staff)(svc.db.read, scope, archived)
    data = exports.write(kind, file_format, rows, title, _let_others_run)
    actor = audit.Actor.of(user, request.remote_addr)
    svc.db.write(store.record, actor, kind, scope, file_format, len(rows), archived)
    return Response(
        data,
        mimetype=exports.FORMATS[file_format],
        headers={
            "Content-Disposition": attachment(kind, f"{title} — {scope.name}", file_format),
            "Cache-Control": "no-store",  # a staff list holds names and e-mails
        },
    )


def _scope_arg() -> tuple[str | None, int | None]:
    """Return the node the query names (region_id, municipality_id or school_id), if any."""
    given = [
        (level, request.args[f"{level}_id"]) for level in access.LEVELS if request.args.get(f"{level}_id")
    ]
    if not given:
        return None, None
    if len(given) > 1 or not given[0][1].isdigit():
        raise Refused(400, "scope", N_("Укажите один узел числом: region_id, municipality_id или school_id."))
    return given[0][0], int(given[0][1])


def attachment(kind: str, name: str, file_format: str) -> str:
    """Return a Content-Disposition for an export: its name and today's date, ASCII beside it."""
    day = time.strftime("%Y-%m-%d")
    readable = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', " ", f"{name} {day}").strip()
    return disposition(f"{readable}.{file_format}", f"classcast-{kind}-{day}.{file_format}")


def disposition(name: str, fallback: str) -> str:
    """Return a Content-Disposition naming the file `name` in any language (RFC 5987), `fallback` in ASCII."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _let_others_run(done: int, total: int | None) -> None:
    # Writing 60,000 accounts to XLSX takes seconds of CPU: casts and telemetry go on in between.
    gevent.sleep(0)


def _deny(kind: str, status: int, message: str) -> tuple[dict[str, Any], int]:
    """Answer a denial found past the guard (a node outside the subtree), audited as the guard does."""
    svc, user = services(), current_user()
    detail = {"route": request.path[:200], "status": status, "action": "export"}
    actor = audit.Actor.of(user, request.remote_addr)
    home = access.home_of(svc.db.read, user)
    svc.db.write(audit.record, actor, "denied", "denied", store.OBJECT_KIND[kind], None, home, detail)
    return {"error": "not_found" if status == 404 else "forbidden", "message": message}, status
