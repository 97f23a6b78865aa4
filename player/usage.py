"""The usage outbox: the player's usage events, kept on disk until the agent has spooled them.

`record` commits the event to `<data_dir>/usage-outbox.sqlite` (WAL, synchronous=FULL) before it
returns; a greenlet sends the oldest events, a batch at a time and in order, to the agent's intake
(agent/intake.py) and deletes them when the agent acks them, which it does only once they are
committed to its spool. Without an ack the batch is sent again after a capped, jittered backoff: the
agent may be restarting. A repeat costs nothing, for the agent keeps the highest local id it took from
this outbox, known by the random id kept in the outbox's meta table (docs/protocol.md).

If the agent stays away, the outbox keeps at most `max_events`; then the oldest are dropped, counted
in the meta row `dropped` and logged once per episode. Once there is room again, one `dropped` event
(reason `outbox_full`) tells the controller how many were lost; if that notice is itself dropped, its
count is told again by the next.

The outbox is written from one OS thread (the player's gevent hub), through one connection, and no
transaction spans a greenlet switch: it has one writer. A commit blocks the hub for the fsync, a few
milliseconds, a few times a minute.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import gevent
import gevent.event
import zmq.green as zmq

from agent.clock import Stamp, stamp
from agent.intake import usage_endpoint
from classcast import durable
from classcast.events import USAGE_TYPES, Dropped
from classcast.protocol import FRAME_ACK, FRAME_EVENTS, MAX_USAGE_EVENTS, USAGE_PROTOCOL

log = logging.getLogger(__name__)

FILE = "usage-outbox.sqlite"
# AUTOINCREMENT: a local id is never reused, even once every event was deleted, because the agent
# takes an id not above the highest it has taken as a repeat.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (local_id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_MAX_DOUBLINGS = 30  # of the backoff: far beyond retry_max, and no float overflow after days of failures


class UsageOutbox:
    """The usage events the agent has not yet acked, oldest first, and the greenlet that sends them."""

    def __init__(
        self,
        data_dir: Path,
        endpoint: str = "",
        *,
        max_events: int = 50_000,
        ack_timeout: float = 5.0,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        context: zmq.Context | None = None,
    ) -> None:
        self.path = data_dir / FILE
        self.endpoint = usage_endpoint(endpoint, data_dir)
        self.max_events = max_events
        self.ack_timeout, self.retry_min, self.retry_max = ack_timeout, retry_min, retry_max
        data_dir.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun and committed here, explicitly.
        self._db = durable.connect(self.path)
        with self._transaction():
            self._create()
        self.outbox_id = self._meta("outbox_id")
        self._depth = self._count()  # kept in memory: count(*) walks the whole table
        self._full = False
        self._context = context if context is not None else zmq.Context()
        self._own_context = context is None
        self.socket: zmq.Socket | None = None
        self._sender: gevent.Greenlet | None = None
        self._recorded = gevent.event.Event()
        self.failures = 0  # failed attempts to deliver the oldest batch

    def _create(self) -> None:
        for statement in _SCHEMA:
            self._db.execute(statement)
        # Made once, with the file: the agent knows this outbox's events by it.
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('outbox_id', ?)", (uuid.uuid4().hex[:16],))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dropped', '0')")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('unreported', '0')")  # dropped, not yet told

    def record(self, event: Any) -> int:
        """Return the local id of the usage `event`, stamped now and committed to disk.

        `event` is a Shown, Screen or Recovery of classcast.events. Raises sqlite3.Error when the disk
        cannot take it (full).
        """
        if getattr(event, "type", None) not in USAGE_TYPES:
            raise ValueError(f"not a usage event: {event!r}")
        body = _body(event, stamp())
        with self._transaction():
            local_id = self._db.execute("INSERT INTO events (body) VALUES (?)", (body,)).lastrowid
            self._depth += 1
            if self._depth > self.max_events:
                self._drop_oldest(self._depth - self.max_events)
        self._recorded.set()
        assert local_id is not None
        return local_id

    def depth(self) -> int:
        """Return the number of events the agent has not acked yet."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Return how many events this outbox has dropped (it was full) since it was made."""
        return int(self._meta("dropped"))

    def start(self) -> None:
        """Start sending to the agent, in a greenlet."""
        if self._sender is None:
            self.socket = _connect(self._context, self.endpoint)
            self._sender = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop sending; what the agent has not acked stays on disk, for the next start."""
        if self._sender is not None:
            # Killed, not asked: it waits only in zmq and in sleeps, never inside a transaction.
            self._sender.kill()
            self._sender = None
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None

    def close(self) -> None:
        self.stop()
        self._db.close()
        if self._own_context:
            self._context.term()

    def __enter__(self) -> UsageOutbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self) -> None:
        """Deliver the oldest events, a batch at a time, for ever (until killed)."""
        while True:
            self._recorded.clear()
            self._report_drops()
            batch = self._oldest(MAX_USAGE_EVENTS)
            if not batch:
                self._recorded.wait()
                continue
            failure = self._deliver(batch)
            if failure is None:
                self._delivered()
            else:
                gevent.sleep(self._failed(failure))

    def _deliver(self, batch: list[dict[str, Any]]) -> str | None:
        """Return why `batch` was not delivered (sent, and all its events acked); None if it was."""
        assert self.socket is not None
        body = json.dumps({"outbox": self.outbox_id, "events": batch}, separators=(",", ":")).encode()
        try:
            self.socket.send_multipart([USAGE_PROTOCOL, FRAME_EVENTS, body], zmq.NOBLOCK)
        except zmq.Again:  # not connected (the socket queues nothing then): the agent is not there
            return f"cannot reach the agent at {self.endpoint}"
        waiting = {event["local_id"] for event in batch}
        deadline = time.monotonic() + self.ack_timeout
        while waiting:
            left = deadline - time.monotonic()
            # Rounded up: a timeout rounded down to 0 ms would spin until the deadline.
            if left <= 0 or not self.socket.poll(math.ceil(left * 1000)):
                return f"no ack within {self.ack_timeout:g} s"
            waiting -= self._settle(self.socket.recv_multipart())
        return None

    def _settle(self, frames: list[bytes]) -> set[int]:
        """Return the local ids an ack settles, deleted; an ack of an earlier copy settles its own ids."""
        ack = _ack(frames)
        if ack is None:
            log.warning("ignored a message from the agent that is not a %s ack", USAGE_PROTOCOL.decode())
            return set()
        ids, rejected = ack
        with self._transaction():
            self._delete(ids)
        if rejected:
            log.warning("the agent rejected %d usage events, e.g. %s", len(rejected), rejected[0])
        return set(ids)

    def _failed(self, reason: str) -> float:
        """Return how long to wait before the next attempt, the failure logged once per outage."""
        self.failures += 1
        delay = min(self.retry_max, self.retry_min * 2 ** min(self.failures - 1, _MAX_DOUBLINGS))
        level = logging.WARNING if self.failures == 1 else logging.DEBUG
        log.log(level, "usage events: %s; %d kept, sending again with backoff", reason, self._depth)
        return delay * (0.5 + random.random() / 2)  # jitter, as the other loops

    def _delivered(self) -> None:
        if self.failures:
            log.info("the agent took usage events again, after %d failed attempts", self.failures)
        self.failures = 0

    def _oldest(self, limit: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT local_id, body FROM events ORDER BY local_id LIMIT ?", (limit,))
        return [{"local_id": local_id, **json.loads(body)} for local_id, body in rows]

    def _delete(self, ids: Iterable[int]) -> None:
        before = self._db.total_changes
        self._db.executemany("DELETE FROM events WHERE local_id = ?", [(i,) for i in ids])
        self._depth -= self._db.total_changes - before
        if self._full and self._depth < self.max_events:
            self._full = False
            log.info("usage outbox below its cap again; %d events dropped in all", self.dropped)

    def _drop_oldest(self, count: int) -> None:
        rows = self._db.execute(
            "SELECT local_id, body FROM events ORDER BY local_id LIMIT ?", (count,)
        ).fetchall()
        # A `dropped` notice dropped in turn: its count is told again by the next notice.
        notices = [json.loads(body) for _, body in rows if json.loads(body)["type"] == Dropped.type]
        lost = len(rows) - len(notices)
        self._db.executemany("DELETE FROM events WHERE local_id = ?", [(local_id,) for local_id, _ in rows])
        self._depth -= len(rows)
        unreported = lost + sum(notice["data"].get("count") or 0 for notice in notices)
        self._add_to_meta("dropped", lost)
        self._add_to_meta("unreported", unreported)
        if not self._full:  # once per episode, not at every event while the agent is away
            self._full = True
            log.warning(
                "usage outbox full (%d events): dropping the oldest; %d dropped in all",
                self.max_events,
                self.dropped,
            )

    def _report_drops(self) -> None:
        """Queue a `dropped` notice of the events dropped and not yet told, once there is room for it."""
        unreported = int(self._meta("unreported"))
        if not unreported or self._depth >= self.max_events:
            return
        body = _body(Dropped(count=unreported, reason="outbox_full"), stamp())
        with self._transaction():
            self._db.execute("INSERT INTO events (body) VALUES (?)", (body,))
            self._db.execute("UPDATE meta SET value = '0' WHERE key = 'unreported'")
            self._depth += 1
        log.info("usage outbox: %d dropped events will be reported to the controller", unreported)

    def _add_to_meta(self, key: str, amount: int) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = ?", (amount, key))

    def _meta(self, key: str) -> str:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _count(self) -> int:
        return self._db.execute("SELECT count(*) FROM events").fetchone()[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with durable.transaction(self._db):
                yield
        except BaseException:
            self._depth = self._count()  # it was counted for changes that did not happen
            raise


def _connect(context: zmq.Context, endpoint: str) -> zmq.Socket:
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    # Queue nothing while the agent is away: a send then fails at once (zmq.Again) and the batch is
    # sent again, as it stands then, once the agent is back; no stale copies pile up meanwhile.
    socket.immediate = True
    socket.sndhwm = 1
    socket.connect(endpoint)
    return socket


def _ack(frames: list[bytes]) -> tuple[list[int], list[Any]] | None:
    """Return the settled ids and the rejections of an ack message; None if it is not one."""
    if len(frames) != 3 or frames[:2] != [USAGE_PROTOCOL, FRAME_ACK]:
        return None
    try:
        ack = json.loads(frames[2])
    except ValueError:
        return None
    ids = ack.get("ids") if isinstance(ack, dict) else None
    if not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        return None
    rejected = ack.get("rejected")
    return ids, rejected if isinstance(rejected, list) else []


def _body(event: Any, when: Stamp) -> str:
    """Return the event object of the usage protocol, less its local id (which the outbox gives it)."""
    data = {name: value for name, value in dataclasses.asdict(event).items() if value is not None}
    body = {
        "type": event.type,
        "wall_time": when.wall_time,
        "mono_time": when.mono_time,
        "clock_synced": when.clock_synced,
        "boot": when.boot,
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"))
