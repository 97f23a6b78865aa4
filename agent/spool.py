"""The spool: a durable on-disk queue of telemetry events waiting for the controller's ack.

One SQLite file, `<data_dir>/spool.sqlite`, written by the agent alone. An event is committed with
synchronous=FULL before `append` returns, so it survives a crash or a power cut; it leaves the spool
only when the controller has acked it, or when it is dropped (the spool is full, or the controller
refused its batch) — and then it is counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.clock import Stamp, stamp
from classcast.events import Heartbeat, Inventory

log = logging.getLogger(__name__)

Event = Heartbeat | Inventory

# AUTOINCREMENT: a sequence number is never reused, even after every event was deleted, because an
# event id ("<spool_id>:<seq>") must be unique for ever — the controller ignores a repeated one.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class Spool:
    """The events of one panel not yet settled with the controller, oldest first."""

    def __init__(self, data_dir: Path, *, max_events: int = 200_000) -> None:
        self.path = data_dir / "spool.sqlite"
        self.max_events = max_events
        data_dir.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun and committed here, explicitly.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            self._create()
        self.spool_id = self._meta("spool_id")
        self._depth = self._count()  # kept in memory: count(*) walks the whole table
        self._full = False

    def _create(self) -> None:
        for statement in _SCHEMA:
            self._db.execute(statement)
        # Made once, with the file: the spool's id is the first half of every event id.
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('spool_id', ?)", (uuid.uuid4().hex[:16],))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dropped', '0')")

    def append(self, event: Event, when: Stamp | None = None) -> str:
        """Return the id of `event`, stored in its wire form (stamped now unless `when` is given)."""
        when = when or stamp()
        with self._transaction():
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            seq = (row[0] if row else 0) + 1
            event_id = f"{self.spool_id}:{seq}"
            body = json.dumps(wire_form(event, event_id, when), separators=(",", ":"))
            self._db.execute("INSERT INTO events (seq, body) VALUES (?, ?)", (seq, body))
            self._depth += 1
            if self._depth > self.max_events:
                self._drop_oldest(self._depth - self.max_events)
        return event_id

    def peek(self, limit: int) -> list[dict[str, Any]]:
        """Return up to `limit` of the oldest events, in their wire form."""
        rows = self._db.execute("SELECT body FROM events ORDER BY seq LIMIT ?", (limit,))
        return [json.loads(body) for (body,) in rows]

    def delete(self, ids: Iterable[str]) -> int:
        """Return how many of the events `ids` were deleted (settled with the controller)."""
        with self._transaction():
            return self._delete(ids)

    def drop(self, ids: Iterable[str]) -> int:
        """Return how many of the events `ids` were deleted and counted as dropped (undeliverable)."""
        with self._transaction():
            count = self._delete(ids)
            self._add_dropped(count)
        return count

    def depth(self) -> int:
        """Return the number of events in the spool."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Return how many events this spool has dropped since it was made."""
        return int(self._meta("dropped"))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _delete(self, ids: Iterable[str]) -> int:
        prefix = f"{self.spool_id}:"
        seqs = [(int(i.removeprefix(prefix)),) for i in ids if i.startswith(prefix)]
        before = self._db.total_changes
        self._db.executemany("DELETE FROM events WHERE seq = ?", seqs)
        count = self._db.total_changes - before
        self._depth -= count
        if self._full and self._depth < self.max_events:
            self._full = False
            log.info("spool below its cap again (%d events); %d dropped in all", self._depth, self.dropped)
        return count

    def _drop_oldest(self, count: int) -> None:
        self._db.execute(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)", (count,)
        )
        self._depth -= count
        self._add_dropped(count)
        if not self._full:  # log once per episode, not at every append while the controller is away
            self._full = True
            log.warning(
                "spool full (%d events): dropping the oldest; %d dropped in all",
                self.max_events,
                self.dropped,
            )

    def _add_dropped(self, count: int) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dropped'", (count,))

    def _meta(self, key: str) -> str:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._depth = self._count()  # it was counted for changes that did not happen
            raise

    def _count(self) -> int:
        return self._db.execute("SELECT count(*) FROM events").fetchone()[0]


def wire_form(event: Event, event_id: str, when: Stamp) -> dict[str, Any]:
    """Return `event` as the protocol's event object; fields without a value are left out."""
    data = {name: value for name, value in dataclasses.asdict(event).items() if value is not None}
    return {
        "id": event_id,
        "type": event.type,
        "wall_time": when.wall_time,
        "mono_time": when.mono_time,
        "clock_synced": when.clock_synced,
        "data": data,
    }
