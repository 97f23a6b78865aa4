"""The spool: a durable on-disk queue of telemetry events waiting for the controller's ack.

One SQLite file, `<data_dir>/spool.sqlite`, written by the agent alone. To spare the panel's SD card,
writes are batched: `append` keeps an event in memory, and `flush` commits everything kept (and the
deletions of acked events) in one transaction with synchronous=FULL. Nothing is sent before it is
committed: `peek`, which the shipper takes batches from, flushes first. An event leaves the spool only
when the controller has acked it, or when it is dropped — the spool is over its size, or the
controller refused its batch — and then a `dropped` event tells the controller how many and which.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.clock import Stamp, stamp
from classcast import durable
from classcast.events import Dropped

log = logging.getLogger(__name__)

# AUTOINCREMENT: a sequence number is never reused, even after every event was deleted, because an
# event id ("<spool_id>:<seq>") must be unique for ever — the controller ignores a repeated one.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# The share of the cap freed at once when the spool is full: one `dropped` event per episode, not one
# per append while the controller is away.
_DROP_CHUNK = 0.05


class Spool:
    """The events of one panel not yet settled with the controller, oldest first."""

    def __init__(self, data_dir: Path, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = data_dir / "spool.sqlite"
        self.max_bytes = max_bytes
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = durable.connect(self.path)
        with self._transaction():
            self._create()
        self.spool_id = self._meta("spool_id")
        row = self._db.execute("SELECT count(*), coalesce(sum(length(body)), 0) FROM events").fetchone()
        self._committed, self._bytes = row  # kept in memory: count(*) walks the whole table
        sequence = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        self._last_seq = sequence[0] if sequence else 0
        self._kept: list[tuple[int, str, float]] = []  # appended, not yet committed: (seq, body, mono_time)
        self._settled: set[int] = set()  # acked, not yet deleted
        self._meta_kept: dict[str, str] = {}  # given to a flush that failed: committed with the next
        # Events up to this sequence number were peeked to be sent: never dropped while in flight,
        # or the controller would store events also counted as dropped.
        self.sending_through = 0
        self._full = False

    def _create(self) -> None:
        for statement in _SCHEMA:
            self._db.execute(statement)
        # Made once, with the file: the spool's id is the first half of every event id.
        # 64 random bits, as uuid4().hex[:16] gave, without the uuid module's 0.3 MB of RSS.
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('spool_id', ?)", (os.urandom(8).hex(),))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dropped', '0')")

    def append(self, event: Any, when: Stamp | None = None) -> str:
        """Return the id of `event` (a classcast.events dataclass), kept until the next `flush`."""
        when = when or stamp()
        seq = self._last_seq + 1
        event_id = f"{self.spool_id}:{seq}"
        body = json.dumps(wire_form(event, event_id, when), separators=(",", ":"))  # fails before any change
        self._last_seq = seq
        self._kept.append((seq, body, when.mono_time))
        return event_id

    def flush(self, meta: dict[str, str] | None = None) -> None:
        """Commit every appended event, the deletions of acked ones and `meta`, in one transaction.

        Durable on return. On an error (a full disk) nothing is committed and everything is kept, to be
        tried again by the next flush.
        """
        meta = self._meta_kept | (meta or {})
        if not (self._kept or self._settled or meta):
            return
        self._meta_kept = meta  # until committed: a later flush must not commit the events without it
        added = sum(len(body) for _, body, _ in self._kept)
        with self._transaction():
            self._db.executemany("INSERT INTO events (seq, body) VALUES (?, ?)", [k[:2] for k in self._kept])
            deleted, freed = self._delete_seqs(self._settled)
            for key, value in meta.items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            count, size = self._committed + len(self._kept) - deleted, self._bytes + added - freed
            if size > self.max_bytes:
                count, size = self._drop_oldest(count, size)
        # Counted only once committed: a failed flush changes nothing.
        self._committed, self._bytes = count, size
        self._kept, self._settled, self._meta_kept = [], set(), {}
        if self._full and size < self.max_bytes * (1 - 2 * _DROP_CHUNK):
            self._full = False
            log.info("spool below its cap again; %d dropped in all", self.dropped)

    def peek(self, limit: int, after_seq: int = 0) -> list[dict[str, Any]]:
        """Return up to `limit` of the oldest committed events after `after_seq`, to be sent.

        Flushes first. If the flush fails (a full disk), what is already committed is still returned:
        the uncommitted events wait in memory for a flush that succeeds.
        """
        try:
            self.flush()
        except sqlite3.OperationalError as exc:
            log.warning("cannot write the spool (%s); sending what is already on disk", exc)
        rows = self._db.execute(
            "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()
        if rows:
            self.sending_through = max(self.sending_through, rows[-1][0])
        return [json.loads(body) for _, body in rows]

    def oldest_mono_time(self, after_seq: int = 0) -> float | None:
        """Return the monotonic time of the oldest event after `after_seq`, committed or not; None if none."""
        row = self._db.execute(
            "SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT 1", (after_seq,)
        ).fetchone()
        if row is not None:
            return json.loads(row[0])["mono_time"]
        return next((mono for seq, _, mono in self._kept if seq > after_seq), None)

    def delete(self, ids: Iterable[str]) -> int:
        """Return how many of `ids` are this spool's; they are deleted (settled) at the next flush."""
        seqs = self._seqs(ids)
        self._settled.update(seqs)
        return len(seqs)

    def drop(self, ids: Iterable[str], reason: str = "refused") -> int:
        """Return how many of the events `ids` were deleted and counted as dropped (undeliverable).

        A `dropped` event tells the controller how many and which.
        """
        seqs = self._seqs(ids)
        self.flush()
        with self._transaction():
            count, size = self._delete_seqs(seqs)
            self._add_dropped(count)
            if count:
                size -= self._insert_now(
                    Dropped(count=count, first_seq=min(seqs), last_seq=max(seqs), reason=reason)
                )
        self._committed, self._bytes = self._committed - count + (1 if count else 0), self._bytes - size
        return count

    def depth(self) -> int:
        """Return the number of events in the spool (committed or not), less those acked."""
        return self._committed + len(self._kept) - len(self._settled)

    @property
    def pending(self) -> bool:
        """Return True while something awaits a flush: appended events or deletions of acked ones."""
        return bool(self._kept or self._settled)

    @property
    def dropped(self) -> int:
        """Return how many events this spool has dropped since it was made."""
        return int(self._meta("dropped"))

    def meta(self, key: str) -> str | None:
        """Return a value kept with `flush(meta=…)`; None if there is none."""
        if key in self._meta_kept:
            return self._meta_kept[key]
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _seqs(self, ids: Iterable[str]) -> list[int]:
        prefix = f"{self.spool_id}:"
        return [int(i.removeprefix(prefix)) for i in ids if i.startswith(prefix)]

    def _delete_seqs(self, seqs: Iterable[int]) -> tuple[int, int]:
        """Delete the events `seqs` that are committed; return (how many, their bytes)."""
        count = size = 0
        for seq in seqs:
            row = self._db.execute(
                "DELETE FROM events WHERE seq = ? RETURNING length(body)", (seq,)
            ).fetchone()
            if row is not None:
                count, size = count + 1, size + row[0]
        return count, size

    def _drop_oldest(self, count: int, size: int) -> tuple[int, int]:
        """Drop the oldest events until the spool is a chunk below its cap; return the new (count, bytes).

        Neither events in flight nor earlier `dropped` notices are dropped: a notice per run of
        consecutive events dropped names exactly those, so the controller may hold that range.
        """
        target = size - int(self.max_bytes * (1 - _DROP_CHUNK))
        runs: list[list[int]] = []
        freed, follows = 0, False  # follows: this row continues the last run
        rows = self._db.execute(
            'SELECT seq, length(body), instr(body, \'"type":"dropped"\') > 0 FROM events'
            " WHERE seq > ? ORDER BY seq",
            (self.sending_through,),
        )
        for seq, length, notice in rows:
            if freed >= target:
                break
            if notice:
                follows = False
                continue
            if follows:
                runs[-1].append(seq)
            else:
                runs.append([seq])
            follows, freed = True, freed + length
        dropped = 0
        for run in runs:
            run_count, run_bytes = self._delete_seqs(run)
            notice = self._insert_now(
                Dropped(count=run_count, first_seq=run[0], last_seq=run[-1], reason="full")
            )
            dropped, count, size = dropped + run_count, count - run_count + 1, size - run_bytes + notice
        self._add_dropped(dropped)
        if not self._full:  # logged once per episode, not at every flush while the controller is away
            self._full = True
            log.warning(
                "spool full (%d bytes): dropped the %d oldest events; %d dropped in all",
                self.max_bytes,
                dropped,
                self.dropped,
            )
        return count, size

    def _insert_now(self, event: Any) -> int:
        """Insert `event` inside the current transaction; return its size in bytes."""
        self._last_seq += 1
        body = json.dumps(
            wire_form(event, f"{self.spool_id}:{self._last_seq}", stamp()), separators=(",", ":")
        )
        self._db.execute("INSERT INTO events (seq, body) VALUES (?, ?)", (self._last_seq, body))
        return len(body)

    def _add_dropped(self, count: int) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dropped'", (count,))

    def _meta(self, key: str) -> str:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return durable.transaction(self._db)


def wire_form(event: Any, event_id: str, when: Stamp) -> dict[str, Any]:
    """Return `event` as the protocol's event object; fields without a value are left out."""
    data = {name: value for name, value in dataclasses.asdict(event).items() if value is not None}
    return {
        "id": event_id,
        "type": event.type,
        "wall_time": when.wall_time,
        "mono_time": when.mono_time,
        "clock_synced": when.clock_synced,
        "boot": when.boot,
        "data": data,
    }
