"""Stand-ins for the people and panels of the casting tests: a simulated panel that answers every
command as a player whose page showed it (python-socketio, the player's own library, on a real
connection), a signed-in person, and the live channel their page listens on."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError

import socketio

from classcast.protocol import PANEL_NAMESPACE, UI_NAMESPACE

from .conftest import WebUser


@dataclass
class Panel:
    """A simulated panel: answers every command as a player whose page showed it, and keeps them."""

    token: str
    received: list[tuple[str, Any]] = field(default_factory=list)
    client: socketio.Client = field(default_factory=lambda: socketio.Client(reconnection=False))

    def connect(self, url: str) -> Panel:
        for event in ("state", "show", "control", "alert"):
            self.client.on(event, self._answer(event), namespace=PANEL_NAMESPACE)
        self.client.connect(url, namespaces=[PANEL_NAMESPACE], auth={"token": self.token}, wait_timeout=10)
        return self

    def _answer(self, event: str) -> Any:
        def answer(payload: Any) -> dict[str, Any]:
            self.received.append((event, payload))
            if event == "state":
                return {"ok": True, "version": payload["version"]}
            if event == "control":
                return {"ok": True, "view": payload["view"], "shown_at": time.time()}
            return {"ok": True, "shown_at": time.time()}

        return answer

    def last(self, event: str) -> Any:
        return next((payload for name, payload in reversed(self.received) if name == event), None)


def person(url: str, login: str, password: str) -> WebUser:
    user = WebUser(url)
    user.sign_in(login, password)
    return user


def live_page(url: str, user: WebUser) -> tuple[socketio.Client, list[tuple[str, Any]]]:
    """Open the live channel as the user's page does (their session cookie), keeping what it hears."""
    heard: list[tuple[str, Any]] = []
    client = socketio.Client(reconnection=False)
    for event in ("room", "taken", "alert"):
        client.on(event, lambda payload, event=event: heard.append((event, payload)), namespace=UI_NAMESPACE)
    cookie = "; ".join(f"{c.name}={c.value}" for c in user.cookies)
    client.connect(url, namespaces=[UI_NAMESPACE], headers={"Cookie": cookie}, wait_timeout=10)
    return client, heard


def refused(call: Any) -> tuple[int, dict[str, Any]]:
    try:
        call()
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())
    raise AssertionError("the request was not refused")
