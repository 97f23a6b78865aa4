"""The shipper: the DEALER that sends the spool's events to the controller and settles them on its ack.

One batch is in flight at a time. Its events stay in the spool until the controller acks the batch
(then they are deleted: stored, duplicate and rejected alike are settled) or refuses it with an error
(then they are dropped and counted: the same bytes would be refused again). Without an ack within
`ack_timeout` the same events, with the same ids, are sent again after a capped exponential backoff
with jitter; a lost ack therefore costs only a duplicate, which the controller ignores.

An error `revoked` is about the panel, not the batch: school IT revoked its credentials. The shipper
then stops for good (its owner closes it) and keeps every event in the spool, for a new shipper once
the panel is paired again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

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

    def __post_init__(self) -> None:
        self.ids = [event["id"] for event in self.events]


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
        ack_timeout: float = 10.0,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.spool = spool
        self.endpoint = endpoint
        self.batch_max_events = batch_max_events
        self.batch_max_wait = batch_max_wait
        self.ack_timeout = ack_timeout
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._jitter = jitter
        self.socket = _connect(context, identity, endpoint, retry_min, retry_max)
        self.failures = 0  # failed attempts to send the batch in flight
        self.revoked = False  # the controller revoked the panel's credentials: this shipper sends no more
        self._seq = 0
        self._batch: _Batch | None = None
        self._ack_deadline: float | None = None
        self._retry_at: float | None = None

    @property
    def in_flight(self) -> bool:
        """Return True while a batch waits for its ack (or for its next attempt)."""
        return self._batch is not None

    def step(self, now: float) -> float | None:
        """Return when to call `step` again (monotonic; None: not before an append or a message).

        Sends a batch when one is due, notices a missing ack, and sends the batch again when its
        backoff is over.
        """
        if self.revoked:
            return None
        if self._batch is None:
            wake = self._due_at(now)
            if wake is None or wake > now:
                return wake
            self._start_batch(now)
        if self._ack_deadline is not None and now >= self._ack_deadline:
            self._fail(now, f"no ack within {self.ack_timeout:g} s")
        if self._retry_at is not None and now >= self._retry_at:
            self._send(now)
        return self._ack_deadline if self._ack_deadline is not None else self._retry_at

    def receive(self) -> None:
        """Handle every message the controller has sent, without blocking (none after a revocation)."""
        while not self.revoked:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._handle(frames)

    def close(self) -> None:
        self.socket.close(linger=0)

    def _due_at(self, now: float) -> float | None:
        # A batch goes when it is full or when its oldest event has waited batch_max_wait; the event's
        # own mono_time tells how long, across agent restarts too (the monotonic clock is system-wide).
        oldest = self.spool.peek(1)
        if not oldest:
            return None
        if self.spool.depth() >= self.batch_max_events:
            return 0.0
        mono_time = oldest[0]["mono_time"]
        # A mono_time ahead of the clock was taken before a reboot: that event has waited long enough.
        # (The clock itself, not `now`: an event may have been stamped after the caller read `now`.)
        return 0.0 if mono_time > time.monotonic() else mono_time + self.batch_max_wait

    def _start_batch(self, now: float) -> None:
        self._seq += 1
        self._batch = _Batch(self._seq, _fit(self.spool.peek(self.batch_max_events)))
        self._retry_at = now

    def _send(self, now: float) -> None:
        assert self._batch is not None
        batch = {"seq": self._batch.seq, "sent_at": time.time(), "events": self._batch.events}
        body = json.dumps(batch, separators=(",", ":")).encode()
        try:
            self.socket.send_multipart([TELEMETRY_PROTOCOL, FRAME_BATCH, body], zmq.NOBLOCK)
        except zmq.Again:  # the earlier copy is still queued: the controller has not been reachable
            self._fail(now, f"cannot reach the controller at {self.endpoint}")
            return
        self._ack_deadline, self._retry_at = now + self.ack_timeout, None
        log.debug("sent batch %d (%d events)", self._batch.seq, len(self._batch.ids))

    def _fail(self, now: float, reason: str) -> None:
        assert self._batch is not None
        self.failures += 1
        delay = min(self.retry_max, self.retry_min * 2 ** (self.failures - 1))
        delay *= 0.5 + self._jitter() / 2  # jitter: a school's panels must not all retry at once
        self._ack_deadline, self._retry_at = None, now + delay
        # Logged once per outage, not at every retry; the recovery is logged once too.
        level = logging.WARNING if self.failures == 1 else logging.DEBUG
        log.log(
            level,
            "batch %d: %s; sending it again with backoff (up to %g s)",
            self._batch.seq,
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

    def _on_ack(self, ack: dict[str, Any]) -> None:
        if self._batch is None or ack.get("seq") != self._batch.seq:
            log.debug("ignored the ack of stale batch %r", ack.get("seq"))
            return
        self.spool.delete(self._batch.ids)
        rejected = ack.get("rejected") or []
        if rejected:
            log.warning(
                "the controller rejected %d events of batch %d, e.g. %s",
                len(rejected),
                ack["seq"],
                rejected[0],
            )
        self._settle()

    def _on_error(self, error: dict[str, Any]) -> None:
        if error.get("error") == ERROR_REVOKED:
            self._revoke(error)  # whatever its seq: the credentials are revoked, not a batch
            return
        seq = error.get("seq")
        # seq is null when the controller could not parse the batch: with one batch in flight it is that one.
        if self._batch is None or (seq is not None and seq != self._batch.seq):
            log.debug("ignored the error of stale batch %r", seq)
            return
        if error.get("error") == "unsupported_version":
            # The controller is older than this agent: the batch is good, it must wait for an upgrade.
            # It stays in flight; the ack timeout resends it with the usual backoff.
            if self.failures == 0:
                log.error("the controller does not speak this agent's protocol; keeping events until it does")
            return
        count = self.spool.drop(self._batch.ids)
        log.error(
            "the controller refused batch %d (%s: %s); dropped its %d events, %d dropped in all",
            self._batch.seq,
            error.get("error"),
            error.get("message"),
            count,
            self.spool.dropped,
        )
        self._settle()

    def _revoke(self, error: dict[str, Any]) -> None:
        # Neither dropped nor settled: the events are good, and go with the panel's next credentials.
        self.revoked = True
        self._batch = self._ack_deadline = self._retry_at = None
        log.error(
            "the controller revoked this panel's credentials (%s); stopped sending, %d events kept in the"
            " spool until the panel is paired again",
            error.get("message"),
            self.spool.depth(),
        )

    def _settle(self) -> None:
        assert self._batch is not None
        if self.failures:
            log.info(
                "the controller answered batch %d after %d failed attempts", self._batch.seq, self.failures
            )
        self.failures = 0
        self._batch = self._ack_deadline = self._retry_at = None


def _connect(
    context: zmq.Context, identity: PanelIdentity, endpoint: str, retry_min: float, retry_max: float
) -> zmq.Socket:
    if identity.controller_key is None:
        raise ValueError("the panel is not enrolled: it has no controller key to connect with")
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.curve_secretkey = identity.secret_key.encode()
    socket.curve_publickey = identity.public_key.encode()
    socket.curve_serverkey = identity.controller_key.encode()
    # One message may wait in the queue while the controller is away; a resend then fails at once
    # (zmq.Again) instead of piling up copies of the same batch in memory.
    socket.sndhwm = 1
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
