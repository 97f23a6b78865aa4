"""Alerts: school IT to the whole school, a municipality's coordinators to the whole municipality."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from controller import access, alerts
from controller.app import services
from controller.casting import CastError
from controller.i18n import translate
from controller.store import alerts as alert_store
from controller.store import audit
from controller.web.auth import current_user, login_required
from controller.web.guard import guarded, public
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("alerts", __name__)


@blueprint.get("/alerts")
@login_required
@public("the caller's own page: its data comes from the guarded API below")
def alerts_page():
    user = current_user()
    if user["role"] not in ("school_it", "municipal"):
        return redirect(url_for("casting.home"))
    return render_template("alerts.html", user=user)


@blueprint.get("/api/alerts")
@guarded("alert", "read")
def active_api():
    """The alerts active now for the caller's node (a school's IT: the school's and its municipality's)."""
    user, db = current_user(), services().db.read
    found = []
    for node_type, node_id in _nodes_of(user):
        found += alert_store.active(db, node_type, node_id)
    return {"alerts": [alert_store.summary(db, alert) for alert in found]}


def _nodes_of(user: dict[str, Any]) -> list[tuple[str, int]]:
    if user["node_type"] == "school":
        place = access.home_of(services().db.read, user)
        return [("school", user["node_id"]), ("municipality", place.municipality_id)]
    if user["node_type"] == "municipality":
        return [("municipality", user["node_id"])]
    return []


@blueprint.post("/api/alerts")
@guarded("alert", "create", parent="home")
def send_api():
    """Send an alert to every panel of the caller's school or municipality: {"text", "title", "level"}."""
    check_csrf()
    user = current_user()
    try:
        summary = alerts.send(services(), user, request.get_json(silent=True) or {})
    except CastError as exc:
        return {"error": exc.code, "message": translate(exc.message)}, exc.status
    _audit(user, "send", summary)
    return summary, 201


@blueprint.get("/api/alerts/<int:alert_id>")
@guarded("alert", "read", id_arg="alert_id")
def alert_api(alert_id: int):
    db = services().db.read
    return alert_store.summary(db, alert_store.get(db, alert_id))


@blueprint.post("/api/alerts/<int:alert_id>/clear")
@guarded("alert", "update", id_arg="alert_id")
def clear_api(alert_id: int):
    """Clear the alert: its panels go back to what they showed."""
    check_csrf()
    user = current_user()
    alert = alert_store.get(services().db.read, alert_id)
    if alert["cleared_at"] is not None:
        return {"error": "cleared", "message": _("Оповещение уже снято.")}, 409
    summary = alerts.clear(services(), user, alert_id)
    _audit(user, "clear", summary)
    return summary


def _audit(user: dict[str, Any], step: str, summary: dict[str, Any]) -> None:
    actor = audit.Actor.of(user, request.remote_addr)
    place = access.place_of(services().db.read, "alert", summary["id"])
    detail = {"step": step, "level": summary["level"], "panels": summary["total"]}
    services().db.write(audit.record, actor, "alert", "ok", "alert", summary["id"], place, detail)
