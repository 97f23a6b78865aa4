"""What the screen showed, as usage events: each item from the moment the page reported it on screen.

A showing is reported when it ends (another item, or the idle look) and every REPORT_EVERY_S while it
lasts, so a power cut loses at most that much; the reports of one showing are numbered by `part`.
An item is a teacher's cast (source `cast`, a lesson) or the schedule's (source `schedule`, a lesson
only when the schedule marks it so). An alert is a showing of its own (source `alert`, kind `text`,
not a lesson) that covers the item: the item's time stops while the alert is up and goes on, as its
next part, once the alert is gone. The display's power is reported the same way, as `screen` events:
each state (on, off by schedule or by command, at fault) from when it began, in parts.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import gevent

from classcast.events import ITEM_KINDS, Screen, Shown
from player.screen import ScreenState, usage_event
from player.usage import UsageOutbox

log = logging.getLogger(__name__)

REPORT_EVERY_S = 300.0


@dataclass
class _Showing:
    message: dict[str, Any]  # a cast's {"cast_id", "item"}, or an alert
    since: float  # monotonic: the start of the part not yet reported
    source: str = "cast"
    part: int = 0


@dataclass
class _Power:
    state: ScreenState
    since: float  # monotonic: the start of the part not yet reported
    part: int = 0


class Showings:
    """Turns the kiosk's "now on screen" into `shown` events in the usage outbox."""

    def __init__(self, outbox: UsageOutbox) -> None:
        self.outbox = outbox
        self._cast: _Showing | None = None
        self._alert: _Showing | None = None
        self._power: _Power | None = None
        self._ticker: gevent.Greenlet | None = None

    def changed(self, message: dict[str, Any] | None) -> None:
        """The screen now shows the cast `message` ({"cast_id", "item"}), or no cast (None)."""
        now = time.monotonic()
        if self._cast is not None and self._alert is None:
            self._report(self._cast, now)
        self._cast = None if message is None else _Showing(message, now)

    def alert_changed(self, alert: dict[str, Any] | None) -> None:
        """The screen now shows `alert` over everything, or no alert (None)."""
        if (alert or {}).get("id") == (self._alert.message.get("id") if self._alert else None):
            return  # the same alert again (a page reloaded), or still none
        now = time.monotonic()
        covered = self._alert or self._cast
        if covered is not None:
            self._report(covered, now)
            covered.part += 1  # a cast goes on later as its next part; an alert ends here
        self._alert = None if alert is None else _Showing(alert, now, source="alert")
        if self._cast is not None:
            self._cast.since = now

    def screen_changed(self, old: ScreenState, new: ScreenState) -> None:
        """The display's power went from `old` to `new` (ScreenPower's on_change)."""
        now = time.monotonic()
        self._report_power(now)
        self._power = _Power(new, now)

    def tick(self) -> None:
        """Report the part of a long showing (or screen state) that is due, and go on with it."""
        now = time.monotonic()
        showing = self._alert or self._cast
        if showing is not None and now - showing.since >= REPORT_EVERY_S:
            self._report(showing, now)
            showing.since, showing.part = now, showing.part + 1
        if self._power is not None and now - self._power.since >= REPORT_EVERY_S:
            self._report_power(now)
            self._power.since, self._power.part = now, self._power.part + 1

    def start(self) -> None:
        self._ticker = gevent.spawn(self._tick_forever)

    def stop(self) -> None:
        """Report what is on screen so far (the player is stopping), and stop ticking."""
        if self._ticker is not None:
            self._ticker.kill()
        self.alert_changed(None)
        self.changed(None)
        self._report_power(time.monotonic())
        self._power = None

    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(REPORT_EVERY_S / 5)
            self.tick()

    def _report(self, showing: _Showing, now: float) -> None:
        duration_s = round(now - showing.since, 3)
        if showing.source == "alert":
            event = Shown(source="alert", kind="text", lesson=False, duration_s=duration_s, part=showing.part)
        else:
            event = _cast_shown(showing.message, duration_s, showing.part)
        self._record(event)

    def _report_power(self, now: float) -> None:
        power = self._power
        event = usage_event(power.state, power.since, now, power.part) if power is not None else None
        if event is not None:
            self._record(event)

    def _record(self, event: Shown | Screen) -> None:
        try:
            self.outbox.record(event)
        except sqlite3.Error as exc:  # a full disk: the showing goes unreported, the screen goes on
            log.warning("could not record what was shown: %s", exc)


def _cast_shown(message: dict[str, Any], duration_s: float, part: int) -> Shown:
    item = message.get("item") or {}
    scheduled = message.get("source") == "schedule"
    cast_id = "" if scheduled else str(message.get("cast_id", ""))
    return Shown(
        source="schedule" if scheduled else "cast",
        kind=item.get("kind") if item.get("kind") in ITEM_KINDS else None,
        # A teacher's cast is lesson content; a schedule's item only when marked so.
        lesson=bool(message.get("lesson")) if scheduled else True,
        library=bool(item.get("library")),
        duration_s=duration_s,
        part=part,
        cast_id=int(cast_id) if cast_id.isdigit() else None,
        sha256=item.get("sha256") if isinstance(item.get("sha256"), str) else None,
    )
