"""The controller's side of systemd's notify protocol: READY=1 once serving, pings while it works.

A ping means more than "the process runs": the database's single writer answers a round trip, and
the telemetry ingest's greenlets live. A writer stuck behind a hung transaction, a dead ingest or an
event loop blocked by one greenlet all stop the pings, and systemd restarts the controller after
WatchdogSec (systemd/classcast-controller.service). So WatchdogSec also bounds the longest write
transaction the controller tolerates.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent

from classcast import notify
from controller.app import Services
from controller.db import Database

log = logging.getLogger(__name__)

_PROBE_SHARE = 0.8  # of the ping interval, the most a writer round trip may take and still count


def writer_responds(db: Database, timeout: float) -> bool:
    """Return whether the single writer ran a no-op transaction within `timeout` seconds."""
    answered = False
    with gevent.Timeout(timeout, False):  # False: time out quietly; the no-op runs later, harmlessly
        db.write(_nothing)
        answered = True
    return answered


def _nothing(db: Any) -> None:
    return None


def alive(svc: Services, probe_timeout: float) -> bool:
    """Return whether the writer and the ingest are alive and the writer answers."""
    if not svc.db.writer_alive or svc.ingest is None or not svc.ingest.alive:
        return False
    if not writer_responds(svc.db, probe_timeout):
        log.error("the database writer did not answer within %.0f s", probe_timeout)
        return False
    return True


def serving(svc: Services, url: str) -> gevent.Greenlet | None:
    """Return the watchdog greenlet (None when systemd asks for no watchdog), having sent READY=1."""
    notify.notify(notify.READY, f"STATUS=serving {url}; telemetry on {svc.ingest.endpoint}")
    interval = notify.watchdog_interval()
    if interval is None:
        return None
    log.info("systemd watchdog: pinging every %.1f s while the writer and the ingest work", interval)
    return notify.spawn_watchdog(lambda: alive(svc, interval * _PROBE_SHARE), interval, "controller")


def stopping(watchdog: gevent.Greenlet | None) -> None:
    """Tell systemd the controller is stopping, and stop pinging."""
    notify.notify(notify.STOPPING)
    if watchdog is not None:
        watchdog.kill()
