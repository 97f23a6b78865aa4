"""The controller's end for the agent's tests: a real CURVE ROUTER on loopback and a ZAP handler thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from zmq.utils import z85

from agent.shipper import Shipper
from classcast.identity import PanelIdentity, ensure_identity, identity_dir, save_enrollment, write_secret
from classcast.protocol import (
    ERROR_REVOKED,
    FRAME_ACK,
    FRAME_BATCH,
    FRAME_ERROR,
    TELEMETRY_PROTOCOL,
    ZAP_DOMAIN,
)

TOKEN = "t" * 43


class ZapHandler(threading.Thread):
    """Admits the CURVE keys in `allowed` (Z85) in the classcast domain; records each key it sees.

    An admitted connection's User-Id is its key, so the controller can tell who sent a message.
    """

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
        status = [b"200", b"OK", key.encode()] if ok else [b"400", b"unknown panel", b""]
        return [version, request_id, *status, b""]


class Controller:
    """The controller's side of the telemetry protocol, bound on a random loopback port."""

    def __init__(self, context: zmq.Context, zap: ZapHandler) -> None:
        self.context = context
        self.zap = zap
        self.revoked: set[str] = set()  # keys school IT revoked, as `serve` answers them
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
        try:
            if address.count(":") == 2:
                socket.bind(address)
            else:
                socket.bind_to_random_port(address)
        except zmq.ZMQError:
            socket.close()  # an open socket would hang the context's term() at teardown
            raise
        return socket

    def stop(self) -> None:
        """Close the ROUTER, as a controller that went away would."""
        self.socket.close()

    def start(self, timeout: float = 5.0) -> None:
        """Bind a new ROUTER on the same endpoint, as a restarted controller would."""
        # libzmq closes the old listener in its I/O thread, a moment after stop() returned.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.socket = self._bind(self.endpoint)
                return
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def recv(self, timeout: float = 2.0) -> tuple[bytes, list[bytes]] | None:
        """Return (routing id, frames) of the next message; None if none arrives within `timeout` s."""
        message = self.recv_from(timeout)
        return None if message is None else message[1:]

    def recv_from(self, timeout: float = 2.0) -> tuple[str, bytes, list[bytes]] | None:
        """Return (the sender's key, routing id, frames) of the next message; None after `timeout` s."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        routing_id, *frames = self.socket.recv_multipart(copy=False)
        return frames[-1].get("User-Id"), routing_id.bytes, [frame.bytes for frame in frames]

    def revoke(self, key: str) -> None:
        """Revoke a panel's key as school IT does: new handshakes are refused, batches answered "revoked"."""
        self.zap.allowed.discard(key)
        self.revoked.add(key)

    def reply(self, routing_id: bytes, kind: bytes, body: dict[str, Any]) -> None:
        self.socket.send_multipart([routing_id, TELEMETRY_PROTOCOL, kind, json.dumps(body).encode()])


@dataclass(frozen=True)
class Delivery:
    """A batch the controller got, from the panel with `key`, and how the controller answered it."""

    key: str
    batch: dict[str, Any]
    answer: bytes  # FRAME_ACK or FRAME_ERROR

    @property
    def ids(self) -> list[str]:
        return [event["id"] for event in self.batch["events"]]


def serve(
    controller: Controller, seconds: float, until: Callable[[list[Delivery]], bool] = lambda _: False
) -> list[Delivery]:
    """Return the batches that arrive within `seconds` or until `until(deliveries)`, answering each.

    As the real controller does: a revoked key's batch gets the error "revoked", any other an ack.
    """
    deliveries: list[Delivery] = []
    deadline = time.monotonic() + seconds
    while not until(deliveries) and (remaining := deadline - time.monotonic()) > 0:
        message = controller.recv_from(timeout=remaining)
        if message is None:
            break
        key, routing_id, frames = message
        batch = parse_batch(frames)
        if key in controller.revoked:
            answer = FRAME_ERROR
            body = {
                "seq": batch["seq"],
                "error": ERROR_REVOKED,
                "message": "this panel's credentials were revoked",
            }
        else:
            answer = FRAME_ACK
            body = {"seq": batch["seq"], "stored": len(batch["events"]), "duplicates": 0, "rejected": []}
        controller.reply(routing_id, answer, body)
        deliveries.append(Delivery(key, batch, answer))
    return deliveries


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


def pair_again(data_dir: Path, controller: Controller) -> PanelIdentity:
    """Return the panel's new identity after it paired again, as the player does once revoked.

    The player forgets the revoked token, makes a new key pair, and saves the new enrollment.
    """
    folder = identity_dir(data_dir)
    (folder / "token").unlink()
    public, secret = zmq.curve_keypair()
    write_secret(folder / "curve.secret", secret.decode())
    write_secret(folder / "curve.public", public.decode())
    controller.zap.allowed.add(public.decode())
    save_enrollment(data_dir, token="n" * 43, controller_key=controller.public_key)
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
