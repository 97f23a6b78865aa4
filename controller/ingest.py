"""Telemetry ingest: a ZeroMQ ROUTER (CURVE server) on a thread of its own, and its ZAP handler.

The ZAP handler (a greenlet: it reads the registry like any request) admits only the keys of active
panels and names the connection after the panel, so the ROUTER learns who sent a batch from the
handshake, never from the payload. The ROUTER's thread receives what has arrived, checks and stores
it in one transaction (taking turns with the database's writer thread), and acks each batch after
the commit; a lost ack makes the agent resend, and the resent events are recognised by their ids.
A thread, not greenlets: the hub would otherwise take the GIL from the writing thread at every
message, and an ingest of 100,000 events/s leaves no room for that.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import gevent.threadpool
import msgspec
import zmq
import zmq.green as zmq_green
from zmq.utils import z85

from classcast.identity import write_secret
from classcast.protocol import (
    ERROR_REVOKED,
    FRAME_ACK,
    FRAME_BATCH,
    FRAME_ERROR,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    TELEMETRY_PROTOCOL,
    ZAP_DOMAIN,
)
from controller.db import Database
from controller.store import incidents, lifecycle, panels, telemetry
from controller.telemetry_schema import Batch, CheckedBatch, batch_decoder, decode_checked, wire_events

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
CLONE_WINDOW_S = 120.0
# Most batches committed in one transaction: more share a commit's fsync, and a page's write waits
# for up to one group (the writer connection takes turns).
GROUP_MAX = 64
STOP_CHECK_MS = 200  # how often the ROUTER's thread looks whether it should stop
# The ROUTER's thread holds the GIL for long stretches under load (checking a group takes tens of
# ms); a thread that wants it back waits up to the switch interval each time. CPython's 5 ms made a
# page's write wait twice as long during a flood (bench/ingest_bench.py), at no gain in events/s.
SWITCH_INTERVAL_S = 0.001


class BadBatch(ValueError):
    def __init__(self, code: str, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.code, self.seq = code, seq


def server_keys(data_dir: Path) -> tuple[str, str]:
    """Return the controller's CURVE key pair (public, secret) in Z85, made on first use."""
    folder = data_dir / "curve"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (folder / "server.secret").exists():
        public, secret = zmq.curve_keypair()
        write_secret(folder / "server.secret", secret.decode())
        write_secret(folder / "server.public", public.decode())
    return (folder / "server.public").read_text().strip(), (folder / "server.secret").read_text().strip()


class TelemetryIngest:
    """The ROUTER and the ZAP handler; `start()` binds and spawns them, `stop()` closes them."""

    def __init__(
        self,
        db: Database,
        bind: str,
        secret_key: str,
        metrics: Any = None,
        channels: tuple[str, ...] = (),
    ) -> None:
        self.db, self.bind, self._secret_key = db, bind, secret_key
        self.metrics = metrics  # controller.metrics.Metrics; None where nobody scrapes (some tests)
        self.channels = channels  # where incidents are sent (controller.monitor.channels)
        self._routes: dict[int, dict[bytes, tuple[float, str]]] = {}
        self._clone_flagged: dict[int, float] = {}
        self.context = zmq_green.Context()
        self.endpoint: str | None = None
        self._zap: gevent.Greenlet | None = None
        self._thread = gevent.threadpool.ThreadPool(1)
        self._router_job: Any = None  # the ROUTER's loop, running on self._thread
        self._stopping = False
        self.batches = 0

    def start(self) -> str:
        """Return the bound endpoint (with the real port when the bind asked for a random one)."""
        zap = self.context.socket(zmq.REP)
        zap.linger = 0
        zap.bind(ZAP_ENDPOINT)
        router = zmq.Socket(self.context, zmq.ROUTER)  # not green: it is used on the ROUTER's thread only
        router.linger = 0
        router.curve_server = True
        router.curve_secretkey = self._secret_key.encode()
        router.zap_domain = ZAP_DOMAIN.encode()
        router.maxmsgsize = MAX_BATCH_BYTES + 4096
        router.bind(self.bind)
        self.endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._zap = gevent.spawn(self._serve_zap, zap)
        self._router_job = self._thread.spawn(self._serve_router, router)
        log.info("telemetry ROUTER bound at %s", self.endpoint)
        return self.endpoint

    @property
    def alive(self) -> bool:
        if self._zap is None or self._router_job is None:
            return False
        return not self._zap.dead and not self._router_job.ready()

    def stop(self) -> None:
        self._stopping = True
        if self._router_job is not None:
            self._router_job.wait(timeout=5 * STOP_CHECK_MS / 1000)  # it closes the ROUTER as it ends
        if self._zap is not None:
            self._zap.kill()
        self._thread.kill()
        self.context.destroy(linger=0)

    def _serve_zap(self, zap: zmq_green.Socket) -> None:
        while True:
            request = zap.recv_multipart()
            try:
                reply = self._zap_reply(request)
            except Exception:
                log.exception("ZAP: a handshake could not be checked")
                reply = [b"1.0", request[1] if len(request) > 1 else b"", b"500", b"internal error", b"", b""]
            zap.send_multipart(reply)  # a REP socket must answer every request, or it stops serving

    def _zap_reply(self, request: list[bytes]) -> list[bytes]:
        """Return the ZAP reply (RFC 27) to one handshake: 200 with the panel's id, or 400."""
        if len(request) < 6:
            return [b"1.0", request[1] if len(request) > 1 else b"", b"400", b"malformed", b"", b""]
        version, request_id, _domain, address, _identity, mechanism, *credentials = request
        if mechanism != b"CURVE" or len(credentials) != 1:
            return [version, request_id, b"400", b"CURVE only", b"", b""]
        key = z85.encode(credentials[0]).decode()
        panel_id = panels.panel_id_by_key(self.db.read, key)
        if panel_id is None:
            peer = address.decode(errors="replace")
            revoked = self.db.write(lifecycle.record_contact, "telemetry", lifecycle.key_hash(key), peer)
            what = f"revoked panel {revoked}'s" if revoked else "unknown"
            log.warning("telemetry: refused %s key %s… from %s", what, key[:8], peer)
            return [version, request_id, b"400", b"unknown key", b"", b""]
        return [version, request_id, b"200", b"OK", str(panel_id).encode(), b""]

    def _serve_router(self, router: zmq.Socket) -> None:
        """The ROUTER's thread: store and ack what has arrived, group by group, until stopped."""
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        try:
            while not self._stopping:
                if not poller.poll(STOP_CHECK_MS):
                    continue
                # Group commit: everything that has arrived is stored in one transaction and acked
                # after the commit. Under load that is many batches a commit, and one fsync for all.
                messages: list[list[zmq.Frame]] = []
                while len(messages) < GROUP_MAX:
                    try:
                        messages.append(router.recv_multipart(zmq.NOBLOCK, copy=False))
                    except zmq.Again:
                        break
                self._store_and_reply(router, messages)
        except Exception:  # health then says telemetry stopped, and systemd's watchdog restarts us
            log.exception("telemetry: the ROUTER's thread stopped")
            raise
        finally:
            router.close(linger=0)

    def _store_and_reply(self, router: zmq.Socket, messages: list[list[zmq.Frame]]) -> None:
        try:
            replies = self._handle_all(messages)
        except Exception:
            log.exception(
                "telemetry: %d messages could not be handled; the agents will resend", len(messages)
            )
            return
        for frames, reply in zip(messages, replies, strict=True):
            if reply is not None:
                router.send_multipart([frames[0].bytes, TELEMETRY_PROTOCOL, *reply])

    def _handle_all(self, messages: list[list[zmq.Frame]]) -> list[list[bytes] | None]:
        """Return the reply frames (kind, body) to each message, once its batch is committed."""
        arrivals: list[Arrival] = []
        clones: list[tuple[int, list[str]]] = []  # (panel, its addresses) of panels sending from two
        for frames in messages:
            panel_id = int(frames[-1].get("User-Id"))
            address = frames[-1].get("Peer-Address")
            if (addresses := self._watch_for_clones(panel_id, frames[0].bytes, address)) is not None:
                clones.append((panel_id, addresses))
            *heads, body = frames[1:]  # the body as a buffer: msgspec reads it without a copy
            arrivals.append(Arrival(panel_id, address, [*(f.bytes for f in heads), body.buffer]))
        checks = _check_all(arrivals)  # before its turn at the database: others may write meanwhile
        received_at = time.time()
        outcomes = self.db.write_here(_flag_and_store, clones, self.channels, arrivals, checks, received_at)
        return [
            self._refuse(arrival.panel_id, outcome)
            if isinstance(outcome, BadBatch)
            else self._answer(arrival.panel_id, arrival.batch, arrival.address, outcome, received_at)
            for arrival, outcome in zip(arrivals, outcomes, strict=True)
        ]

    def _refuse(self, panel_id: int, exc: BadBatch) -> list[bytes]:
        log.warning("telemetry: panel %s sent a bad message: %s", panel_id, exc)
        if self.metrics is not None:
            self.metrics.batch_refused()
        body = {"seq": exc.seq, "error": exc.code, "message": str(exc)}
        return [FRAME_ERROR, json.dumps(body).encode()]

    def _answer(
        self, panel_id: int, batch: Batch | CheckedBatch | None, address: str, result: Any, received_at: float
    ) -> list[bytes] | None:
        assert batch is not None  # a batch that was not parsed has a BadBatch outcome
        if result is None:  # revoked after its handshake: the connection lives on, nothing it sends counts
            return self._refuse_revoked(panel_id, address, batch.seq)
        if isinstance(result, Exception):  # this batch's savepoint was rolled back: no ack, it is resent
            return None
        self.batches += 1
        if self.metrics is not None:
            self.metrics.batch_acked(panel_id, result, received_at)
        return [FRAME_ACK, json.dumps(result.ack(batch.seq)).encode()]

    def _refuse_revoked(self, panel_id: int, address: str, seq: int) -> list[bytes]:
        """Refuse a batch of a panel revoked after its handshake (counted by _store_if_registered)."""
        log.warning("telemetry: refused a batch of revoked panel %s from %s", panel_id, address)
        if self.metrics is not None:
            self.metrics.batch_refused()
        body = {"seq": seq, "error": ERROR_REVOKED, "message": "this panel's credentials were revoked"}
        return [FRAME_ERROR, json.dumps(body).encode()]

    def _watch_for_clones(self, panel_id: int, route: bytes, address: str) -> list[str] | None:
        """Return the addresses of a panel whose key sends from two connections in turn; else None.

        That is two devices with one identity, to flag. An agent that reconnects gets a new routing id
        and its old one falls silent; two devices with the same key keep both ids sending. So: a
        message from an id that was heard, then another id was heard, all within CLONE_WINDOW_S, is
        two devices. Said once per CLONE_WINDOW_S.
        """
        now = time.monotonic()
        heard = self._routes.setdefault(panel_id, {})
        for old in [r for r, (at, _) in heard.items() if at < now - CLONE_WINDOW_S]:
            del heard[old]
        interleaved = route in heard and any(
            r != route and at > heard[route][0] for r, (at, _) in heard.items()
        )
        heard[route] = (now, address)
        flagged_at = self._clone_flagged.get(panel_id, -CLONE_WINDOW_S)
        if interleaved and now - flagged_at >= CLONE_WINDOW_S:
            self._clone_flagged[panel_id] = now
            addresses = sorted({a for _, a in heard.values()})
            log.warning("telemetry: panel %s sends from two connections at once %s", panel_id, addresses)
            return addresses
        return None


@dataclass
class Arrival:
    """A message from a panel: who sent it (from the handshake) and its frames; then its batch."""

    panel_id: int
    address: str
    parts: list[Any]  # the frames after the ROUTER's identity (the body as a buffer)
    batch: Batch | CheckedBatch | None = None
    wire_events: str | None = None  # a checked batch's events as sent (telemetry_schema.wire_events)


def _flag_and_store(
    db: Database,
    clones: list[tuple[int, list[str]]],
    channels: tuple[str, ...],
    arrivals: list[Arrival],
    checks: list[BadBatch | None],
    received_at: float,
) -> list[telemetry.BatchResult | BadBatch | Exception | None]:
    """Flag the panels seen sending from two connections, then store the checked arrivals."""
    for panel_id, addresses in clones:
        incidents.flag_clone(db, panel_id, "telemetry", addresses, channels)
    return _store_checked(db, arrivals, checks, received_at)


def _check_all(arrivals: list[Arrival]) -> list[BadBatch | None]:
    """Parse each arrival's batch (set on it); return why each cannot be taken, or None if it can."""
    checks: list[BadBatch | None] = []
    for arrival in arrivals:
        try:
            arrival.batch = parse_batch(arrival.parts)
        except BadBatch as exc:
            checks.append(exc)
            continue
        if isinstance(arrival.batch, CheckedBatch):
            arrival.wire_events = wire_events(arrival.parts[2])
        checks.append(None)
    return checks


def _store_checked(
    db: Database, arrivals: list[Arrival], checks: list[BadBatch | None], received_at: float
) -> list[telemetry.BatchResult | BadBatch | Exception | None]:
    """Store the arrivals `_check_all` took; return the outcome of each, in order."""
    good = [arrival for arrival, check in zip(arrivals, checks, strict=True) if check is None]
    results = iter(_store_all(db, good, received_at))
    return [check if check is not None else next(results) for check in checks]


def _check_and_store_all(
    db: Database, arrivals: list[Arrival], received_at: float
) -> list[telemetry.BatchResult | BadBatch | Exception | None]:
    """Parse each arrival's batch and store the good ones; return the outcome of each, in order."""
    return _store_checked(db, arrivals, _check_all(arrivals), received_at)


def _store_all(
    db: Database, arrivals: list[Arrival], received_at: float
) -> list[telemetry.BatchResult | Exception | None]:
    """Store the batches of a group; a batch that fails is rolled back alone.

    The usual group has no failing batch: it is stored in one savepoint. If one fails, the group is
    rolled back and stored again with a savepoint a batch.
    """
    if not arrivals:
        return []
    db.execute("SAVEPOINT group_")
    try:
        receivers: dict[int, telemetry.Receiver | None] = {}
        results: list[telemetry.BatchResult | Exception | None] = [
            _store_if_registered(db, receivers, arrival, received_at) for arrival in arrivals
        ]
    except Exception:
        db.execute("ROLLBACK TO group_")
        results = _store_each(db, arrivals, received_at)
    db.execute("RELEASE group_")
    return results


def _store_each(
    db: Database, arrivals: list[Arrival], received_at: float
) -> list[telemetry.BatchResult | Exception | None]:
    """Store each batch in a savepoint of its own, so that one that fails is rolled back alone."""
    receivers: dict[int, telemetry.Receiver | None] = {}
    results: list[telemetry.BatchResult | Exception | None] = []
    for arrival in arrivals:
        try:
            db.execute("SAVEPOINT batch")
            results.append(_store_if_registered(db, receivers, arrival, received_at))
            db.execute("RELEASE batch")
        except Exception as exc:
            seq = arrival.batch.seq if arrival.batch is not None else None
            log.exception("telemetry: batch %s of panel %s could not be stored", seq, arrival.panel_id)
            db.execute("ROLLBACK TO batch")
            db.execute("RELEASE batch")
            receivers.pop(arrival.panel_id, None)  # its health_at may be the rolled-back batch's
            results.append(exc)
    return results


def _store_if_registered(
    db: Database, receivers: dict[int, telemetry.Receiver | None], arrival: Arrival, received_at: float
) -> telemetry.BatchResult | None:
    """Store the batch, or count it refused (None) if the panel is no longer active.

    Checked inside the write, so no batch is stored after a revocation has committed. `receivers`
    keeps what was read of each panel for its other batches in the same write.
    """
    panel_id = arrival.panel_id
    assert arrival.batch is not None  # parsed before it is stored
    if panel_id not in receivers:
        row = db.conn.execute(
            "SELECT p.state, s.timezone, p.health_at, p.screen_at FROM panel AS p"
            " JOIN school AS s ON s.id = p.school_id WHERE p.id = ?",
            [panel_id],
        ).fetchone()
        active = row is not None and row[0] == "active"
        receivers[panel_id] = telemetry.Receiver(panel_id, row[1], row[2], row[3]) if active else None
    receiver = receivers[panel_id]
    if receiver is None:
        lifecycle.record_refused_panel(db, panel_id, "telemetry", arrival.address)
        return None
    return telemetry.store_batch(db, receiver, arrival.batch, received_at, arrival.wire_events)


def parse_batch(parts: list[bytes | memoryview]) -> Batch | CheckedBatch:
    """Return the batch carried by a message's frames (after the ROUTER's identity), or raise BadBatch."""
    if len(parts) != 3 or parts[1] != FRAME_BATCH:
        raise BadBatch("bad_frame", f"expected [{TELEMETRY_PROTOCOL.decode()}, batch, body]")
    if parts[0] != TELEMETRY_PROTOCOL:
        raise BadBatch("unsupported_version", f"protocol {parts[0][:40]!r} is not spoken here")
    checked = decode_checked(parts[2])
    if checked is not None and 0 < len(checked.events) <= MAX_BATCH_EVENTS:
        return checked
    try:
        batch = batch_decoder.decode(parts[2])
    except msgspec.DecodeError as exc:  # ValidationError included: not JSON, or not a batch
        seq = _seq_of(parts[2])
        raise BadBatch("bad_batch", f"not a batch: {str(exc)[:160]}", seq) from None
    if not batch.events:
        raise BadBatch("bad_batch", "events must be a non-empty list", batch.seq)
    if len(batch.events) > MAX_BATCH_EVENTS:
        raise BadBatch("too_large", f"over {MAX_BATCH_EVENTS} events", batch.seq)
    return batch


def _seq_of(body: bytes) -> int | None:
    """Return the seq of a batch that failed to parse, if it has a readable one (to echo in the error)."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    seq = value.get("seq") if isinstance(value, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
