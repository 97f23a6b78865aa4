"""Telemetry batches: checked event by event, stored exactly once, with corrected times and rollups.

A batch is stored as one row (its accepted events as a JSON array) in the writer's transaction. An
event id is "<spool_id>:<seq>"; the sequence numbers the controller holds of each spool are kept as
ranges, so an id it already holds is ignored however long ago it came. A `dropped` event marks the
range it names as held too: those events will never come.
"""

from __future__ import annotations

import bisect
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlite_utils import Database

from controller.store import rollups
from controller.telemetry_schema import Batch, CheckedBatch, Rejected, decode_event, encoder
from controller.timeutil import now_iso

log = logging.getLogger(__name__)

FUTURE_SLACK_S = 300.0  # a panel's time further ahead of the controller's than this is not believed


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    newest_synced: float | None = field(default=None, repr=False)  # for the lag metric; not in the ack
    spool: tuple[float, Any, Any] | None = field(default=None, repr=False)  # the newest heartbeat's spool

    def ack(self, seq: int) -> dict[str, Any]:
        return {"seq": seq, "stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class Receiver:
    """What ingest knows of the panel a batch came from, read inside the transaction that stores it.

    Ingest reads it once for all the panel's batches committed together; `store_batch` keeps
    `health_at` and `screen_at` up to date as it stores them.
    """

    panel_id: int
    timezone: str
    health_at: float | None
    screen_at: float | None = None
    seen_at: str = field(default_factory=now_iso)


def store_batch(
    db: Database,
    panel: Receiver,
    batch: Batch | CheckedBatch,
    received_at: float,
    wire_events: str | None = None,
) -> BatchResult:
    """Return what became of each event of `batch`: stored, already held, or rejected with a reason.

    Runs inside the writer's transaction, so the whole batch is committed together or not at all.
    `wire_events` is the batch's events as the panel sent them (telemetry_schema.wire_events), stored
    as they are if all are taken and their times believed.
    """
    result = BatchResult()
    fresh = _next_run(db, panel.panel_id, batch)
    whole = fresh is not None
    if fresh is None:
        events = _decoded(db, panel.panel_id, batch, received_at, result)
        fresh = _not_held(db, panel.panel_id, events, result)
    if not fresh:
        return result
    clock = Clock(db, panel.panel_id, batch, received_at)
    times = clock.correct(fresh)
    if not (whole and clock.believed_all and wire_events is not None):
        wire_events = encoder.encode(fresh).decode()  # with each event's corrected `time`
    db.conn.execute(
        "INSERT INTO telemetry_batch (panel_id, received_at, first_time, last_time, count, events)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [panel.panel_id, received_at, min(times), max(times), len(fresh), wire_events],
    )
    rollups.add(db, panel.panel_id, panel.timezone, fresh)
    latest = _latest_by_type(fresh)
    facts = {"last_seen_at": panel.seen_at, **_panel_facts(panel, latest)}
    db.conn.execute(*_panel_update(panel.panel_id, facts))
    panel.health_at = facts.get("health_at", panel.health_at)
    panel.screen_at = facts.get("screen_at", panel.screen_at)
    result.stored = len(fresh)
    synced = [when for when, event in zip(times, fresh, strict=True) if event.clock_synced]
    result.newest_synced = max(synced) if synced else None
    if (heartbeat := latest.get("heartbeat")) is not None:
        result.spool = (heartbeat.time, heartbeat.data.spool_events, heartbeat.data.spool_dropped)
    return result


def _next_run(db: Database, panel_id: int, batch: Batch | CheckedBatch) -> list[Any] | None:
    """Return the events of the usual batch, marked held; None if `batch` needs a closer look.

    The usual batch: all its events good, and the next ones of a single spool, in order, above every
    sequence number held of it, with no `dropped` notice among them.
    """
    if not isinstance(batch, CheckedBatch):
        return None
    events = batch.events
    spool_id, _, first = events[0].id.rpartition(":")
    if not spool_id or not first.isdigit() or len(first) > 18:
        return None
    start = int(first)
    if [event.id for event in events] != [f"{spool_id}:{seq}" for seq in range(start, start + len(events))]:
        return None
    if any(event.kind == "dropped" for event in events):
        return None
    held = Held(db, _stream(db, panel_id, spool_id))
    if held.ranges and held.ranges[-1][1] >= start:
        return None
    held.add(start, start + len(events) - 1)
    held.save()
    return list(events)


def _decoded(
    db: Database, panel_id: int, batch: Batch | CheckedBatch, received_at: float, result: BatchResult
) -> list[tuple[str, int, Any]]:
    """Return (spool id, seq, event) of each good event of `batch`; reject and count the others."""
    events = []
    for item in batch.events:
        try:
            event = item if isinstance(batch, CheckedBatch) else decode_event(item)
            spool_id, seq = _split_id(event.id)
        except Rejected as exc:
            raw = msgspec.json.encode(item) if isinstance(batch, CheckedBatch) else bytes(item)
            _reject(db, result, panel_id, raw, exc, received_at)
            continue
        events.append((spool_id, seq, event))
    return events


def _split_id(event_id: str) -> tuple[str, int]:
    spool_id, _, seq = event_id.rpartition(":")
    if not spool_id or not seq.isdigit() or len(seq) > 18:
        raise Rejected("bad_event", "id must be <spool id>:<sequence number>")
    return spool_id, int(seq)


def _not_held(
    db: Database, panel_id: int, events: list[tuple[str, int, Any]], result: BatchResult
) -> list[Any]:
    """Return the events whose ids are new, in order, and mark them held; count the others."""
    by_spool: dict[str, list[tuple[int, Any]]] = {}
    for spool_id, seq, event in events:
        by_spool.setdefault(spool_id, []).append((seq, event))
    fresh = []
    for spool_id, spooled in by_spool.items():
        held = Held(db, _stream(db, panel_id, spool_id))
        seqs = [seq for seq, _ in spooled]
        if held.is_new_run(seqs):  # the usual batch: the spool's next events, in order
            held.add(seqs[0], seqs[-1])
            new = [event for _, event in spooled]
        else:
            new = []
            for seq, event in spooled:
                if held.holds(seq):
                    result.duplicates += 1
                else:
                    held.add(seq, seq)
                    new.append(event)
        for event in new:
            if (
                event.kind == "dropped"
                and event.data.first_seq is not None
                and event.data.last_seq is not None
            ):
                held.add(event.data.first_seq, event.data.last_seq)  # those will never come
        held.save()
        fresh.extend(new)
    return fresh


def _stream(db: Database, panel_id: int, spool_id: str) -> int:
    row = db.execute(
        "SELECT id FROM telemetry_stream WHERE panel_id = ? AND spool_id = ?", [panel_id, spool_id]
    ).fetchone()
    if row is not None:
        return row[0]
    return db.execute(
        "INSERT INTO telemetry_stream (panel_id, spool_id) VALUES (?, ?)", [panel_id, spool_id]
    ).lastrowid


class Held:
    """The ranges of sequence numbers held of one stream, merged; read once and saved once a batch."""

    def __init__(self, db: Database, stream: int) -> None:
        self.db, self.stream = db, stream
        rows = db.execute(
            "SELECT first_seq, last_seq FROM telemetry_held WHERE stream_id = ? ORDER BY first_seq", [stream]
        )
        self.ranges: list[list[int]] = [list(row) for row in rows]
        self._saved = [tuple(r) for r in self.ranges]

    def is_new_run(self, seqs: list[int]) -> bool:
        """Return True if `seqs` are consecutive and all above every sequence number held."""
        top = self.ranges[-1][1] if self.ranges else 0
        return (
            seqs[0] > top
            and seqs[-1] - seqs[0] == len(seqs) - 1
            and all(a < b for a, b in zip(seqs, seqs[1:], strict=False))
        )

    def holds(self, seq: int) -> bool:
        index = bisect.bisect_right(self.ranges, [seq, float("inf")]) - 1
        return index >= 0 and self.ranges[index][0] <= seq <= self.ranges[index][1]

    def add(self, first: int, last: int) -> None:
        """Hold first..last, merged with the ranges it touches or overlaps."""
        index = bisect.bisect_left(self.ranges, [first, first])
        if index > 0 and self.ranges[index - 1][1] >= first - 1:  # the usual case: it extends the last
            index -= 1
        end = index
        while end < len(self.ranges) and self.ranges[end][0] <= last + 1:
            end += 1
        if end > index:
            first, last = min(first, self.ranges[index][0]), max(last, self.ranges[end - 1][1])
        self.ranges[index:end] = [[first, last]]

    def save(self) -> None:
        ranges = [tuple(r) for r in self.ranges]
        if ranges == self._saved:
            return
        if [r[0] for r in ranges] == [r[0] for r in self._saved]:  # the usual change: a range grew
            self.db.conn.executemany(
                "UPDATE telemetry_held SET last_seq = ? WHERE stream_id = ? AND first_seq = ?",
                [(last, self.stream, first) for first, last in ranges],
            )
            return
        self.db.execute("DELETE FROM telemetry_held WHERE stream_id = ?", [self.stream])
        self.db.conn.executemany(
            "INSERT INTO telemetry_held VALUES (?, ?, ?)", [(self.stream, *r) for r in self.ranges]
        )


class Clock:
    """Turns an event's panel times into the controller's best estimate of when it happened.

    A synchronised wall clock is believed (unless it says the event is from the future). Otherwise the
    event's monotonic time is put on the wall clock through its boot's offset (wall less monotonic),
    learned from the batch's send time: the panel's own if its clock was synchronised when it sent,
    else the controller's time of receipt. Offsets are kept per boot, so events of a boot that ended
    unsynchronised are corrected once any batch of that boot arrived.
    """

    def __init__(self, db: Database, panel_id: int, batch: Batch, received_at: float) -> None:
        self.db, self.panel_id, self.received_at = db, panel_id, received_at
        self.offsets: dict[str, float | None] = {}
        self.believed_all = False
        if batch.sent_mono is not None and batch.boot:
            synced = bool(batch.clock_synced) and batch.sent_at is not None
            offset = (
                batch.sent_at if synced and batch.sent_at is not None else received_at
            ) - batch.sent_mono
            # A synchronised reference replaces any; an unsynchronised one only another unsynchronised one.
            db.execute(
                "INSERT INTO telemetry_boot VALUES (?, ?, ?, ?) ON CONFLICT (panel_id, boot) DO UPDATE"
                " SET offset = excluded.offset, synced = excluded.synced"
                " WHERE excluded.synced OR NOT telemetry_boot.synced",
                [panel_id, batch.boot, offset, synced],
            )

    def correct(self, events: list[Any]) -> list[float]:
        """Set each event's `time` to its corrected time; return the times, in order.

        Sets `believed_all` if every time is the panel's own (its wall clock synchronised and sane).
        """
        walls = [event.wall_time for event in events]
        latest = self.received_at + FUTURE_SLACK_S
        self.believed_all = max(walls) <= latest and all(event.clock_synced for event in events)
        times = walls if self.believed_all else [self.time_of(event) for event in events]
        for event, when in zip(events, times, strict=True):
            event.time = when
        return times

    def time_of(self, event: Any) -> float:
        latest = self.received_at + FUTURE_SLACK_S
        if event.clock_synced and event.wall_time <= latest:
            return event.wall_time
        offset = self._offset(event.boot)
        if offset is not None:
            return min(event.mono_time + offset, self.received_at)
        return min(event.wall_time, self.received_at)  # nothing better is known

    def _offset(self, boot: str) -> float | None:
        if not boot:
            return None
        if boot not in self.offsets:
            self.offsets[boot] = self._stored_offset(boot)
        return self.offsets[boot]

    def _stored_offset(self, boot: str) -> float | None:
        row = self.db.execute(
            "SELECT offset FROM telemetry_boot WHERE panel_id = ? AND boot = ?", [self.panel_id, boot]
        ).fetchone()
        return None if row is None else row[0]


def _latest_by_type(events: list[Any]) -> dict[str, Any]:
    """Return the newest event of each type in `events` (the later one of two at the same time)."""
    if all(event.kind == events[0].kind for event in events):  # the usual batch: heartbeats only
        return {events[0].kind: max(reversed(events), key=_time)}
    latest: dict[str, Any] = {}
    for event in events:
        if event.kind not in latest or event.time >= latest[event.kind].time:
            latest[event.kind] = event
    return latest


def _time(event: Any) -> float:
    return event.time


def _panel_facts(panel: Receiver, latest: dict[str, Any]) -> dict[str, Any]:
    """Return what the registry keeps on the panel's row from the newest heartbeat and inventory."""
    facts: dict[str, Any] = {}
    if (heartbeat := latest.get("heartbeat")) is not None:
        data = heartbeat.data
        facts |= {
            "health_at": heartbeat.time,
            "temperature_c": data.temperature_c,
            "disk_free_bytes": data.disk_free_bytes,
            "disk_total_bytes": data.disk_total_bytes,
            "undervoltage_now": data.undervoltage_now,
            "display_connected": data.display_connected,
        }
        if data.undervoltage_now or data.undervoltage_since_boot:
            facts["undervoltage_seen_at"] = heartbeat.time
        # A heartbeat replayed from the spool after days offline must not overwrite fresher health.
        if panel.health_at is not None and panel.health_at > heartbeat.time:
            facts = {}
    if (inventory := latest.get("inventory")) is not None and inventory.data.agent_version:
        facts["agent_version"] = inventory.data.agent_version[:40]
    return facts | _screen_facts(panel, latest.get("screen"))


def _screen_facts(panel: Receiver, screen: Any) -> dict[str, Any]:
    """Return the display's power as the newest `screen` event tells it (not one older than what is kept)."""
    if screen is None or (panel.screen_at is not None and panel.screen_at > screen.time):
        return {}
    return {"screen_on": screen.data.on, "screen_reason": screen.data.reason, "screen_at": screen.time}


def _panel_update(panel_id: int, facts: dict[str, Any]) -> tuple[str, list[Any]]:
    columns = ", ".join(f"{name} = ?" for name in facts)
    return f"UPDATE panel SET {columns} WHERE id = ?", [*facts.values(), panel_id]


def _reject(
    db: Database, result: BatchResult, panel_id: int, raw: bytes, exc: Rejected, received_at: float
) -> None:
    event_id = _id_of(raw)
    log.warning("panel %s: event %s rejected: %s", panel_id, event_id, exc)
    db.execute(
        "INSERT INTO telemetry_rejection (panel_id, event_id, error, received_at) VALUES (?, ?, ?, ?)",
        [panel_id, event_id, exc.code, received_at],
    )
    result.rejected.append({"id": event_id or "", "error": exc.code})


def _id_of(raw: bytes) -> str | None:
    """Return the id of a rejected event if it has a readable one (for the log and the ack)."""
    try:
        event = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    event_id = event.get("id") if isinstance(event, dict) else None
    return event_id[:80] if isinstance(event_id, str) and event_id else None


def store_events(
    db: Database, panel_id: int, events: list[dict[str, Any]], received_at: float | None = None
) -> BatchResult:
    """Store `events` (in their wire form) of one panel as one batch, as ingest would: for seeding."""
    row = db.conn.execute(
        "SELECT s.timezone, p.health_at, p.screen_at FROM panel AS p JOIN school AS s ON s.id = p.school_id"
        " WHERE p.id = ?",
        [panel_id],
    ).fetchone()
    batch = Batch(seq=0, events=[msgspec.Raw(msgspec.json.encode(event)) for event in events])
    received_at = time.time() if received_at is None else received_at
    return store_batch(db, Receiver(panel_id, row[0], row[1], row[2]), batch, received_at)


def count_events(db: Database, event_type: str | None = None) -> int:
    if event_type is None:
        return db.execute("SELECT coalesce(sum(count), 0) FROM telemetry_batch").fetchone()[0]
    return db.execute("SELECT count(*) FROM telemetry_event WHERE type = ?", [event_type]).fetchone()[0]


def panels_with_heartbeat(db: Database) -> set[int]:
    rows = db.execute("SELECT DISTINCT panel_id FROM panel_day WHERE heartbeats > 0")
    return {row[0] for row in rows}
