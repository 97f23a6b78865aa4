"""`/healthz`: whether the controller's parts work, and in words what is wrong with one that does not."""

from __future__ import annotations

import shutil

from flask import Blueprint

from controller.app import Services, services
from controller.web.guard import public

blueprint = Blueprint("health", __name__)

_FINE = ("ok", "not started")


@blueprint.get("/healthz")
@public("a health probe: says which part fails, no data")
def healthz():
    svc = services()
    checks = {
        "database": _database(svc),
        "writer": "ok" if svc.db.writer_alive else "stopped: no change can be saved",
        "telemetry": _telemetry(svc),
        "disk": _disk(svc),
    }
    healthy = all(value in _FINE for value in checks.values())
    body = {
        "status": "ok" if healthy else "failing",
        "checks": checks,
        "problems": [f"{name}: {value}" for name, value in checks.items() if value not in _FINE],
        "panels_connected": svc.hub.connected_count,
    }
    return body, 200 if healthy else 503


def _database(svc: Services) -> str:
    try:
        svc.db.read.execute("SELECT 1").fetchone()
    except Exception as exc:  # noqa: BLE001 - reported, not raised: this is the health report
        return f"error: {exc}"
    return "ok"


def _telemetry(svc: Services) -> str:
    if svc.ingest is None:
        return "not started"
    return "ok" if svc.ingest.alive else "stopped: panels' telemetry is not being received"


def _disk(svc: Services) -> str:
    """Return "ok", or how little room is left where the database and the content store grow."""
    try:
        free_mb = shutil.disk_usage(svc.data_dir).free // (1024 * 1024)
    except OSError as exc:
        return f"error: cannot read the free space of {svc.data_dir}: {exc.strerror}"
    floor = svc.settings["health_min_free_mb"]
    if free_mb < floor:
        return f"low: {free_mb} MB free under {svc.data_dir}, below health_min_free_mb ({floor})"
    return "ok"
