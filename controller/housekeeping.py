"""Housekeeping on a timer: audit events past their retention, expired sessions, old pairing codes,
old contact attempts and remote actions."""

from __future__ import annotations

import logging
from typing import NoReturn

from controller.app import Services
from controller.rounds import every
from controller.store import audit, lifecycle, pairings, sessions

log = logging.getLogger(__name__)

EVERY_S = 6 * 3600


def tidy(svc: Services) -> tuple[int, int, int, int]:
    """Return how many audit events, sessions, pairings and contact/action records were removed."""
    events = svc.db.write(audit.purge, svc.settings["audit_retention_days"])
    expired = svc.db.write(sessions.purge_expired)
    codes = svc.db.write(pairings.forget_old)
    traces = svc.db.write(lifecycle.forget_old)
    if events or expired or codes or traces:
        log.info(
            "housekeeping: removed %d audit events past retention, %d expired sessions, %d old pairings, "
            "%d old contact attempts and remote actions",
            events,
            expired,
            codes,
            traces,
        )
    return events, expired, codes, traces


def run_forever(svc: Services) -> NoReturn:
    every(EVERY_S, lambda: tidy(svc), "housekeeping")
