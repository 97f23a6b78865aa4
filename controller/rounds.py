"""The controller's background rounds: a job run now and again every so often, for as long as it runs.

Housekeeping, the panel monitor, the notifier, the scheduled usage reports and the screen-time norms
check are each such a round (controller/server.py starts them). A round that fails is logged with its
traceback and tried again at the next one: one bad night never stops the next morning's work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

import gevent

log = logging.getLogger(__name__)


def every(interval_s: float, job: Callable[[], Any], what: str) -> NoReturn:
    """Run `job` now and then every `interval_s` seconds, for ever; `what` names it in the log."""
    while True:
        try:
            job()
        except Exception:
            log.exception("%s failed; trying again in %.0f s", what, interval_s)
        gevent.sleep(interval_s)
