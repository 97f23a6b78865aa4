"""Pre-provisioning over HTTP: a region uploads its list of purchased panels; staff read it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, request
from flask_babel import gettext as _

from controller import access, provisions
from controller.app import services
from controller.i18n import translate
from controller.imports import MAX_BYTES, FileRefused
from controller.store import audit
from controller.web.auth import current_user
from controller.web.guard import guarded
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("provisions", __name__, url_prefix="/api")


@blueprint.post("/provisions")
@guarded("provision", "create")
def upload() -> Any:
    """Take a CSV or XLSX of serial → school (→ room, name); answer what became of each row."""
    check_csrf()
    upload = request.files.get("file")
    if upload is None:
        return {"error": "invalid", "message": _("Приложите файл списка (поле file): CSV или XLSX.")}, 400
    svc, user = services(), current_user()
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        report = svc.db.write(provisions.load, user, data)
    except FileRefused as exc:
        log.warning("provision list refused from %s: %s", user["login"], exc)
        return {"error": "bad_file", "message": translate(exc.message)}, 400
    detail = {"added": report.added, "updated": report.updated, "bad_rows": len(report.bad_rows)}
    actor = audit.Actor.of(user, request.remote_addr)
    svc.db.write(audit.record, actor, "import", "ok", "provision", None, g.place, detail)
    log.info("provision list from %s: %s", user["login"], detail)
    bad = [{**row, "message": translate(row["message"])} for row in report.bad_rows]
    return {"added": report.added, "updated": report.updated, "bad_rows": bad}


@blueprint.get("/provisions")
@guarded("provision", "read")
def listing() -> Any:
    """Return the provisioned serials of the caller's subtree, paired or not."""
    condition, params = access.scope_filter(current_user())
    rows = services().db.read.query(
        f"""SELECT id, serial, school_id, school, room_id, room, name, created_at, panel_id, used_at FROM (
                SELECT v.*, s.short_name AS school, r.name AS room, m.region_id, s.municipality_id
                FROM provision v JOIN school s ON s.id = v.school_id
                JOIN municipality m ON m.id = s.municipality_id LEFT JOIN room r ON r.id = v.room_id)
            WHERE {condition}
            ORDER BY panel_id IS NOT NULL, school, serial LIMIT 5000""",
        params,
    )
    return {"items": list(rows)}
