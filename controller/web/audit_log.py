"""The audit log's API: the events of the caller's subtree, filtered, newest first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_babel import gettext as _

from controller.app import services
from controller.store import audit
from controller.web.auth import current_user
from controller.web.guard import guarded

blueprint = Blueprint("audit_log", __name__, url_prefix="/api")

_FILTERS = ("action", "object_kind", "object_id", "outcome", "actor_login", "since")


@blueprint.get("/audit")
@guarded("audit", "read")
def list_events() -> Any:
    filters = {name: request.args.get(name) for name in _FILTERS if request.args.get(name)}
    if "object_id" in filters and not filters["object_id"].isdigit():
        return {"error": "invalid", "message": _("object_id — число.")}, 400
    try:
        float(filters.get("since", 0))
    except ValueError:
        return {"error": "invalid", "message": _("since — время в секундах Unix.")}, 400
    limit = min(request.args.get("limit", 200, type=int), 1000)
    events = audit.search(
        services().db.read, current_user(), filters, limit, request.args.get("before_id", type=int)
    )
    return {"events": events}
