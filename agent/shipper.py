"""The shipper: the DEALER that sends the spool's events to the controller and settles them on its acks.

Up to `window` batches are in flight at a time, each the next events of the spool in order. A batch's
events stay in the spool until the controller acks it (then they are deleted: stored, duplicate and
rejected alike are settled) or refuses it with an error (then they are dropped and counted: the same
bytes would be refused again). Without an ack within `ack_timeout` every batch in flight is sent
again, with the same ids, after a capped exponential backoff with jitter; a lost ack therefore costs
only duplicates, which the controller ignores.

An error `revoked` is about the panel, not the batch: school IT revoked its credentials. The shipper
then stops for good (its owner closes it) and keeps every event in the spool, for a new shipper once
the panel is paired again.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from agent.clock import Stamp, stamp
from agent.spool import Spool
from classcast.identity import PanelIdentity
from classcast.protocol import (
    ERROR_REVOKED,
    FRAME_ACK,
    FRAME_BATCH,
    FRAME_ERROR,
    MAX_BATCH_BYTES,
    TELEMETRY_PROTOCOL,
)

log = logging.getLogger(__name__)

_BATCH_OVERHEAD = 100  # bytes of {"seq":…,"sent_at":…,"events":[…]} around the events


@dataclass
class _Batch:
    seq: int
    events: list[dict[str, Any]]
    ids: list[str] = field(init=False)
    last_seq: int = field(init=False)  # the spool's sequence number of its last event
    ack_deadline: float | None = None

    def __post_init__(self) -> None:
        self.ids = [event["id"] for event in self.events]
        self.last_seq = int(self.ids[-1].rsplit(":", 1)[1])


class Shipper:
    """Ships the events of `spool` to the controller at `endpoint`, authenticated as the panel `identity`."""

    def __init__(
        self,
        context: zmq.Context,
        identity: PanelIdentity,
        spool: Spool,
        *,
        endpoint: str,
        batch_max_events: int = 100,
        batch_max_wait: float = 10.0,
        window: int = 4,
        ack_timeout: float = 10.0,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], Stamp] = stamp,
    ) -> None:
        self.spool = spool
        self.endpoint = endpoint
        self.batch_max_events = batch_max_events
        self.batch_max_wait = batch_max_wait
        self.window = window
        self.ack_timeout = ack_timeout
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._jitter = jitter
        self._clock = clock  # the batch's send time; a test turns the panel's clock with it
        self.socket = _connect(context, identity, endpoint, window, retry_min, retry_max)
        self.failures = 0  # failed attempts in a row to get the batches in flight acked
        self.revoked = False  # the controller revoked the panel's credentials: this shipper sends no more
        self._seq = 0
        self._flight: list[_Batch] = []  # sent, not yet acked or refused; oldest first
        self._retry_at: float | None = None  # after a failure: when to send every batch in flight again
        self._batched_through = 0  # the spool's sequence number of the last event put in a batch

    @property
    def in_flight(self) -> bool:
        """Return True while a batch waits for its ack (or for its next attempt)."""
        return bool(self._flight)

    def step(self, now: float) -> float | None:
        """Return when to call `step` again (monotonic; None: not before an append or a message).

        Sends batches while the window has room and one is due, notices a missing ack, and sends the
        batches in flight again when their backoff is over.
        """
        if self.revoked:
            return None
        if self._retry_at is not None:
            if now < self._retry_at:
                return self._retry_at
            self._retry_at = None
            for batch in self._flight:
                if not self._send(batch, now):
                    return self._retry_at
        oldest = self._flight[0].ack_deadline if self._flight else None
        if oldest is not None and now >= oldest:
            self._fail(now, f"no ack within {self.ack_timeout:g} s")
            return self._retry_at
        wake = None
        while len(self._flight) < self.window:
            wake = self._due_at()
            if wake is None or wake > now:
                break
            batch = self._next_batch()
            if batch is None:
                break
            if not self._send(batch, now):
                return self._retry_at
            wake = None
        dues = [t for t in (wake, self._flight[0].ack_deadline if self._flight else None) if t is not None]
        return min(dues) if dues else None

    def receive(self) -> None:
        """Handle every message the controller has sent, without blocking (none after a revocation)."""
        while not self.revoked:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._handle(frames)

    def close(self) -> None:
        self.spool.sending_through = 0  # nothing of this shipper's is in flight any more
        self.socket.close(linger=0)

    def _due_at(self) -> float | None:
        # A batch goes when it is full or when its oldest event has waited batch_max_wait; the event's
        # own mono_time tells how long, across agent restarts too (the monotonic clock is system-wide).
        oldest = self.spool.oldest_mono_time(self._batched_through)
        if oldest is None:
            return None
        waiting = self.spool.depth() - sum(len(batch.ids) for batch in self._flight)
        if waiting >= self.batch_max_events:
            return 0.0
        # A mono_time ahead of the clock was taken before a reboot: that event has waited long enough.
        # (The clock itself, not `now`: an event may have been stamped after the caller read `now`.)
        return 0.0 if oldest > time.monotonic() else oldest + self.batch_max_wait

    def _next_batch(self) -> _Batch | None:
        events = _fit(self.spool.peek(self.batch_max_events, self._batched_through))
        if not events:  # what looked due was settled meanwhile
            return None
        self._seq += 1
        self._flight.append(_Batch(self._seq, events))
        self._batched_through = self._flight[-1].last_seq
        return self._flight[-1]

    def _send(self, batch: _Batch, now: float) -> bool:
        """Send `batch`; return False if it could not even be queued (then a retry is set)."""
        when = self._clock()
        body = {
            "seq": batch.seq,
            "sent_at": when.wall_time,
            "sent_mono": when.mono_time,
            "boot": when.boot,
            "clock_synced": when.clock_synced,
            "events": batch.events,
        }
        try:
            self.socket.send_multipart(
                [TELEMETRY_PROTOCOL, FRAME_BATCH, json.dumps(body, separators=(",", ":")).encode()],
                zmq.NOBLOCK,
            )
        except zmq.Again:  # earlier copies are still queued: the controller has not been reachable
            self._fail(now, f"cannot reach the controller at {self.endpoint}")
            return False
        batch.ack_deadline = now + self.ack_timeout
        log.debug("sent batch %d (%d events)", batch.seq, len(batch.ids))
        return True

    def _fail(self, now: float, reason: str) -> None:
        self.failures += 1
        delay = min(self.retry_max, self.retry_min * 2 ** min(self.failures - 1, 30))  # 2**30: no overflow
        delay *= 0.5 + self._jitter() / 2  # jitter: a school's panels must not all retry at once
        self._retry_at = now + delay
        for batch in self._flight:
            batch.ack_deadline = None
        # Logged once per outage, not at every retry; the recovery is logged once too.
        level = logging.WARNING if self.failures == 1 else logging.DEBUG
        log.log(
            level,
            "%d batches from %d on: %s; sending them again with backoff (up to %g s)",
            len(self._flight),
            self._flight[0].seq,
            reason,
            self.retry_max,
        )

    def _handle(self, frames: list[bytes]) -> None:
        if len(frames) != 3 or frames[0] != TELEMETRY_PROTOCOL or frames[1] not in (FRAME_ACK, FRAME_ERROR):
            log.warning(
                "ignored a message from the controller that is not %s ack or error",
                TELEMETRY_PROTOCOL.decode(),
            )
            return
        try:
            body = json.loads(frames[2])
        except ValueError:
            body = None
        if not isinstance(body, dict):
            log.warning(
                "ignored a %s from the controller whose body is not a JSON object", frames[1].decode()
            )
            return
        if frames[1] == FRAME_ACK:
            self._on_ack(body)
        else:
            self._on_error(body)

    def _take(self, seq: Any) -> _Batch | None:
        """Remove and return the batch in flight numbered `seq`; None if there is none."""
        for index, batch in enumerate(self._flight):
            if batch.seq == seq:
                return self._flight.pop(index)
        return None

    def _on_ack(self, ack: dict[str, Any]) -> None:
        batch = self._take(ack.get("seq"))
        if batch is None:
            log.debug("ignored the ack of stale batch %r", ack.get("seq"))
            return
        self.spool.delete(batch.ids)
        rejected = ack.get("rejected") or []
        if rejected:
            log.warning(
                "the controller rejected %d events of batch %d, e.g. %s",
                len(rejected),
                batch.seq,
                rejected[0],
            )
        self._settled(batch)

    def _on_error(self, error: dict[str, Any]) -> None:
        if error.get("error") == ERROR_REVOKED:
            self._revoke(error)  # whatever its seq: the credentials are revoked, not a batch
            return
        seq = error.get("seq")
        if error.get("error") == "unsupported_version":
            # The controller is older than this agent: the batch is good, it must wait for an upgrade.
            # It stays in flight; the ack timeout resends it with the usual backoff.
            if self.failures == 0:
                log.error("the controller does not speak this agent's protocol; keeping events until it does")
            return
        # seq is null when the controller could not parse the batch: then it is the oldest in flight.
        batch = self._take(seq) if seq is not None else (self._flight.pop(0) if self._flight else None)
        if batch is None:
            log.debug("ignored the error of stale batch %r", seq)
            return
        try:
            count = self.spool.drop(batch.ids)
        except sqlite3.OperationalError as exc:  # a full disk: keep it in flight; its resend is refused again
            log.warning("cannot drop the refused batch %d yet: %s", batch.seq, exc)
            self._flight.insert(0, batch)
            return
        log.error(
            "the controller refused batch %d (%s: %s); dropped its %d events, %d dropped in all",
            batch.seq,
            error.get("error"),
            error.get("message"),
            count,
            self.spool.dropped,
        )
        self._settled(batch)

    def _revoke(self, error: dict[str, Any]) -> None:
        # Neither dropped nor settled: the events are good, and go with the panel's next credentials.
        self.revoked = True
        self._flight, self._retry_at = [], None
        self.spool.sending_through = 0
        log.error(
            "the controller revoked this panel's credentials (%s); stopped sending, %d events kept in the"
            " spool until the panel is paired again",
            error.get("message"),
            self.spool.depth(),
        )

    def _settled(self, batch: _Batch) -> None:
        if self.failures:
            log.info("the controller answered batch %d after %d failed attempts", batch.seq, self.failures)
        self.failures = 0


def _connect(
    context: zmq.Context,
    identity: PanelIdentity,
    endpoint: str,
    window: int,
    retry_min: float,
    retry_max: float,
) -> zmq.Socket:
    if identity.controller_key is None:
        raise ValueError("the panel is not enrolled: it has no controller key to connect with")
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.curve_secretkey = identity.secret_key.encode()
    socket.curve_publickey = identity.public_key.encode()
    socket.curve_serverkey = identity.controller_key.encode()
    # A window's worth of messages may wait in the queue while the controller is away; a resend then
    # fails at once (zmq.Again) instead of piling up copies of the same batches in memory.
    socket.sndhwm = window
    socket.reconnect_ivl = int(retry_min * 1000)
    socket.reconnect_ivl_max = int(retry_max * 1000)
    # ZMTP heartbeats notice a controller that vanished without closing the TCP connection.
    socket.heartbeat_ivl = 30_000
    socket.heartbeat_timeout = 60_000
    socket.connect(endpoint)
    return socket


def _fit(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the longest head of `events` whose batch stays within MAX_BATCH_BYTES (at least one event)."""
    size = _BATCH_OVERHEAD
    for count, event in enumerate(events):
        size += len(json.dumps(event, separators=(",", ":"))) + 1
        if size > MAX_BATCH_BYTES and count > 0:
            return events[:count]
    return events
