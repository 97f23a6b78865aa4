"""sd_notify(3) without libsystemd: READY=1, WATCHDOG=1 and STOPPING=1 over $NOTIFY_SOCKET.

systemd starts each program as `Type=notify` with `WatchdogSec=`: it waits for READY=1 before it
counts the service as started, and restarts it when the watchdog pings stop. The protocol is one
datagram per message on an AF_UNIX socket, so the standard library is enough (the agent's memory
budget has no room for another dependency). Outside systemd there is no socket and nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

READY = "READY=1"
STOPPING = "STOPPING=1"
WATCHDOG = "WATCHDOG=1"


def notify(*fields: str, env: Mapping[str, str] | None = None) -> bool:
    """Return whether `fields` (e.g. READY=1, STATUS=…) were sent to systemd; False outside systemd."""
    address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket: its name starts with a NUL byte
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(fields).encode(), address)
    except OSError as exc:  # systemd gone or the socket unreadable: the service itself must go on
        log.warning("cannot notify systemd at %s: %s", address.lstrip("\0"), exc)
        return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Return the seconds between watchdog pings (half of $WATCHDOG_USEC); None when none is asked for."""
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid.isdigit() and int(pid) != os.getpid():  # the watchdog is meant for another process
        return None
    return int(usec) / 2_000_000


class LoopWatchdog:
    """Watchdog pings for a program with its own loop (the agent): ping when due, say when next."""

    def __init__(self, interval: float | None) -> None:
        self.interval = interval
        self._due = 0.0

    def ping_if_due(self, now: float) -> float | None:
        """Return when the next ping is due (monotonic seconds), pinging if it is now; None: no watchdog."""
        if self.interval is None:
            return None
        if now >= self._due:
            notify(WATCHDOG)
            self._due = now + self.interval
        return self._due


def spawn_watchdog(alive: Callable[[], bool], interval: float, name: str) -> Any:
    """Return a greenlet that pings systemd every `interval` seconds while `alive()` says so.

    A part that died, or a loop blocked by one greenlet, stops the pings, and systemd restarts the
    service after WatchdogSec. `alive` may block (a round trip through a queue) up to `interval`.
    """
    import gevent  # here, not at the top: the agent shares this module and has no gevent

    def healthy() -> bool:
        try:
            return alive()
        except Exception:
            log.exception("%s: the health check itself failed", name)
            return False

    def run() -> None:
        failing = False
        while True:
            started = time.monotonic()
            if healthy():
                notify(WATCHDOG)
                if failing:
                    log.info("%s healthy again: watchdog pings resumed", name)
                failing = False
            elif not failing:
                log.error("%s unhealthy: watchdog pings withheld, systemd will restart it", name)
                failing = True
            # The check's own time counts: a slow check must not stretch the pings past WatchdogSec.
            gevent.sleep(max(0.0, interval - (time.monotonic() - started)))

    return gevent.spawn(run)
