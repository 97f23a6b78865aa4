"""The usage statistics: the page of a node, its data, and its report as a file.

`GET /stats/<level>/<id>` is the page, `GET /api/stats/<level>/<id>?start=&end=` its data
(controller.stats.report), `GET /api/stats/<level>/<id>/export?format=xlsx|csv` the report file. The
levels are `all` (the operator's whole country, id 0), region, municipality, school, room and panel;
the guard checks that the node lies in the caller's subtree, so municipal staff see their municipality
and regional staff their region. Each export is an audit event.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, redirect, request, url_for
from flask_babel import gettext as _

from controller.app import services
from controller.i18n import translate
from controller.stats import export, report
from controller.stats.period import Period, PeriodError
from controller.stats.tally import CHILD, LEVELS, Node
from controller.store import audit
from controller.web.admin import staff_page
from controller.web.auth import current_user, login_required
from controller.web.exports import attachment
from controller.web.guard import guarded
from controller.web.security import public

log = logging.getLogger(__name__)
blueprint = Blueprint("stats", __name__)

LEVEL = "<any(all, region, municipality, school, room, panel):level>"


def home_node(user: dict[str, Any]) -> Node:
    """The node whose statistics a user sees first: their own (the operator's is the whole country)."""
    if user["role"] == "operator" or not user["node_type"]:
        return Node("all", 0)
    return Node(user["node_type"], user["node_id"])


@blueprint.get("/stats")
@login_required
@public("redirect to the statistics of the user's own node, which the page's data route guards")
def home_page() -> Any:
    node = home_node(current_user())
    return redirect(url_for("stats.stats_page", level=node.level, node_id=node.id, **request.args))


@blueprint.get(f"/stats/{LEVEL}/<int:node_id>")
@login_required
@public("page shell; its data comes only from guarded API routes")
def stats_page(level: str, node_id: int) -> Any:
    return staff_page("admin/stats.html", stats_level=level, stats_id=node_id)


@blueprint.get(f"/api/stats/{LEVEL}/<int:node_id>")
@guarded("stats", "read", id_arg="node_id", of_arg="level")
def stats_data(level: str, node_id: int) -> Any:
    svc, user, node = services(), current_user(), Node(level, node_id)
    try:
        period = _period()
    except PeriodError as exc:
        return _refused(exc)
    words = export.pretranslated(translate)
    today, home = date.today(), home_node(user)
    try:
        answer = svc.db.read_aside(report.build, node, period, svc.settings, today, home, words)
    except report.NodeNotFound:
        return {"error": "not_found", "message": _("Не найдено.")}, 404
    query = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    base = url_for("stats.stats_export", level=level, node_id=node_id)
    answer["export"] = {kind: f"{base}?{urlencode({'format': kind, **query})}" for kind in export.FORMATS}
    return answer


@blueprint.get(f"/api/stats/{LEVEL}/<int:node_id>/export")
@guarded("stats", "export", id_arg="node_id", of_arg="level")
def stats_export(level: str, node_id: int) -> Any:
    svc, user, node = services(), current_user(), Node(level, node_id)
    file_format = request.args.get("format", "xlsx")
    if file_format not in export.FORMATS:
        return {"error": "invalid", "message": _("Формат выгрузки: csv или xlsx.")}, 400
    try:
        period = _period()
    except PeriodError as exc:
        return _refused(exc)
    words, only = export.pretranslated(translate), _csv_level(node, file_format)
    try:
        data, rows = svc.db.read_aside(
            export.report_file, node, period, svc.settings, date.today(), words, file_format, only
        )
    except report.NodeNotFound:
        return {"error": "not_found", "message": _("Не найдено.")}, 404
    detail = {
        "format": file_format,
        "level": level,
        "node_id": node_id,
        "start": str(period.start),
        "end": str(period.end),
        "rows": rows,
    }
    svc.db.write(
        audit.record,
        audit.Actor.of(user, request.remote_addr),
        "export",
        "ok",
        "stats",
        None,
        g.place,
        detail,
    )
    name = f"{_('Статистика')} — {report.node_name(svc.db.read, node, translate)} {period.start}—{period.end}"
    return Response(
        data,
        mimetype=export.FORMATS[file_format],
        headers={"Content-Disposition": attachment("stats", name, file_format), "Cache-Control": "no-store"},
    )


def _refused(exc: PeriodError) -> tuple[dict[str, Any], int]:
    log.info(
        "statistics: refused the period %r – %r: %s", request.args.get("start"), request.args.get("end"), exc
    )
    return {"error": "invalid", "message": translate(exc.message)}, 400


def _period() -> Period:
    return Period.parse(request.args.get("start"), request.args.get("end"), date.today())


def _csv_level(node: Node, file_format: str) -> str | None:
    """CSV holds one level: the one the page's table shows (the children), or the one asked for."""
    if file_format != "csv":
        return None
    asked = request.args.get("level")
    below = LEVELS[LEVELS.index(node.level) :]
    return asked if asked in below else CHILD.get(node.level, node.level)
