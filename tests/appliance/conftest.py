"""Real things for the appliance tests: processes, a systemd notify socket, a seeded controller database.

`notify_socket` is what systemd gives a `Type=notify` service: an AF_UNIX datagram socket, here in the
abstract namespace (no path-length limit, nothing left on disk), whose address goes to the program in
$NOTIFY_SOCKET. The programs run as real processes, started with `spawn`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def read_line(self, prefix: str, timeout: float = 30) -> str:
        """Return the rest of the first stdout line that starts with `prefix`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline().decode()
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
            if not line and self.popen.poll() is not None:
                break
        raise AssertionError(f"{self.name} never printed {prefix!r}; its log:\n{self.log_text()}")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start a command as a real process (stdout piped, stderr to a log); each is stopped at the end."""
    started: list[Proc] = []

    def start(name: str, *argv: str | Path, env: dict[str, str] | None = None) -> Proc:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as stderr:
            popen = subprocess.Popen(
                [str(arg) for arg in argv],
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
            )
        proc = Proc(name, popen, log)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()
        if proc.popen.stdout:
            proc.popen.stdout.close()


def python(module: str) -> list[str]:
    return [sys.executable, "-m", module]


@dataclass
class NotifySocket:
    """The receiving end of sd_notify: every datagram a program sent, in order."""

    sock: socket.socket
    address: str  # as $NOTIFY_SOCKET spells it
    received: list[str] = field(default_factory=list)

    def env(self, watchdog_s: float | None = None) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": self.address}
        if watchdog_s is not None:
            env["WATCHDOG_USEC"] = str(int(watchdog_s * 1_000_000))
        return env

    def wait_for(self, field_: str, count: int = 1, timeout: float = 30) -> list[float]:
        """Return the arrival times of the first `count` messages carrying `field_` (e.g. WATCHDOG=1)."""
        arrivals: list[float] = []
        deadline = time.monotonic() + timeout
        while len(arrivals) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{count}× {field_} not received in {timeout} s; got {self.received}")
            self.sock.settimeout(remaining)
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.received.append(message)
            if field_ in message.split("\n"):
                arrivals.append(time.monotonic())
        return arrivals

    def status(self) -> str:
        """Return the last STATUS= text received."""
        lines = [line for message in self.received for line in message.split("\n")]
        return next((line[7:] for line in reversed(lines) if line.startswith("STATUS=")), "")


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    name = f"classcast-test-notify-{secrets.token_hex(8)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    yield NotifySocket(sock, "@" + name)
    sock.close()


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A folder with a short path for AF_UNIX sockets (108 bytes at most; pytest's tmp_path may be longer)."""
    folder = Path(tempfile.mkdtemp(prefix="cc-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def get_json(url: str, timeout: float = 10) -> tuple[int, Any]:
    """Return the status and JSON body of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def seed_room(data_dir: Path) -> int:
    """Return the id of a room in a new school, written to the controller database in `data_dir`."""
    from controller.app import create_app
    from controller.store import orgs

    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> int:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(db, municipality, "Школа № 3", "СОШ № 3")
        return orgs.create_room(db, school, "Кабинет 3")

    room = svc.db.write(build)
    svc.db.close()
    return room


def enroll(spawn: Callable[..., Proc], data_dir: Path, room: int, public_key: str) -> dict[str, Any]:
    """Return the credentials `classcast-controller enroll-panel` (a real process) prints."""
    # --public-key=…: a Z85 key may begin with "-", which argparse would take for an option
    proc = spawn(
        "enroll", *python("controller"), "enroll-panel", "--data-dir", data_dir,
        "--room-id", str(room), "--name", "Панель 3", f"--public-key={public_key}",
    )  # fmt: skip
    assert proc.popen.wait(60) == 0, proc.log_text()
    return json.loads(proc.popen.stdout.read())
