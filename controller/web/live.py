"""Live pages: the Socket.IO namespace `/ui`, through which the teacher's and the alert senders' pages
hear at once what the screens do (a cast answered, a page turned, a room taken, an alert acknowledged).

A page signs in with its session cookie. A school's teachers and IT share the school's channel (every
open page of a room reflects its changes); each user has a channel of their own (told when another
teacher takes their room); an alert's senders hear its acknowledgements on the channel of its scope.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from flask import request
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, join_room

from classcast.protocol import UI_ALERT, UI_NAMESPACE, UI_ROOM, UI_TAKEN
from controller import rooms
from controller.app import services
from controller.i18n import translate
from controller.store import orgs
from controller.web.auth import current_user

log = logging.getLogger(__name__)

REFRESH_S = 0.3  # a school whose panels come and go is told once per this much time, not per panel


def school_channel(school_id: int) -> str:
    return f"school:{school_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def alert_channel(node_type: str, node_id: int) -> str:
    return f"alerts:{node_type}:{node_id}"


class Live:
    """Telling the open pages: room snapshots, `taken` notices, alert progress."""

    def __init__(self, socketio: SocketIO, svc: Any) -> None:
        self.socketio = socketio
        self.svc = svc  # controller.app.Services
        self._stale_schools: set[int] = set()
        self._refresher: gevent.Greenlet | None = None

    def rooms_changed(self, snapshots: list[dict[str, Any]], school_id: int) -> None:
        for snapshot in snapshots:
            self.socketio.emit(UI_ROOM, snapshot, to=school_channel(school_id), namespace=UI_NAMESPACE)

    def rooms_sent(self, school_id: int, room_ids: list[int]) -> None:
        """Tell the school's open pages that a cast went out (each panel `sent`), while the panels show it.

        Spawned: it runs while the caster waits for the panels, never before the panels are sent.
        """
        if self._listening(school_channel(school_id)):
            gevent.spawn(self._send_rooms, school_id, room_ids)

    def _send_rooms(self, school_id: int, room_ids: list[int]) -> None:
        found = [room for room in (orgs.get_room(self.svc.db.read, r) for r in room_ids) if room]
        self.rooms_changed(rooms.snapshots(self.svc.db.read, self.svc.hub, found, str), school_id)

    def room_taken(self, user_id: int, room: dict[str, Any], by: str) -> None:
        message = {"room_id": room["id"], "name": room["name"], "by": by}
        self.socketio.emit(UI_TAKEN, message, to=user_channel(user_id), namespace=UI_NAMESPACE)

    def alert_changed(self, summary: dict[str, Any]) -> None:
        channel = alert_channel(summary["scope"]["type"], summary["scope"]["id"])
        self.socketio.emit(UI_ALERT, summary, to=channel, namespace=UI_NAMESPACE)

    def refresh_school(self, school_id: int | None) -> None:
        """Tell the school's open pages its rooms' snapshots soon (a panel came or went, an alert): once
        for many such changes, and only if a page of the school is open."""
        if school_id is None:
            return
        self._stale_schools.add(school_id)
        if self._refresher is None or self._refresher.dead:
            self._refresher = gevent.spawn_later(REFRESH_S, self._refresh)

    def _refresh(self) -> None:
        stale, self._stale_schools = self._stale_schools, set()
        for school_id in stale:
            if self._listening(school_channel(school_id)):
                found = orgs.rooms_of_school(self.svc.db.read, school_id)
                # Outside a request: the pages' scripts word the states and errors by their codes.
                self.rooms_changed(rooms.snapshots(self.svc.db.read, self.svc.hub, found, str), school_id)

    def _listening(self, channel: str) -> bool:
        return next(self.socketio.server.manager.get_participants(UI_NAMESPACE, channel), None) is not None


class UiNamespace(Namespace):
    """`/ui`: the signed-in pages join their school's, their own and their alerts' channels."""

    def __init__(self) -> None:
        super().__init__(UI_NAMESPACE)

    def on_connect(self, auth: Any = None) -> None:
        user = current_user()
        if user is None:
            raise ConnectionRefusedError("unauthenticated")
        join_room(user_channel(user["id"]))
        svc = services()
        if user["node_type"] == "school":
            join_room(school_channel(user["node_id"]))
            found = orgs.rooms_of_school(svc.db.read, user["node_id"])
            for snapshot in rooms.snapshots(svc.db.read, svc.hub, found, translate):
                self.emit(UI_ROOM, snapshot, room=request.sid)
        if user["role"] in ("school_it", "municipal"):
            join_room(alert_channel(user["node_type"], user["node_id"]))
        log.debug("page of user %s joined the live channels", user["id"])
