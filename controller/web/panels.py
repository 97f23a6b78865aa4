"""The panels' side of the controller: the Socket.IO namespace, the command hub, content downloads.

A panel signs in with its token. A revoked token is refused and counted; a token already connected
from elsewhere is refused and flagged (a cloned identity, or a connection that did not close). Each
panel that connects is sent its whole desired state (controller.store.desired).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import gevent.event
from flask import Blueprint, Response, abort, request, send_file
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO

from classcast.protocol import EVENT_STATE, PANEL_NAMESPACE
from controller.app import Services, services
from controller.monitor import channels
from controller.store import content, desired, incidents, lifecycle, panels
from controller.web.guard import public

log = logging.getLogger(__name__)
blueprint = Blueprint("panels", __name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_JSON = "application/json"
# How long a connection already attached has to answer before a new one with the same token replaces
# it: a live one answers at once (a second device: a clone); a dead one, never (the panel came back).
LIVENESS_S = 3.0


class PanelHub:
    """Which panel is connected on which Socket.IO session, and sending commands to them."""

    def __init__(self, socketio: SocketIO, ack_timeout: float) -> None:
        self.socketio = socketio
        self.ack_timeout = ack_timeout
        self._sid_of: dict[int, str] = {}
        self._panel_of: dict[str, int] = {}
        self._address_of: dict[str, str | None] = {}

    def attach(self, panel_id: int, sid: str, address: str | None = None) -> str | None:
        """Attach the session to the panel; return the address of a session already attached, if any.

        A second session with the same credentials is not attached: the caller refuses it.
        """
        old = self._sid_of.get(panel_id)
        if old is not None and old != sid:
            return self._address_of.get(old) or "?"
        self._sid_of[panel_id] = sid
        self._panel_of[sid] = panel_id
        self._address_of[sid] = address
        return None

    def disconnect(self, panel_id: int) -> bool:
        """Close the panel's live connection (a revoked panel); return whether it had one."""
        sid = self._sid_of.get(panel_id)
        if sid is None:
            return False
        self.socketio.server.disconnect(sid, namespace=PANEL_NAMESPACE)
        self.detach(sid)
        return True

    def detach(self, sid: str) -> int | None:
        """Return the id of the panel whose session ended, forgetting it."""
        panel_id = self._panel_of.pop(sid, None)
        self._address_of.pop(sid, None)
        if panel_id is not None and self._sid_of.get(panel_id) == sid:
            del self._sid_of[panel_id]
        return panel_id

    def connected_ids(self) -> list[int]:
        return list(self._sid_of)

    def is_connected(self, panel_id: int) -> bool:
        return panel_id in self._sid_of

    @property
    def connected_count(self) -> int:
        return len(self._sid_of)

    def send(
        self, panel_id: int, event: str, payload: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Return the panel's acknowledgement of `event`, or an error answer when it gives none in time."""
        sid = self._sid_of.get(panel_id)
        if sid is None:
            return {"ok": False, "error": "offline"}
        answer: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self.socketio.emit(
            event, payload, to=sid, namespace=PANEL_NAMESPACE, callback=lambda *args: answer.set(args)
        )
        try:
            args = answer.get(timeout=self.ack_timeout if timeout is None else timeout)
        except gevent.Timeout:
            return {"ok": False, "error": "no_answer"}
        return args[0] if args and isinstance(args[0], dict) else {"ok": False, "error": "bad_answer"}

    def emit_each(
        self,
        messages: list[tuple[int, dict[str, Any]]],
        event: str,
        answered: Callable[[int, dict[str, Any]], None],
    ) -> None:
        """Send `event` to many panels at once without waiting; `answered(panel_id, ack)` takes each ack.

        A panel that is not connected is answered {"ok": false, "error": "offline"} at once; one that
        never acknowledges is never answered (the caller counts it as not acknowledged).
        """
        for panel_id, payload in messages:
            sid = self._sid_of.get(panel_id)
            if sid is None:
                answered(panel_id, {"ok": False, "error": "offline"})
                continue
            self.socketio.emit(
                event, payload, to=sid, namespace=PANEL_NAMESPACE, callback=_ack_to(answered, panel_id)
            )


def _ack_to(answered: Callable[[int, dict[str, Any]], None], panel_id: int) -> Callable[..., None]:
    def ack(*args: Any) -> None:
        answer = args[0] if args and isinstance(args[0], dict) else {"ok": False, "error": "bad_answer"}
        answered(panel_id, answer)

    return ack


class PanelNamespace(Namespace):
    """`/panel`: players sign in with their token and receive commands (docs/protocol.md)."""

    def __init__(self) -> None:
        super().__init__(PANEL_NAMESPACE)

    def on_connect(self, auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        svc, address = services(), request.remote_addr
        panel = panels.panel_by_token(svc.db.read, token) if isinstance(token, str) and token else None
        if panel is None:
            refuse_token(svc, "socketio", token if isinstance(token, str) else "", address)
            raise ConnectionRefusedError("unauthorized")
        version = auth.get("player_version") if isinstance(auth.get("player_version"), str) else None
        already = svc.hub.attach(panel["id"], request.sid, address)
        if already is not None:
            if _still_answers(svc, panel["id"]):
                flag_clone(svc, panel["id"], "socketio", [already, address or "?"])
                raise ConnectionRefusedError("duplicate")
            # A panel that lost power or its network comes back before the server notices it left.
            log.info("panel %s: its connection from %s no longer answers; replaced", panel["id"], already)
            svc.hub.disconnect(panel["id"])
            svc.hub.attach(panel["id"], request.sid, address)
        svc.db.write(panels.mark_connected, panel["id"], version and version[:40], address)
        log.info("panel %s (%s) connected from %s", panel["id"], panel["name"], address)
        gevent.spawn(send_state, svc, panel["id"])
        if svc.live is not None:
            svc.live.refresh_school(panel["school_id"])  # the teacher's page shows the screen online

    def on_disconnect(self, reason: Any = None) -> None:
        svc = services()
        panel_id = svc.hub.detach(request.sid)
        if panel_id is not None:
            svc.db.write(panels.touch, [panel_id])  # last seen: now, not when it connected
            if svc.live is not None:
                sql = "SELECT school_id FROM panel WHERE id = ?"
                school = svc.db.read.execute(sql, [panel_id]).fetchone()
                svc.live.refresh_school(school and school[0])
        log.info("panel %s disconnected (%s)", panel_id, reason)


def _still_answers(svc: Services, panel_id: int) -> bool:
    """Return whether the panel's current connection acknowledges its state within LIVENESS_S."""
    answer = send_state(svc, panel_id, LIVENESS_S)
    return answer.get("error") not in ("no_answer", "offline")


def send_state(svc: Services, panel_id: int, timeout: float | None = None) -> dict[str, Any]:
    """Send the panel its whole desired state; return its answer (the version it applied)."""
    state = desired.get(svc.db.read, panel_id)
    answer = svc.hub.send(panel_id, EVENT_STATE, state, timeout)
    if not answer.get("ok"):
        log.warning("panel %s did not apply state %s: %s", panel_id, state["version"], answer.get("error"))
    elif state["alert"] is not None and svc.alerts is not None:
        svc.alerts.answered(int(state["alert"]["id"]), panel_id, answer)  # shown on connecting
    return answer


def refuse_token(svc: Services, channel: str, token: str, address: str | None) -> int | None:
    """Count a refused token (a revoked panel's, or an unknown one); return the revoked panel's id."""
    panel_id = svc.db.write(lifecycle.record_contact, channel, panels.token_hash(token), address)
    if panel_id is not None:
        log.warning("refused revoked panel %s on %s from %s", panel_id, channel, address)
    else:
        log.warning("refused unknown or missing token on %s from %s", channel, address)
    return panel_id


def flag_clone(svc: Services, panel_id: int, channel: str, addresses: list[str]) -> None:
    """Flag a panel whose credentials are in use twice at once, and tell school IT (an incident)."""
    log.warning(
        "panel %s: a second connection on %s with the same credentials %s", panel_id, channel, addresses
    )
    svc.db.write(incidents.flag_clone, panel_id, channel, addresses, channels(svc.settings))


def _panel_from_bearer() -> dict[str, Any]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    panel = panels.panel_by_token(services().db.read, token) if scheme == "Bearer" and token else None
    if panel is None:
        refused = refuse_token(services(), "http", token if scheme == "Bearer" else "", request.remote_addr)
        abort(Response(json.dumps({"error": "revoked" if refused else "unauthorized"}), 401, mimetype=_JSON))
    return panel


@blueprint.get("/api/panel/v1/self")
@public("panels sign in with their own token, checked here")
def panel_self() -> Any:
    """Return who the panel is; 401 {"error": "revoked"} tells a revoked panel to pair again."""
    panel = _panel_from_bearer()
    names = desired.get(services().db.read, panel["id"])["panel"]
    return {"panel_id": panel["id"], "name": panel["name"], "room": names["room"], "school": names["school"]}


@blueprint.get("/api/panel/v1/content/<sha256>")
@public("panels sign in with their own token, checked here")
def panel_content(sha256: str):
    """Return a stored file's bytes to a panel: content or a part of it (a PDF's page image).

    Range requests get 206 and the asked bytes (a player resumes a large video); the ETag is the
    SHA-256, which never changes for a name, so a revalidation costs a 304.
    """
    _panel_from_bearer()
    if not _SHA256.fullmatch(sha256):
        abort(404)
    svc = services()
    mime = content.servable(svc.db.read, sha256)
    path = svc.content.path_for(sha256)
    if mime is None or not path.exists():
        abort(404)
    return send_file(path, mimetype=mime, conditional=True, etag=sha256, max_age=3600)
