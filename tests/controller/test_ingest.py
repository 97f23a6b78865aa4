"""Telemetry ingest over real ZeroMQ on loopback: CURVE, ZAP, acks after commit, no double counting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import zmq
import zmq.green as zmq_green

from classcast.identity import ensure_identity
from classcast.protocol import FRAME_ACK, FRAME_BATCH, FRAME_ERROR, TELEMETRY_PROTOCOL
from controller.app import Services
from controller.ingest import TelemetryIngest, server_keys
from controller.store import telemetry

from .conftest import World

RECV_TIMEOUT_S = 3.0  # zmq.green ignores RCVTIMEO; gevent's Timeout does the job


def recv(sock: zmq_green.Socket, timeout: float = RECV_TIMEOUT_S) -> list[bytes]:
    with gevent.Timeout(timeout):
        return sock.recv_multipart()


@pytest.fixture
def ingest(svc: Services, world: World) -> Iterator[TelemetryIngest]:
    _, secret = server_keys(svc.data_dir)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", secret)
    ingest.start()
    yield ingest
    ingest.stop()


@pytest.fixture
def panel_socket(svc: Services, ingest: TelemetryIngest, tmp_path: Path) -> Iterator[zmq_green.Socket]:
    """A DEALER holding panel A's keys, connected to the ingest (as the agent connects)."""
    identity = ensure_identity(tmp_path / "panel-a")
    sock = _dealer(ingest, identity.public_key, identity.secret_key, server_keys(svc.data_dir)[0])
    yield sock
    sock.close()


def _dealer(ingest: TelemetryIngest, public: str, secret: str, server_public: str) -> zmq_green.Socket:
    sock = ingest.context.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_publickey, sock.curve_secretkey = public.encode(), secret.encode()
    sock.curve_serverkey = server_public.encode()
    sock.connect(ingest.endpoint)
    return sock


def event(n: int, **overrides: Any) -> dict[str, Any]:
    base = {
        "id": f"spool0001:{n}",
        "type": "heartbeat",
        "wall_time": time.time(),
        "mono_time": 100.0 + n,
        "clock_synced": True,
        "data": {"cpu_percent": 3.5, "temperature_c": 51.0},
    }
    return {**base, **overrides}


def exchange(sock: zmq_green.Socket, frames: list[bytes]) -> tuple[bytes, dict[str, Any]]:
    sock.send_multipart(frames)
    protocol, kind, body = recv(sock)
    assert protocol == TELEMETRY_PROTOCOL
    return kind, json.loads(body)


def batch(seq: int, events: list[Any]) -> list[bytes]:
    return [
        TELEMETRY_PROTOCOL,
        FRAME_BATCH,
        json.dumps({"seq": seq, "sent_at": time.time(), "events": events}).encode(),
    ]


def test_batch_is_stored_then_acked(svc: Services, world: World, panel_socket: zmq_green.Socket) -> None:
    kind, ack = exchange(panel_socket, batch(1, [event(1), event(2)]))
    assert kind == FRAME_ACK
    assert ack == {"seq": 1, "stored": 2, "duplicates": 0, "rejected": []}
    rows = list(svc.db.read.query("SELECT panel_id, event_id, type FROM telemetry_event ORDER BY event_id"))
    assert rows == [
        {"panel_id": world.panel_a, "event_id": "spool0001:1", "type": "heartbeat"},
        {"panel_id": world.panel_a, "event_id": "spool0001:2", "type": "heartbeat"},
    ]
    assert svc.db.read["panel"].get(world.panel_a)["last_seen_at"] is not None


def test_a_resent_batch_is_not_counted_twice(svc: Services, panel_socket: zmq_green.Socket) -> None:
    exchange(panel_socket, batch(1, [event(1), event(2)]))
    kind, ack = exchange(panel_socket, batch(2, [event(1), event(2), event(3)]))  # the ack was "lost"
    assert kind == FRAME_ACK
    assert (ack["stored"], ack["duplicates"]) == (1, 2)
    assert telemetry.count_events(svc.db.read) == 3


def test_bad_events_are_rejected_and_their_neighbours_kept(
    svc: Services, panel_socket: zmq_green.Socket
) -> None:
    events = [
        event(1),
        event(2, data={"cpu_percent": 1.0, "user_name": "Иванов"}),  # not on the allow-list
        event(3, type="keystrokes"),
        event(4, wall_time="yesterday"),
        "not an event",
        event(5, data={"os_release": {"nested": "object"}}, type="inventory"),
        event(6, data={"hostname": "x" * 20000}, type="inventory"),
        event(7),
    ]
    kind, ack = exchange(panel_socket, batch(1, events))
    assert kind == FRAME_ACK
    assert ack["stored"] == 2
    assert [r["error"] for r in ack["rejected"]] == [
        "unknown_field",
        "unknown_type",
        "bad_event",
        "bad_event",
        "bad_event",
        "too_large",
    ]
    stored = {row["event_id"] for row in svc.db.read.query("SELECT event_id FROM telemetry_event")}
    assert stored == {"spool0001:1", "spool0001:7"}
    assert svc.db.read["telemetry_rejection"].count == 6


def test_junk_messages_get_an_error_and_good_batches_keep_flowing(
    svc: Services, panel_socket: zmq_green.Socket
) -> None:
    junk = [
        ([b"hello"], "bad_frame"),
        ([TELEMETRY_PROTOCOL, b"pickle", b"\x80\x04K\x01."], "bad_frame"),
        ([b"classcast.telemetry/9", FRAME_BATCH, b"{}"], "unsupported_version"),
        ([TELEMETRY_PROTOCOL, FRAME_BATCH, b"\x80\x04\x95 pickled"], "bad_batch"),
        ([TELEMETRY_PROTOCOL, FRAME_BATCH, b"[1, 2]"], "bad_batch"),
        ([TELEMETRY_PROTOCOL, FRAME_BATCH, json.dumps({"seq": 5, "events": []}).encode()], "bad_batch"),
        (batch(6, [event(n) for n in range(101)]), "too_large"),
    ]
    for n, (frames, code) in enumerate(junk):
        kind, error = exchange(panel_socket, frames)
        assert (kind, error["error"]) == (FRAME_ERROR, code), frames
        kind, ack = exchange(panel_socket, batch(100 + n, [event(1000 + n)]))
        assert kind == FRAME_ACK and ack["stored"] == 1
    assert telemetry.count_events(svc.db.read) == len(junk)


def assert_refused(svc: Services, ingest: TelemetryIngest, public: str, secret: str) -> None:
    """Send a batch with these keys and see nothing come back and nothing stored."""
    sock = _dealer(ingest, public, secret, server_keys(svc.data_dir)[0])
    try:
        sock.send_multipart(batch(1, [event(1)]))
        with pytest.raises(gevent.Timeout):
            recv(sock, timeout=1.0)
    finally:
        sock.close()
    assert telemetry.count_events(svc.db.read) == 0


def test_an_unknown_key_is_refused_at_the_handshake(svc: Services, ingest: TelemetryIngest) -> None:
    public, secret = (k.decode() for k in zmq.curve_keypair())
    assert_refused(svc, ingest, public, secret)


def test_a_revoked_panel_is_refused(
    svc: Services, world: World, ingest: TelemetryIngest, tmp_path: Path
) -> None:
    svc.db.write(lambda db: db["panel"].update(world.panel_a, {"state": "revoked"}))
    identity = ensure_identity(tmp_path / "panel-a")
    assert_refused(svc, ingest, identity.public_key, identity.secret_key)
