"""The registry of display devices and the monthly reconciliation: their pages, API and exports.

`GET /api/panels` lists the panels of the caller's subtree (filters: status, school_id, room_id, q;
`sort` and `order`), `GET /api/panels/<id>` one panel with its last remote actions,
`GET /api/exports/panels?format=csv|xlsx` the same list as a file, `GET /api/reconciliation` the
four reconciliation lists (`?format=csv|xlsx`: as a file). Every route reads through `@guarded`
("panel", "read" or "export"); each export is one audit event. The pages `/admin/panels` and
`/admin/reconciliation` are shells that read these routes (static/admin/panels.js, reconciliation.js).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from flask import Blueprint, Response, g, request
from flask_babel import gettext as _

from controller import access, panel_exports
from controller.app import services
from controller.i18n import translate
from controller.store import audit, lifecycle
from controller.store import panel_registry as store
from controller.store.lifecycle import Thresholds
from controller.web.admin import staff_page
from controller.web.auth import current_user, login_required
from controller.web.exports import attachment
from controller.web.guard import guarded
from controller.web.security import public

blueprint = Blueprint("panel_registry", __name__)

_SHELL = "page shell; its data comes only from guarded API routes"


@blueprint.get("/admin/panels")
@login_required
@public(_SHELL)
def panels_page() -> Any:
    """The registry of display devices: every panel of the subtree, filters, details, actions."""
    return staff_page("admin/panels.html")


@blueprint.get("/admin/reconciliation")
@login_required
@public(_SHELL)
def reconciliation_page() -> Any:
    """The monthly reconciliation: silent panels, unknown devices, unpaired purchases, revoked ones."""
    return staff_page("admin/reconciliation.html")


def _thresholds() -> Thresholds:
    return Thresholds.of(services().settings)


class BadQuery(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _filters() -> store.Filters:
    """Return the listing's filters from the query string; BadQuery names a wrong one."""
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in lifecycle.STATUSES:
        raise BadQuery("status", _("Состояние: одно из %(names)s.", names=", ".join(lifecycle.STATUSES)))
    ids = {}
    for name in ("school_id", "room_id"):
        value = args.get(name) or None
        if value is not None and not value.isdigit():
            raise BadQuery(name, _("Укажите номер числом."))
        ids[name] = int(value) if value is not None else None
    sort = args.get("sort") or "name"
    if sort not in store.SORTS:
        raise BadQuery("sort", _("Сортировка: одно из %(names)s.", names=", ".join(store.SORTS)))
    order = args.get("order") or "asc"
    if order not in ("asc", "desc"):
        raise BadQuery("order", _("Порядок: asc или desc."))
    q = (args.get("q") or "").strip()[:200] or None
    return store.Filters(status, ids["school_id"], ids["room_id"], q, sort, order == "desc")


def _bad(exc: BadQuery) -> tuple[dict[str, Any], int]:
    return {"error": "invalid", "message": exc.message, "fields": {exc.field: exc.message}}, 400


@blueprint.get("/api/panels")
@guarded("panel", "read")
def list_panels() -> Any:
    """Return the subtree's panels that pass the filters, and how many there are in each status.

    The counts are of the panels passing every filter but the status one (what a status choice
    would show); `total` is how many passed, `panels` at most `limit` of them (5000 at most).
    """
    try:
        filters = _filters()
    except BadQuery as exc:
        return _bad(exc)
    limit = min(request.args.get("limit", store.MAX_LISTED, type=int) or store.MAX_LISTED, store.MAX_LISTED)
    db, user = services().db.read, current_user()
    now = time.time()
    unfiltered = dataclasses.replace(filters, status=None)
    every = store.panels(db, user, _thresholds(), unfiltered, now)
    rows = [row for row in every if filters.status is None or row["status"] == filters.status]
    return {
        "panels": rows[: max(limit, 0)],
        "total": len(rows),
        "counts": store.status_counts(every),
        "thresholds": _threshold_facts(),
    }


def _threshold_facts() -> dict[str, float]:
    settings = services().settings
    return {
        "offline_after_s": settings["panel_offline_after_s"],
        "silent_after_days": settings["panel_silent_after_days"],
    }


@blueprint.get("/api/panels/<int:panel_id>")
@guarded("panel", "read", id_arg="panel_id")
def get_panel(panel_id: int) -> Any:
    """Return the panel as the registry shows it, with its last 20 remote actions."""
    return store.panel(services().db.read, panel_id, _thresholds())


@blueprint.get("/api/exports/panels")
@guarded("panel", "export")
def export_panels() -> Any:
    """Answer the registry as CSV or XLSX: the listing's filters and order, every column, audited."""
    file_format = request.args.get("format", "csv")
    if file_format not in panel_exports.FORMATS:
        return {"error": "invalid", "message": _("Формат выгрузки: csv или xlsx.")}, 400
    try:
        filters = _filters()
    except BadQuery as exc:
        return _bad(exc)
    rows = store.panels(services().db.read, current_user(), _thresholds(), filters)
    sheet = panel_exports.registry_sheet(rows, translate)
    data = panel_exports.write(file_format, [sheet])
    _audit_export("panels", file_format, len(rows))
    return _file(data, "panels", _("Реестр панелей"), file_format)


@blueprint.get("/api/reconciliation")
@guarded("panel", "read")
def reconciliation() -> Any:
    """Return the reconciliation's four lists and their counts; with ?format=, the same as a file."""
    file_format = request.args.get("format")
    if file_format is not None:
        return _export_reconciliation(file_format)
    db, user = services().db.read, current_user()
    answer = store.reconciliation(db, user, _thresholds())
    return {**answer, "thresholds": _threshold_facts(), "window_days": store.UNKNOWN_WINDOW_S // 86400}


def _export_reconciliation(file_format: str) -> Any:
    if file_format not in panel_exports.FORMATS:
        return {"error": "invalid", "message": _("Формат выгрузки: csv или xlsx.")}, 400
    user = current_user()
    try:  # the same roles may read and export panels today; asked anyway, should that change
        access.check(user, "panel", "export", g.place)
    except access.Forbidden:
        return {"error": "forbidden", "message": _("Недостаточно прав.")}, 403
    now = time.time()
    lists = store.reconciliation(services().db.read, user, _thresholds(), now)
    data = panel_exports.write(file_format, panel_exports.reconciliation_sheets(lists, translate, now))
    _audit_export("reconciliation", file_format, sum(lists["counts"].values()))
    return _file(data, "reconciliation", _("Сверка панелей"), file_format)


def _audit_export(kind: str, file_format: str, rows: int) -> None:
    svc = services()
    actor = audit.Actor.of(current_user(), request.remote_addr)
    detail = {"kind": kind, "format": file_format, "rows": rows}
    svc.db.write(audit.record, actor, "export", "ok", "panel", None, g.place, detail)


def _file(data: bytes, kind: str, title: str, file_format: str) -> Response:
    return Response(
        data,
        mimetype=panel_exports.FORMATS[file_format],
        headers={
            "Content-Disposition": attachment(kind, title, file_format),
            "Cache-Control": "no-store",
        },
    )
