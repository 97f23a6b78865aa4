"""The room's schedule, followed: what the screen shows between casts, and whether it is on at all.

The controller sends the room's schedule in the desired state (`schedule`: {"revision", "title",
"timezone", "document"}; docs/protocol.md), checked and with its materials resolved. The follower
builds it with `classcast.playlist` (no YAML, no jsonschema: docs/playlists.md, Memory) and keeps the
last good one in `<data_dir>/schedule.json`: one the player cannot read is logged and ignored, and the
panel goes on with the one it had, after a restart too, with or without the controller.

A greenlet asks the schedule what holds at the school's local time, shows it, and sleeps until the
item ends, the slot ends, or at most WAKE_S: a panel without a real-time clock may have its clock set
by NTP meanwhile, and the schedule is asked again then. While the page shows an item, the next one
is sent to load off screen (`preload`), so it swaps in without a gap. Every file the schedule may
show is fetched ahead, and checked against its SHA-256 once per process, when a schedule arrives and
again every PREFETCH_EVERY_S while one is missing: an offline panel plays from its cache.

A new schedule replaces the one followed only once its files are all in the cache (or cannot be had
at all: the controller answered that they are not there), so a panel whose download was cut by a
power cut or the network plays the old one on, whole, and switches when the new one is ready. The
first schedule a panel gets is followed at once: something is better than nothing.

A teacher's cast (and an alert) always wins: while one is on, the schedule shows nothing, and once it
ends the schedule's item replaces it directly (no idle look in between). The schedule also turns the
display off outside its screen hours; a cast or an alert wakes it (reason `command`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import gevent
import gevent.event
import gevent.lock

from classcast.playlist import Item, Ref, Schedule, ScheduleInvalid, Slot
from player.cache import ContentCache, FetchError, files_of
from player.desired import StateFile
from player.items import parse_item
from player.kiosk import Kiosk
from player.screen import ScreenPower

log = logging.getLogger(__name__)

FILE = "schedule.json"
DEFAULT_TIMEZONE = "Europe/Moscow"
WAKE_S = 30.0  # the longest sleep: a clock set meanwhile is noticed this late at most
PREFETCH_EVERY_S = 600.0  # while a file the schedule needs is missing
PREPARE_RETRY_S = 30.0  # the first wait before fetching a new schedule's missing files again (doubling)
SEEK_FROM_S = 1.0  # a video shown this far into its turn starts there, not from its beginning
_NUDGE_S = 0.001  # just past an item's end: the moment its successor starts
_NO_PAGE = ("no_display", "timeout")  # the kiosk keeps the item and shows it once a page is there


@dataclass(frozen=True)
class Entry:
    """One showing of a playlist item: which, from when (local), and what the page is sent."""

    cast_id: str  # the page's id of the showing: the same for its preload and its show
    item: dict[str, Any] | None  # the checked item; None when it cannot be shown (logged)
    lesson: bool
    ref: Ref | None
    remaining: float  # seconds left at the moment asked
    offset: float = 0.0  # seconds into the item at the moment asked


@dataclass(frozen=True)
class Followed:
    """A schedule the player can follow: built, with its time zone, and the payload it came in."""

    schedule: Schedule
    zone: ZoneInfo
    revision: str
    payload: dict[str, Any]


class Follower:
    """Follows the room's schedule on the kiosk page, and the screen's power by its hours."""

    def __init__(
        self,
        kiosk: Kiosk,
        cache: ContentCache,
        kept: StateFile,
        show_timeout: float,
        screen: ScreenPower | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kiosk, self.cache, self.kept = kiosk, cache, kept
        self.show_timeout, self.screen, self.clock = show_timeout, screen, clock
        self.followed: Followed | None = None
        self.pending: Followed | None = None  # the next one, while its files are fetched
        self._items: dict[Item, dict[str, Any] | None] = {}  # playlist item -> the kiosk's item
        self._lengths: dict[Ref, float] = {}  # videos' lengths, as the page reported them
        self._casting = False
        self._shown: str | None = None  # the cast id of the scheduled showing on the page
        self._preloaded: str | None = None
        self._unshowable: set[str] = set()  # showings that failed: not tried again every wake
        self._power: tuple[bool, str] | None = None
        self._wake = gevent.event.Event()
        self._step_lock = gevent.lock.Semaphore()
        self._runner: gevent.Greenlet | None = None
        self._prefetcher: gevent.Greenlet | None = None
        self._preparer: gevent.Greenlet | None = None
        if kept.last is not None:
            self.followed = _built(kept.last)
            if self.followed is None:
                log.warning("%s: the kept schedule cannot be used; following none", kept.path)

    @property
    def revision(self) -> str | None:
        """The revision of the schedule followed now; None without one."""
        return self.followed.revision if self.followed is not None else None

    # --- what the controller says ----------------------------------------------------------------------

    def set(self, payload: dict[str, Any] | None) -> bool:
        """Follow `payload` (the state's `schedule`), or none; False: refused, the last good one stays."""
        if payload is None:
            self._forget_pending()
            if self.followed is not None:
                log.info("schedule %s removed: nothing by schedule", self.revision)
                self.followed = None
                self.kept.forget()
                self._wake.set()
            return True
        revision = _revision(payload)
        if revision == self.revision:
            self._forget_pending()  # back to the one followed: a newer one was taken back
            return True
        if self.pending is not None and revision == self.pending.revision:
            return True
        candidate = _built(payload)
        if candidate is None:
            return False
        self._forget_pending()
        if self.followed is None:
            self._follow(candidate)
        else:
            self.pending = candidate
            self._preparer = gevent.spawn(self._prepare, candidate)
        return True

    def casting(self, on: bool) -> None:
        """A teacher's cast is (or is no longer) what the screen should show."""
        if on != self._casting:
            self._casting = on
            if on:
                self._shown = self._preloaded = None  # the cast replaces what the schedule showed
            self._wake.set()

    def wake(self) -> None:
        """Ask the schedule again now (an alert came or went: it wakes a screen that is off)."""
        self._wake.set()

    def needed_files(self) -> set[str]:
        """Return the sha256 of every file the schedule (and the next one) may show: the cache keeps them."""
        items = self._items_of(self.followed) + self._items_of(self.pending)
        return files_of(self._checked(item) for item in items)

    # --- the greenlets ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None:
            self._runner = gevent.spawn(self._run)
            self._prefetch_soon()

    def stop(self) -> None:
        for greenlet in (self._runner, self._prefetcher, self._preparer):
            if greenlet is not None:
                greenlet.kill()
        self._runner = self._prefetcher = self._preparer = None

    def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = self.step()
            except Exception:  # a loop that cannot die: the next pass may do better
                log.exception("schedule: step failed")
                wait = WAKE_S
            self._wake.wait(wait)

    def step(self) -> float:
        """Show what the schedule says now, set the screen; return the seconds until it may change."""
        with self._step_lock:
            began = self.clock()
            now = self._local_now(began)
            slot = self.followed.schedule.at(now) if self.followed is not None else None
            self._set_power(slot)
            left = _seconds_until(slot, now)
            if self._casting:
                return left
            entry = self._entry(slot, now)
            if entry is None:
                self._clear()
                return left
            if entry.cast_id != self._shown or (self.kiosk.current or {}).get("cast_id") != entry.cast_id:
                if not self._show(entry):
                    return min(left, max(entry.remaining, 1.0))
            self._preload_next(slot, now, entry)
            # The show waited for the page's report: the item's end is that much nearer now (on the
            # same clock the schedule is read by; a clock set meanwhile is caught at the next step).
            return max(min(left, entry.remaining) - (self.clock() - began), 0.0)

    # --- one step's parts ------------------------------------------------------------------------------

    def _local_now(self, moment: float) -> datetime:
        zone = self.followed.zone if self.followed is not None else ZoneInfo(DEFAULT_TIMEZONE)
        return datetime.fromtimestamp(moment, zone).replace(tzinfo=None)

    def _set_power(self, slot: Slot | None) -> None:
        """On by schedule, off outside its hours; a cast or an alert wakes it (reason `command`)."""
        if self.screen is None:
            return
        scheduled = slot is None or slot.screen
        woken = not scheduled and (self._casting or self.kiosk.alert is not None)
        wanted = (scheduled or woken, "command" if woken else "schedule")
        if wanted != self._power:
            self._power = wanted
            self.screen.set(*wanted)

    def _entry(self, slot: Slot | None, at: datetime) -> Entry | None:
        position = slot.position(at, self._lengths) if slot is not None and slot.screen else None
        if slot is None or position is None or slot.playlist is None:
            return None
        start = at - timedelta(seconds=position.offset)
        name = slot.playlist.name[:40]
        cast_id = f"schedule:{name}:{position.index}:{start.isoformat(timespec='milliseconds')}"
        item = position.item
        return Entry(cast_id, self._checked(item), item.lesson, item.ref, position.remaining, position.offset)

    def _show(self, entry: Entry) -> bool:
        """Return whether the page shows the entry's item (replacing a cast that ended: no idle flash)."""
        if entry.item is None or entry.cast_id in self._unshowable:
            return False
        try:
            self.cache.ensure_item(entry.item, verify=True)
        except FetchError as exc:
            log.warning("schedule: %s cannot be shown, not cached: %s", _name(entry.item), exc)
            self._unshowable.add(entry.cast_id)
            return False
        if self._casting:  # a cast came while the file was fetched: it wins
            return False
        meta = {"source": "schedule", "lesson": entry.lesson}
        # Come in mid-video (a restart, a cast that ended): from where the room's other panels are.
        start = entry.offset if entry.item["kind"] == "video" and entry.offset >= SEEK_FROM_S else None
        answer = self.kiosk.show(entry.cast_id, entry.item, self.show_timeout, meta=meta, start=start)
        if not answer.get("ok"):
            log.warning("schedule: %s not shown: %s", _name(entry.item), answer.get("error"))
            if answer.get("error") not in _NO_PAGE:
                self._unshowable.add(entry.cast_id)
                return False
            # No page to show it yet: it is the kiosk's item all the same, shown once a page attaches.
        self._shown = entry.cast_id
        self._learn_length(entry, answer.get("length"))
        return True

    def _learn_length(self, entry: Entry, length: Any) -> None:
        """A video without a `duration` lasts its length, known once the page has loaded it."""
        if entry.ref is None or (entry.item or {}).get("kind") != "video" or entry.ref in self._lengths:
            return
        if isinstance(length, int | float) and 0 < length < 86_400:
            self._lengths[entry.ref] = float(length)
            self._wake.set()  # its end moves: ask again

    def _preload_next(self, slot: Slot | None, now: datetime, entry: Entry) -> None:
        """Send the item after this one to load off screen, once its files are in the cache."""
        moment = now + timedelta(seconds=entry.remaining + _NUDGE_S)
        if slot is None or (slot.until is not None and moment >= slot.until):
            return  # the next slot's first item: shown when it comes
        after = self._entry(slot, moment)
        if after is None or after.item is None or after.cast_id in (entry.cast_id, self._preloaded):
            return
        if all(self.cache.get(sha256) is not None for sha256 in files_of([after.item])):
            self._preloaded = after.cast_id
            self.kiosk.preload(after.cast_id, after.item)

    def _clear(self) -> None:
        """Nothing by schedule: the idle look (a cast that just ended goes too)."""
        self._shown = self._preloaded = None
        if self.kiosk.current is not None:
            self.kiosk.clear()

    # --- the schedule and its items --------------------------------------------------------------------

    def _follow(self, followed: Followed) -> None:
        """Follow `followed` from now on, keep it for a restart, and fetch what it may show."""
        self.followed, self.pending = followed, None
        self._items, self._unshowable = {}, set()
        self.kept.save(followed.payload)  # only a good one is kept: a restart comes back to it
        log.info("schedule %s («%s») followed", followed.revision, followed.schedule.title)
        self._prefetch_soon()
        self._wake.set()

    def _prepare(self, candidate: Followed) -> None:
        """Fetch the next schedule's files, then follow it; until then the current one plays on."""
        delay = PREPARE_RETRY_S
        while (waiting := self._fetch_all(candidate)) > 0:
            log.info(
                "schedule %s: %d file(s) not fetched yet; %s plays on",
                candidate.revision,
                waiting,
                self.revision,
            )
            gevent.sleep(delay)
            delay = min(delay * 2, PREFETCH_EVERY_S)
        self._preparer = None
        self._follow(candidate)

    def _forget_pending(self) -> None:
        if self._preparer is not None:
            self._preparer.kill()
        self._preparer, self.pending = None, None

    def _prefetch_soon(self) -> None:
        if self._runner is None:
            return  # not started: start() prefetches
        if self._prefetcher is not None:
            self._prefetcher.kill()
        self._prefetcher = gevent.spawn(self._prefetch_forever)

    def _prefetch_forever(self) -> None:
        """Fetch (and check) every file the schedule may show; again later while one is missing."""
        while True:
            missing = self._fetch_all(self.followed)
            if missing:
                log.warning("schedule: %d file(s) not in the cache yet; trying again later", missing)
            if self._unshowable:  # what failed for want of a file may be there now
                self._unshowable.clear()
                self._wake.set()
            gevent.sleep(PREFETCH_EVERY_S if missing else PREFETCH_EVERY_S * 6)

    def _fetch_all(self, followed: Followed | None) -> int:
        """Return how many of the schedule's items are not cached for a reason that may pass."""
        waiting = 0
        checked = {id(item): item for item in map(self._checked, self._items_of(followed)) if item}
        for item in checked.values():
            try:
                self.cache.ensure_item(item, verify=True)
            except FetchError as exc:
                if exc.lasting:  # never there: the item is skipped when its turn comes
                    log.warning("schedule: %s cannot be fetched: %s", _name(item), exc)
                else:
                    waiting += 1
                    log.debug("schedule: %s not fetched yet: %s", _name(item), exc)
        return waiting

    @staticmethod
    def _items_of(followed: Followed | None) -> list[Item]:
        playlists = followed.schedule.playlists.values() if followed is not None else ()
        return [item for playlist in playlists for item in playlist.items]

    def _checked(self, item: Item) -> dict[str, Any] | None:
        """Return the item as the kiosk shows it (the fields of a cast's item), or None (logged once)."""
        if item not in self._items:
            fields = {**item.fields, "kind": item.kind, "sound": item.sound}
            if item.kind != "video":
                fields.pop("sound")
            checked = parse_item(fields) if item.kind is not None else None
            if checked is None:
                log.warning("schedule: item %r cannot be shown (not resolved, or malformed)", item.title)
            self._items[item] = checked
        return self._items[item]


def _built(payload: Any) -> Followed | None:
    """Return the schedule of a state's `schedule`; None (logged) when it cannot be followed."""
    try:
        document, zone = payload["document"], ZoneInfo(payload.get("timezone") or DEFAULT_TIMEZONE)
        schedule = Schedule.from_dict(document, str(payload.get("title") or "schedule"))
    except ScheduleInvalid as invalid:
        log.warning("schedule %s refused, keeping the last good one: %s", _revision(payload), invalid)
        return None
    except (KeyError, TypeError, ValueError, AttributeError, ZoneInfoNotFoundError) as exc:
        log.warning("schedule %s malformed, keeping the last good one: %r", _revision(payload), exc)
        return None
    return Followed(schedule, zone, _revision(payload), payload)


def _seconds_until(slot: Slot | None, now: datetime) -> float:
    if slot is None or slot.until is None:
        return WAKE_S
    return min(WAKE_S, max((slot.until - now).total_seconds(), 0.0))


def _revision(payload: Any) -> str:
    """Return the payload's revision; without one, the document's own checksum stands in for it."""
    if not isinstance(payload, dict):
        return "?"
    if payload.get("revision"):
        return str(payload["revision"])[:40]
    document = json.dumps(payload.get("document"), sort_keys=True, default=str).encode()
    return hashlib.sha256(document).hexdigest()[:16]


def _name(item: dict[str, Any]) -> str:
    return str(item.get("title") or item.get("sha256", "")[:12] or item["kind"])
