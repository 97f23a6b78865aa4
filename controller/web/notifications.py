"""Notifications on the staff pages: the panels' open incidents and those resolved in the last week.

Each incident is in the caller's subtree (by the school it happened in) and comes with a sentence
in the page's language; the pages show them above their own content (static/admin/incidents.js).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint

from classcast.i18n import Message
from controller import access
from controller.app import services
from controller.i18n import translate
from controller.notifier import describe
from controller.store import incidents
from controller.web.auth import current_user
from controller.web.guard import guarded

blueprint = Blueprint("notifications", __name__, url_prefix="/api")

RESOLVED_SHOWN_S = 7 * 86400  # resolved incidents stay on the pages this long
LIMIT = 200


@blueprint.get("/notifications")
@guarded("panel", "read")
def list_incidents() -> Any:
    """Return the open incidents of the caller's subtree first, then the recently resolved ones."""
    scope = access.scope_filter(current_user())
    rows = incidents.recent(services().db.read, scope, time.time() - RESOLVED_SHOWN_S, LIMIT)
    return {"incidents": [_shown(row) for row in rows]}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    message: Message = describe(row["kind"], row["panel_name"], row["detail"])
    return {
        "id": row["id"],
        "kind": row["kind"],
        "message": translate(message),
        "panel": {"id": row["panel_id"], "name": row["panel_name"]},
        "room": row["room_name"],
        "school": {"id": row["school_id"], "name": row["school_name"]},
        "opened_at": row["opened_at"],
        "resolved_at": row["resolved_at"],
    }
