"""The player's link to the controller: a Socket.IO client that gives up only when it is revoked.

The loop is ours rather than python-socketio's reconnection, so that a refused token, a controller
that is down and a dropped connection all take the same capped, jittered backoff, each logged once.
A refused connection is not proof of a revoked panel (a second connection with the same token is
refused too, and a proxy in between may misbehave), so the player asks `GET /api/panel/v1/self` with
its token: only the controller's own 401 ends the link, and the panel then pairs again
(player/__main__.py).
"""

from __future__ import annotations

import logging
import random
from typing import Any

import gevent.event
import requests
import socketio

from classcast import __version__
from classcast.protocol import PANEL_NAMESPACE
from player.commands import COMMANDS, Context

log = logging.getLogger(__name__)

SELF_PATH = "/api/panel/v1/self"
_GONE = ("revoked", "unauthorized")  # the controller's reasons for a 401 on SELF_PATH


class ControllerLink:
    def __init__(self, url: str, token: str, ctx: Context, retry_min: float, retry_max: float) -> None:
        self.url, self._token, self.ctx = url.rstrip("/"), token, ctx
        self.retry_min, self.retry_max = retry_min, retry_max
        self.sio = socketio.Client(reconnection=False, logger=False, engineio_logger=False)
        self.http = requests.Session()
        self.connections = 0
        self._refused = False
        self._closed = gevent.event.Event()
        self.sio.on("connect_error", self._connect_error, namespace=PANEL_NAMESPACE)
        for name, handler in COMMANDS.items():
            self.sio.on(name, self._handler(handler), namespace=PANEL_NAMESPACE)

    def _handler(self, command: Any) -> Any:
        def handle(payload: Any = None) -> dict[str, Any]:
            try:
                return command(self.ctx, payload)
            except Exception:
                log.exception("command failed")
                return {"ok": False, "error": "bad_item", "message": "the player failed on this command"}

        return handle

    def _connect_error(self, data: Any = None) -> None:
        # The controller answered and refused the namespace: its data is a dict ({"message": "unauthorized"}
        # by the protocol; "duplicate" or a bare refusal otherwise). A controller out of reach gives a string.
        self._refused = isinstance(data, dict)

    def run(self) -> bool:
        """Stay connected (connect, wait for the connection to end, back off, again) until revoked.

        Return True when the controller revoked the panel, False once `close` was called.
        """
        delay, failing = self.retry_min, False
        while not self._closed.is_set():
            self._refused = False
            try:
                self.sio.connect(
                    self.url,
                    auth={"token": self._token, "player_version": __version__},
                    namespaces=[PANEL_NAMESPACE],
                    wait_timeout=10,
                )
            except socketio.exceptions.ConnectionError as exc:
                why = str(exc)
                if self._refused:
                    gone, why = self.ask_self()
                    if gone:
                        log.warning("the controller has revoked this panel (%s): pairing again", why)
                        return True
                if not failing:
                    log.warning("cannot connect to the controller at %s: %s; retrying", self.url, why)
                failing = True
                self._closed.wait(_jitter(delay))
                delay = min(delay * 2, self.retry_max)
                continue
            self.connections += 1
            log.info("connected to the controller%s (%s)", " again" if failing else "", self.sio.transport())
            failing, delay = False, self.retry_min
            self.sio.wait()
            if not self._closed.is_set():
                log.warning("connection to the controller lost; reconnecting")
                self._closed.wait(_jitter(delay))
        self.sio.disconnect()  # closed while a connection was being made
        return False

    def ask_self(self) -> tuple[bool, str]:
        """Return whether the controller says this panel's token is gone for good, and what it said.

        Only the controller's own 401 counts (its JSON names the reason): a proxy's 401, a 5xx or a
        network error keeps the credentials.
        """
        try:
            answer = self.http.get(
                self.url + SELF_PATH, headers={"Authorization": f"Bearer {self._token}"}, timeout=10
            )
        except requests.RequestException as exc:
            return False, f"refused; {SELF_PATH} unreachable: {exc}"
        try:
            reason = answer.json().get("error") if answer.status_code == 401 else None
        except (ValueError, AttributeError):
            reason = None
        if reason in _GONE:
            return True, f"{SELF_PATH} answers 401 {reason}"
        return False, f"refused, though {SELF_PATH} answers {answer.status_code}"

    def close(self) -> None:
        """Disconnect for good, telling the controller; `run` returns.

        Never kill `run`'s greenlet instead: one killed while it waits for the connection to end marks
        python-socketio's reader thread as finished (CPython's Thread.join, interrupted), and the
        disconnect is then never sent; the controller would think the panel still connected.
        """
        self._closed.set()
        try:
            self.sio.disconnect()
        except AttributeError:
            # python-engineio, stopped in the instant between "connected" and its reader starting, has
            # no reader to join yet; the socket closes with the process, which the controller sees.
            log.info("stopped while the connection was being made")
        self.http.close()


def _jitter(delay: float) -> float:
    """Return `delay` spread by ±50 %, so panels that lost the controller together do not return together."""
    return delay * random.uniform(0.5, 1.5)
