"""The controller's end for the agent's tests: a real CURVE ROUTER on loopback and a ZAP handler thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
from zmq.utils import z85

from agent.shipper import Shipper
from classcast.identity import PanelIdentity, ensure_identity, save_enrollment
from classcast.protocol import FRAME_BATCH, TELEMETRY_PROTOCOL, ZAP_DOMAIN

TOKEN = "t" * 43


class ZapHandler(threading.Thread):
    """Admits the CURVE keys in `allowed` (Z85) in the classcast domain; records each key it sees."""

    def __init__(self, context: zmq.Context) -> None:
        super().__init__(daemon=True)
        self.context = context
        self.allowed: set[str] = set()
        self.seen: list[str] = []
        self.ready = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        socket = self.context.socket(zmq.REP)
        socket.linger = 0
        socket.bind("inproc://zeromq.zap.01")
        self.ready.set()
        try:
            while not self.stopping.is_set():
                if socket.poll(50):
                    socket.send_multipart(self._answer(socket.recv_multipart()))
        finally:
            socket.close()

    def _answer(self, request: list[bytes]) -> list[bytes]:
        version, request_id, domain, _address, _identity, mechanism, *credentials = request
        key = z85.encode(credentials[0]).decode() if mechanism == b"CURVE" else ""
        self.seen.append(key)
        ok = domain == ZAP_DOMAIN.encode() and key in self.allowed
        status = [b"200", b"OK", b"panel-1"] if ok else [b"400", b"unknown panel", b""]
        return [version, request_id, *status, b""]


class Controller:
    """The controller's side of the telemetry protocol, bound on a random loopback port."""

    def __init__(self, context: zmq.Context, zap: ZapHandler) -> None:
        self.context = context
        self.zap = zap
        public, secret = zmq.curve_keypair()
        self.public_key, self._secret_key = public.decode(), secret
        self.socket = self._bind("tcp://127.0.0.1")
        self.endpoint = self.socket.last_endpoint.decode()

    def _bind(self, address: str) -> zmq.Socket:
        socket = self.context.socket(zmq.ROUTER)
        socket.linger = 0
        socket.curve_server = True
        socket.curve_secretkey = self._secret_key
        socket.zap_domain = ZAP_DOMAIN.encode()
        if address.count(":") == 2:
            socket.bind(address)
        else:
            socket.bind_to_random_port(address)
        return socket

    def stop(self) -> None:
        """Close the ROUTER, as a controller that went away would."""
        self.socket.close()

    def start(self) -> None:
        """Bind a new ROUTER on the same endpoint, as a restarted controller would."""
        self.socket = self._bind(self.endpoint)

    def recv(self, timeout: float = 2.0) -> tuple[bytes, list[bytes]] | None:
        """Return (routing id, frames) of the next message; None if none arrives within `timeout` s."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        routing_id, *frames = self.socket.recv_multipart()
        return routing_id, frames

    def reply(self, routing_id: bytes, kind: bytes, body: dict[str, Any]) -> None:
        self.socket.send_multipart([routing_id, TELEMETRY_PROTOCOL, kind, json.dumps(body).encode()])


def parse_batch(frames: list[bytes]) -> dict[str, Any]:
    """Return the batch of a `batch` message, checking its first two frames."""
    assert frames[:2] == [TELEMETRY_PROTOCOL, FRAME_BATCH]
    assert len(frames) == 3
    return json.loads(frames[2])


def enroll(data_dir: Path, controller: Controller, *, admitted: bool = True) -> PanelIdentity:
    """Return the identity of a panel enrolled with `controller`; its ZAP handler admits it if `admitted`."""
    identity = ensure_identity(data_dir)
    save_enrollment(data_dir, token=TOKEN, controller_key=controller.public_key)
    if admitted:
        controller.zap.allowed.add(identity.public_key)
    return ensure_identity(data_dir)


def exchange(
    shipper: Shipper, controller: Controller, timeout: float = 3.0
) -> tuple[bytes, list[bytes]] | None:
    """Return the next message the controller gets, stepping `shipper` meanwhile; None after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump(shipper, seconds=0.0)
        message = controller.recv(timeout=0.02)
        if message is not None:
            return message
    return None


def pump(shipper: Shipper, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    """Run the shipper's loop for up to `seconds` (at least one turn), or until `until()` is true."""
    deadline = time.monotonic() + seconds
    while True:
        shipper.step(time.monotonic())
        if shipper.socket.poll(10):
            shipper.receive()
        if until() or time.monotonic() >= deadline:
            return
