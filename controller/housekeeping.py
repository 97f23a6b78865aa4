"""Housekeeping on a timer: audit events past their retention, expired sessions."""

from __future__ import annotations

import logging

import gevent

from controller.app import Services
from controller.store import audit, sessions

log = logging.getLogger(__name__)

EVERY_S = 6 * 3600


def tidy(svc: Services) -> tuple[int, int]:
    """Return how many audit events and sessions were removed, having removed them."""
    events = svc.db.write(audit.purge, svc.settings["audit_retention_days"])
    expired = svc.db.write(sessions.purge_expired)
    if events or expired:
        log.info("housekeeping: %d audit events past retention, %d expired sessions removed", events, expired)
    return events, expired


def run_forever(svc: Services) -> None:
    while True:
        try:
            tidy(svc)
        except Exception:
            log.exception("housekeeping failed; trying again at the next round")
        gevent.sleep(EVERY_S)
