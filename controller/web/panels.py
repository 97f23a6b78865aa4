"""The panels' side of the controller: the Socket.IO namespace, the command hub, content downloads."""

from __future__ import annotations

import logging
import re
from typing import Any

import gevent.event
from flask import Blueprint, abort, request, send_file
from flask_socketio import Namespace, SocketIO

from classcast.protocol import PANEL_NAMESPACE
from controller.app import services
from controller.store import content, panels
from controller.web.guard import public

log = logging.getLogger(__name__)
blueprint = Blueprint("panels", __name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")


class PanelHub:
    """Which panel is connected on which Socket.IO session, and sending commands to them."""

    def __init__(self, socketio: SocketIO, ack_timeout: float) -> None:
        self.socketio = socketio
        self.ack_timeout = ack_timeout
        self._sid_of: dict[int, str] = {}
        self._panel_of: dict[str, int] = {}

    def attach(self, panel_id: int, sid: str) -> None:
        old = self._sid_of.get(panel_id)
        if old is not None and old != sid:
            log.warning("panel %s connected again (session %s) while still on %s", panel_id, sid, old)
            self._panel_of.pop(old, None)
        self._sid_of[panel_id] = sid
        self._panel_of[sid] = panel_id

    def detach(self, sid: str) -> int | None:
        """Return the id of the panel whose session ended, forgetting it."""
        panel_id = self._panel_of.pop(sid, None)
        if panel_id is not None and self._sid_of.get(panel_id) == sid:
            del self._sid_of[panel_id]
        return panel_id

    def is_connected(self, panel_id: int) -> bool:
        return panel_id in self._sid_of

    @property
    def connected_count(self) -> int:
        return len(self._sid_of)

    def send(self, panel_id: int, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the panel's acknowledgement of `event`, or an error answer when it gives none in time."""
        sid = self._sid_of.get(panel_id)
        if sid is None:
            return {"ok": False, "error": "offline"}
        answer: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self.socketio.emit(
            event, payload, to=sid, namespace=PANEL_NAMESPACE, callback=lambda *args: answer.set(args)
        )
        try:
            args = answer.get(timeout=self.ack_timeout)
        except gevent.Timeout:
            return {"ok": False, "error": "no_answer"}
        return args[0] if args and isinstance(args[0], dict) else {"ok": False, "error": "bad_answer"}


class PanelNamespace(Namespace):
    """`/panel`: players sign in with their token and receive commands (docs/protocol.md)."""

    def __init__(self) -> None:
        super().__init__(PANEL_NAMESPACE)

    def on_connect(self, auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        svc = services()
        panel = panels.panel_by_token(svc.db.read, token) if isinstance(token, str) else None
        if panel is None:
            log.warning("panel connection refused from %s: bad or missing token", request.remote_addr)
            raise ConnectionRefusedError("unauthorized")
        version = auth.get("player_version") if isinstance(auth.get("player_version"), str) else None
        svc.db.write(panels.mark_connected, panel["id"], version and version[:40])
        svc.hub.attach(panel["id"], request.sid)
        log.info("panel %s (%s) connected", panel["id"], panel["name"])

    def on_disconnect(self, reason: Any = None) -> None:
        panel_id = services().hub.detach(request.sid)
        log.info("panel %s disconnected (%s)", panel_id, reason)


def _panel_from_bearer() -> dict[str, Any]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    panel = panels.panel_by_token(services().db.read, token) if scheme == "Bearer" and token else None
    if panel is None:
        log.warning("content request refused from %s: bad or missing token", request.remote_addr)
        abort(401)
    return panel


@blueprint.get("/api/panel/v1/content/<sha256>")
@public("panels sign in with their own token, checked here")
def panel_content(sha256: str):
    """Return a stored item's bytes to a panel (with Range and ETag support)."""
    _panel_from_bearer()
    if not _SHA256.fullmatch(sha256):
        abort(404)
    svc = services()
    record = content.get_content(svc.db.read, sha256)
    path = svc.content.path_for(sha256)
    if record is None or not path.exists():
        abort(404)
    return send_file(path, mimetype=record["mime"], conditional=True, etag=sha256, max_age=3600)
