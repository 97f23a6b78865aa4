"""The player's link to the controller: a Socket.IO client that never gives up.

The loop is ours rather than python-socketio's reconnection, so that a refused token, a controller
that is down and a dropped connection all take the same capped, jittered backoff, each logged once.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import gevent
import socketio

from classcast import __version__
from classcast.protocol import PANEL_NAMESPACE
from player.commands import COMMANDS, Context

log = logging.getLogger(__name__)


class ControllerLink:
    def __init__(self, url: str, token: str, ctx: Context, retry_min: float, retry_max: float) -> None:
        self.url, self._token, self.ctx = url, token, ctx
        self.retry_min, self.retry_max = retry_min, retry_max
        self.sio = socketio.Client(reconnection=False, logger=False, engineio_logger=False)
        self.connections = 0
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

    def run_forever(self) -> None:
        """Stay connected: connect, wait for the connection to end, back off, and again."""
        delay = self.retry_min
        failing = False
        while True:
            try:
                self.sio.connect(
                    self.url,
                    auth={"token": self._token, "player_version": __version__},
                    namespaces=[PANEL_NAMESPACE],
                    wait_timeout=10,
                )
            except socketio.exceptions.ConnectionError as exc:
                if not failing:
                    log.warning("cannot reach the controller at %s: %s; retrying", self.url, exc)
                failing = True
                gevent.sleep(_jitter(delay))
                delay = min(delay * 2, self.retry_max)
                continue
            self.connections += 1
            log.info("connected to the controller%s (%s)", " again" if failing else "", self.sio.transport())
            failing, delay = False, self.retry_min
            self.sio.wait()
            log.warning("connection to the controller lost; reconnecting")
            gevent.sleep(_jitter(delay))

    def close(self) -> None:
        self.sio.disconnect()


def _jitter(delay: float) -> float:
    """Return `delay` spread by ±50 %, so panels that lost the controller together do not return together."""
    return delay * random.uniform(0.5, 1.5)
