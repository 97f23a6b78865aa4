"""Telemetry ingest: a ZeroMQ ROUTER (CURVE server) and its ZAP handler, on greenlets.

The ZAP handler admits only the keys of active panels and names the connection after the panel, so
the ROUTER learns who sent a batch from the handshake, never from the payload. A batch is committed
by the database's single writer before its ack is sent; a lost ack makes the agent resend, and the
resent events are recognised by their ids.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
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

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
CLONE_WINDOW_S = 120.0


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
        self._greenlets: list[gevent.Greenlet] = []
        self.batches = 0

    def start(self) -> str:
        """Return the bound endpoint (with the real port when the bind asked for a random one)."""
        zap = self.context.socket(zmq.REP)
        zap.linger = 0
        zap.bind(ZAP_ENDPOINT)
        router = self.context.socket(zmq.ROUTER)
        router.linger = 0
        router.curve_server = True
        router.curve_secretkey = self._secret_key.encode()
        router.zap_domain = ZAP_DOMAIN.encode()
        router.maxmsgsize = MAX_BATCH_BYTES + 4096
        router.bind(self.bind)
        self.endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._greenlets = [gevent.spawn(self._serve_zap, zap), gevent.spawn(self._serve_router, router)]
        log.info("telemetry ROUTER bound at %s", self.endpoint)
        return self.endpoint

    @property
    def alive(self) -> bool:
        return bool(self._greenlets) and not any(g.dead for g in self._greenlets)

    def stop(self) -> None:
        gevent.killall(self._greenlets)
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

    def _serve_router(self, router: zmq_green.Socket) -> None:
        while True:
            frames = router.recv_multipart(copy=False)
            try:
                reply = self._handle(frames)
            except Exception:
                log.exception("telemetry: a message could not be handled")
                continue
            if reply is not None:
                router.send_multipart([frames[0].bytes, TELEMETRY_PROTOCOL, *reply])

    def _handle(self, frames: list[zmq.Frame]) -> list[bytes] | None:
        """Return the reply frames (kind, body) for one message from a panel."""
        panel_id = int(frames[-1].get("User-Id"))
        address = frames[-1].get("Peer-Address")
        parts = [f.bytes for f in frames[1:]]
        self._watch_for_clones(panel_id, frames[0].bytes, address)
        try:
            batch = parse_batch(parts)
            result = self.db.write(_store_if_registered, panel_id, batch["events"], address)
        except BadBatch as exc:
            log.warning("telemetry: panel %s sent a bad message: %s", panel_id, exc)
            if self.metrics is not None:
                self.metrics.batch_refused()
            body = {"seq": exc.seq, "error": exc.code, "message": str(exc)}
            return [FRAME_ERROR, json.dumps(body).encode()]
        if result is None:  # revoked after its handshake: the connection lives on, nothing it sends counts
            return self._refuse_revoked(panel_id, address, batch["seq"])
        self.batches += 1
        if self.metrics is not None:
            self.metrics.batch_acked(panel_id, batch["events"], result, time.time())
        return [FRAME_ACK, json.dumps({"seq": batch["seq"], **asdict(result)}).encode()]

    def _refuse_revoked(self, panel_id: int, address: str, seq: int) -> list[bytes]:
        """Refuse a batch of a panel revoked after its handshake (counted by _store_if_registered)."""
        log.warning("telemetry: refused a batch of revoked panel %s from %s", panel_id, address)
        if self.metrics is not None:
            self.metrics.batch_refused()
        body = {"seq": seq, "error": ERROR_REVOKED, "message": "this panel's credentials were revoked"}
        return [FRAME_ERROR, json.dumps(body).encode()]

    def _watch_for_clones(self, panel_id: int, route: bytes, address: str) -> None:
        """Flag a panel whose key sends from two connections in turn (two devices with one identity).

        An agent that reconnects gets a new routing id and its old one falls silent; two devices with
        the same key keep both ids sending. So: a message from an id that was heard, then another id
        was heard, all within CLONE_WINDOW_S, is two devices.
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
            self.db.write(incidents.flag_clone, panel_id, "telemetry", addresses, self.channels)


def _store_if_registered(
    db: Database, panel_id: int, events: list[Any], address: str
) -> telemetry.BatchResult | None:
    """Store the batch, or count it refused (None) if the panel is no longer active.

    Checked inside the write, so no batch is stored after a revocation has committed.
    """
    row = db.execute("SELECT state FROM panel WHERE id = ?", [panel_id]).fetchone()
    if row is None or row[0] != "active":
        lifecycle.record_refused_panel(db, panel_id, "telemetry", address)
        return None
    return telemetry.store_batch(db, panel_id, events)


def parse_batch(parts: list[bytes]) -> dict[str, Any]:
    """Return the batch carried by a message's frames (after the ROUTER's identity), or raise BadBatch."""
    if len(parts) != 3 or parts[1] != FRAME_BATCH:
        raise BadBatch("bad_frame", f"expected [{TELEMETRY_PROTOCOL.decode()}, batch, body]")
    if parts[0] != TELEMETRY_PROTOCOL:
        raise BadBatch("unsupported_version", f"protocol {parts[0][:40]!r} is not spoken here")
    try:
        batch = json.loads(parts[2])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadBatch("bad_batch", f"not JSON: {exc}") from None
    if not isinstance(batch, dict):
        raise BadBatch("bad_batch", "a batch must be an object")
    seq = batch.get("seq") if isinstance(batch.get("seq"), int) else None
    events = batch.get("events")
    if seq is None or not isinstance(events, list) or not events:
        raise BadBatch("bad_batch", "seq must be an integer and events a non-empty list", seq)
    if len(events) > MAX_BATCH_EVENTS:
        raise BadBatch("too_large", f"over {MAX_BATCH_EVENTS} events", seq)
    return batch
