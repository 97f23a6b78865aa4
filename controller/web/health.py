"""`/healthz`: whether the controller's parts work, and which does not."""

from __future__ import annotations

from flask import Blueprint

from controller.app import services
from controller.web.guard import public

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
@public("a health probe: says which part fails, no data")
def healthz():
    svc = services()
    checks = {
        "database": _database_ok(svc),
        "writer": "ok" if svc.db.writer_alive else "stopped",
        "telemetry": "not started" if svc.ingest is None else ("ok" if svc.ingest.alive else "stopped"),
    }
    healthy = all(value in ("ok", "not started") for value in checks.values())
    body = {
        "status": "ok" if healthy else "failing",
        "checks": checks,
        "panels_connected": svc.hub.connected_count,
    }
    return body, 200 if healthy else 503


def _database_ok(svc) -> str:
    try:
        svc.db.read.execute("SELECT 1").fetchone()
    except Exception as exc:  # noqa: BLE001 - reported, not raised: this is the health report
        return f"error: {exc}"
    return "ok"
