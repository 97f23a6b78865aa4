"""The kiosk browser's watch: a crashed, hung or blank kiosk page is reloaded, a dead browser restarted.

Every `interval` seconds the watch looks at the browser through DevTools (player/devtools.py): is the
kiosk page open, does its renderer run a trivial script, is its event stream attached to the kiosk
server (player/kiosk.py)? Trouble opens an *incident*, and the watch takes the least drastic step
first, waiting at least `grace` seconds before the next, more drastic one:

- the page (`crashed`, `hung`, `blank`): reload it; a hung renderer ignores a reload, so a hung page,
  or one a reload did not mend, is replaced by a fresh page; if that fails too, restart the browser;
- the browser (DevTools refuses: `exited`; takes the connection but does not answer: `hung`): wait
  `grace` first, for systemd restarts a browser that exited (classcast-kiosk.service, Restart=always);
  then run `restart_command`, again with backoff for as long as the browser stays away.

An incident ends when the page is back, and only then is it recorded: one `Recovery` usage event,
named after the most drastic step taken (a browser that systemd brought back by itself counts as a
`browser_restart`, cause `exited`); trouble that cleared without a step is only logged. Each step is
a strike: after the first, the wait doubles (up to BACKOFF_MAX_S) until the page has been well for
STABLE_S, so a browser that keeps dying is not restarted in a tight loop.

The watch acts only on a browser it has seen showing the kiosk page: a player that has no kiosk
browser of its own (the demo, the tests) never restarts somebody else's.
"""

from __future__ import annotations

import logging
import math
import shlex
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent

from classcast.events import Recovery
from player.devtools import DevTools, DevToolsError
from player.usage import UsageOutbox

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 30.0  # `systemctl restart` returns once the unit started, in a few seconds
BACKOFF_MAX_S = 300.0
STABLE_S = 300.0  # well this long since the last trouble, and the backoff starts again from nothing
_MAX_DOUBLINGS = 20  # far beyond BACKOFF_MAX_S, and no overflow after days of strikes


@dataclass
class Trouble:
    """What one look found wrong: a `Recovery` cause, and whether the browser or only its page has it."""

    cause: str  # crashed, hung, blank or exited
    detail: str
    browser: bool = False
    target: dict[str, Any] | None = None  # the kiosk page's DevTools target, when there is one


@dataclass
class Incident:
    """One spell of trouble, from the first look that found it to the first that found the page well."""

    cause: str
    since: float  # monotonic
    due: float  # monotonic: when the next step may be taken
    page_steps: int = 0  # reloads and replacements taken
    restarts: int = 0  # runs of the restart command
    browser_gone: bool = False  # the browser exited meanwhile: whoever started it again, it restarted


class BrowserWatch:
    """Looks at the kiosk browser every `interval` seconds and brings its page back when it is not right."""

    def __init__(
        self,
        devtools: DevTools,
        attached: Callable[[], bool],
        outbox: UsageOutbox,
        restart_command: str = "",
        interval: float = 5.0,
        grace: float = 20.0,
        command_timeout: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.devtools, self.attached, self.outbox = devtools, attached, outbox
        self.restart_command, self.command_timeout = restart_command, command_timeout
        self.interval, self.grace = interval, grace
        self.seen = False  # the kiosk page was seen answering: from then on the watch acts
        self.incident: Incident | None = None
        self.strikes = 0
        self.last_trouble = -math.inf
        self.recoveries: Counter[tuple[str, str]] = Counter()  # (action, cause) -> how many
        self.beat = time.monotonic()  # when the last look began
        self._greenlet: gevent.Greenlet | None = None

    @property
    def stuck_after(self) -> float:
        """Return the seconds without a new look after which the watch is stuck: more than a step takes."""
        return self.interval + 8 * self.devtools.timeout + self.command_timeout

    def start(self) -> None:
        """Start looking, in a greenlet."""
        self.beat = time.monotonic()
        self._greenlet = gevent.spawn(self._run)
        self._greenlet.link_exception(
            lambda dead: log.error("kiosk browser watch stopped by an error: %r", dead.exception)
        )

    def stop(self) -> None:
        """Stop looking (killed, not asked: it waits only in I/O with timeouts and in sleeps)."""
        if self._greenlet is not None:
            self._greenlet.kill()

    def alive(self, now: float | None = None) -> bool:
        """Return whether the watch runs and began its last look less than `stuck_after` seconds ago."""
        now = time.monotonic() if now is None else now
        running = self._greenlet is not None and not self._greenlet.dead
        return running and now - self.beat < self.stuck_after

    def _run(self) -> None:
        while True:
            self.step()
            gevent.sleep(self.interval)

    def step(self) -> None:
        """Look at the browser once, and take the next recovery step if one is due."""
        now = self.beat = time.monotonic()
        trouble = self.look()
        if trouble is None:
            self._well(now)
        elif self.seen:
            self._troubled(trouble, now)

    def look(self) -> Trouble | None:
        """Return what is wrong with the kiosk page or its browser; None when the page is well."""
        try:
            target = self.devtools.kiosk_page()
            state = "blank" if target is None else self.devtools.renderer_state(target)
        except DevToolsError as exc:
            return Trouble("hung" if exc.timed_out else "exited", str(exc), browser=True)
        if state != "ok":
            return Trouble(state, _DETAILS[state].format(self.devtools), target=target)
        if not self.seen:
            log.info("kiosk browser: the kiosk page is in sight at %s; watching it", self.devtools.url)
            self.seen = True
        if not self.attached():
            return Trouble("blank", "the page's event stream is not attached", target=target)
        return None

    def _troubled(self, trouble: Trouble, now: float) -> None:
        self.last_trouble = now
        incident = self.incident
        if incident is None:
            incident = self.incident = Incident(trouble.cause, now, now + self._first_wait(trouble))
            log.info("kiosk browser: %s (%s)", trouble.cause, trouble.detail)
        if trouble.cause == "exited" and not incident.browser_gone:
            incident.browser_gone = True
            incident.due = max(incident.due, now + self.grace)  # systemd's turn first, as for a new incident
            if not incident.restarts:  # not our own restart: the page's trouble was the browser going
                incident.cause = "exited"
        if now < incident.due:
            return
        if self._take_step(incident, trouble):
            self.strikes += 1
            incident.due = time.monotonic() + max(self.grace, self._backoff())
        else:  # nothing left to try: the browser is systemd's alone now
            incident.due = math.inf

    def _first_wait(self, trouble: Trouble) -> float:
        """Return how long a new incident waits before its first step."""
        if trouble.browser:  # systemd's turn first; or a browser busy for a moment
            return max(self.grace, self._backoff())
        if trouble.cause == "crashed":  # nothing mends that by itself
            return self._backoff()
        return max(self.interval, self._backoff())  # seen twice: a page may be busy, or just attaching

    def _backoff(self) -> float:
        if self.strikes == 0:
            return 0.0
        return min(BACKOFF_MAX_S, self.grace * 2 ** min(self.strikes - 1, _MAX_DOUBLINGS))

    def _take_step(self, incident: Incident, trouble: Trouble) -> bool:
        """Return whether a step was taken: the least drastic one this incident has not yet tried."""
        # Without a restart command, a page that two steps did not mend gets more of them, with backoff.
        if trouble.browser or (incident.page_steps >= 2 and self.restart_command.strip()):
            return self._restart_browser(incident)
        try:
            if trouble.cause == "hung" or trouble.target is None or incident.page_steps >= 1:
                self._replace_page()
            else:
                log.warning("kiosk browser: %s: reloading the kiosk page", trouble.cause)
                self.devtools.call("Page.reload", {"ignoreCache": True}, trouble.target)
        except DevToolsError as exc:  # the next step, after the wait, goes further
            log.error("kiosk browser: could not mend the page: %s", exc)
        incident.page_steps += 1
        return True

    def _replace_page(self) -> None:
        """Open a fresh kiosk page, then close the others: a hung renderer goes with its page."""
        log.warning("kiosk browser: replacing the kiosk page with a fresh one")
        fresh = self.devtools.open_page(self.devtools.page_url)  # first: closing the last page ends a kiosk
        for page in self.devtools.pages():
            if page.get("id") != fresh["id"]:
                self.devtools.close_page(page)

    def _restart_browser(self, incident: Incident) -> bool:
        """Return whether the restart command ran (whatever came of it)."""
        try:
            argv = shlex.split(self.restart_command)
        except ValueError:  # unbalanced quotes
            argv = []
        if not argv:
            log.error("kiosk browser: %s, and no restart command to run: left to systemd", incident.cause)
            return False
        incident.restarts += 1
        log.warning(
            "kiosk browser: %s: restarting it (%d): %s", incident.cause, incident.restarts, shlex.join(argv)
        )
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.command_timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("kiosk browser: the restart command failed: %s", exc)
            return True
        if done.returncode != 0:
            output = (done.stderr or done.stdout).decode(errors="replace").strip()[:300]
            log.error("kiosk browser: the restart command exited with %d: %s", done.returncode, output)
        return True

    def _well(self, now: float) -> None:
        incident, self.incident = self.incident, None
        if incident is not None:
            self._recovered(incident, now)
        if self.strikes and now - self.last_trouble >= STABLE_S:
            log.info("kiosk browser: well for %.0f s; recovery backoff reset", now - self.last_trouble)
            self.strikes = 0

    def _recovered(self, incident: Incident, now: float) -> None:
        """Count and record the incident's recovery, once: named after its most drastic step."""
        if incident.browser_gone or incident.restarts:
            action = "browser_restart"
        elif incident.page_steps:
            action = "page_reload"
        else:
            log.info("kiosk browser: %s cleared by itself after %.1f s", incident.cause, now - incident.since)
            return
        self.recoveries[action, incident.cause] += 1
        log.info(
            "kiosk browser: the kiosk page is back after %.1f s (%s, cause %s); %d recoveries since start",
            now - incident.since,
            action,
            incident.cause,
            sum(self.recoveries.values()),
        )
        try:
            self.outbox.record(Recovery(action=action, cause=incident.cause))
        except sqlite3.Error as exc:  # a full disk: the recovery goes unreported, the screen goes on
            log.warning("could not record the recovery: %s", exc)


_DETAILS = {
    "blank": "no page of the browser is at {0.page_url}",
    "crashed": "the kiosk page's renderer crashed",
    "hung": "the kiosk page's renderer did not answer within {0.timeout:g} s",
}
