"""What the screen showed, as usage events: each cast from the moment the page reported it on screen.

A showing is reported when it ends (another item, or the idle look) and every REPORT_EVERY_S while it
lasts, so a power cut loses at most that much; the reports of one showing are numbered by `part`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import gevent

from classcast.events import ITEM_KINDS, Shown
from player.usage import UsageOutbox

log = logging.getLogger(__name__)

REPORT_EVERY_S = 300.0


@dataclass
class _Showing:
    message: dict[str, Any]
    since: float  # monotonic: the start of the part not yet reported
    part: int = 0


class Showings:
    """Turns the kiosk's "now on screen" into `shown` events in the usage outbox."""

    def __init__(self, outbox: UsageOutbox) -> None:
        self.outbox = outbox
        self._now: _Showing | None = None
        self._ticker: gevent.Greenlet | None = None

    def changed(self, message: dict[str, Any] | None) -> None:
        """The screen now shows the cast `message` ({"cast_id", "item"}), or no cast (None)."""
        if self._now is not None:
            self._report(time.monotonic())
        self._now = None if message is None else _Showing(message, time.monotonic())

    def tick(self) -> None:
        """Report the part of a long showing that is due, and go on with it."""
        now = time.monotonic()
        if self._now is not None and now - self._now.since >= REPORT_EVERY_S:
            self._report(now)
            self._now.since, self._now.part = now, self._now.part + 1

    def start(self) -> None:
        self._ticker = gevent.spawn(self._tick_forever)

    def stop(self) -> None:
        """Report what is on screen so far (the player is stopping), and stop ticking."""
        if self._ticker is not None:
            self._ticker.kill()
        self.changed(None)

    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(REPORT_EVERY_S / 5)
            self.tick()

    def _report(self, now: float) -> None:
        assert self._now is not None
        item = self._now.message.get("item") or {}
        cast_id = str(self._now.message.get("cast_id", ""))
        event = Shown(
            source="cast",
            kind=item.get("kind") if item.get("kind") in ITEM_KINDS else None,
            lesson=True,  # a teacher's cast is lesson content
            library=bool(item.get("library")),
            duration_s=round(now - self._now.since, 3),
            part=self._now.part,
            cast_id=int(cast_id) if cast_id.isdigit() else None,
            sha256=item.get("sha256") if isinstance(item.get("sha256"), str) else None,
        )
        try:
            self.outbox.record(event)
        except sqlite3.Error as exc:  # a full disk: the showing goes unreported, the screen goes on
            log.warning("could not record what was shown: %s", exc)
