"""`/metrics`: the controller's own metrics in the Prometheus text format, for a scraper only.

Who may read it: a client on loopback whose request came through no proxy (Prometheus or
node-exporter on the server itself), or anyone presenting the `metrics_token` setting as a bearer
token (a scraper elsewhere, through nginx). A request nginx forwarded carries X-Forwarded-For and so
always needs the token, even though it arrives from 127.0.0.1. The numbers hold no personal data,
but they tell an outsider how busy each part is; hence the door.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from controller import metrics
from controller.app import services
from controller.web.security import public

blueprint = Blueprint("metrics", __name__)
# Registering the blueprint is what wires the registry and the request-timing hooks into the app.
blueprint.record_once(lambda state: metrics.init_app(state.app))

_FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


@blueprint.get("/metrics")
@public("Prometheus scrape: counts and timings, no personal data; loopback unproxied, or the metrics token")
def metrics_page() -> Response:
    svc = services()
    if not _may_scrape(svc.settings["metrics_token"]):
        return Response("metrics: loopback only, or Authorization: Bearer <metrics_token>\n", 403)
    return Response(generate_latest(svc.metrics.registry), content_type=CONTENT_TYPE_LATEST)


def _may_scrape(token: str) -> bool:
    """Return whether this request may read the metrics (see the module's docstring)."""
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    peer = request.environ.get("REMOTE_ADDR", "")  # the socket's peer, before any proxy fix-up
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False
