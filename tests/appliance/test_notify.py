"""systemd's notify protocol, as each program speaks it under a real $NOTIFY_SOCKET.

The controller, the player and the agent run as real processes; the test binds the datagram socket
systemd would, and reads READY=1, the watchdog pings and STOPPING=1 off it. The controller's rule that
it pings only while its database writer answers and its ingest lives is tested in-process, where the
writer can be held up on purpose.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest
from flask import Flask

from classcast import notify
from classcast.identity import ensure_identity, save_enrollment
from controller import notify as controller_notify
from controller.app import Services, create_app
from controller.ingest import TelemetryIngest, server_keys

from .conftest import NotifySocket, Proc, enroll, get_json, python, seed_room

WATCHDOG_S = 1.0  # WATCHDOG_USEC as a test sets it: pings every 0.5 s


def test_the_controller_says_ready_pings_its_watchdog_and_says_stopping(
    tmp_path: Path, spawn: Callable[..., Proc], notify_socket: NotifySocket
) -> None:
    controller = spawn(
        "controller", *python("controller"), "serve", "--data-dir", tmp_path / "controller",
        "--port", "0", "--telemetry-bind", "tcp://127.0.0.1:*", env=notify_socket.env(WATCHDOG_S),
    )  # fmt: skip
    url = controller.read_line("ClassCast controller: ")
    notify_socket.wait_for("READY=1")
    assert url in notify_socket.status()
    # Ready means ready: the web server answers by now.
    assert get_json(url + "/healthz")[0] == 200
    pings = notify_socket.wait_for("WATCHDOG=1", count=4, timeout=10)
    gaps = [later - earlier for earlier, later in zip(pings, pings[1:], strict=False)]
    assert all(gap < WATCHDOG_S for gap in gaps), f"pings further apart than WatchdogSec: {gaps}"
    assert controller.stop() == 0
    notify_socket.wait_for("STOPPING=1", timeout=5)


def test_the_player_is_ready_once_its_page_is_served_and_pings_while_unenrolled(
    tmp_path: Path, spawn: Callable[..., Proc], notify_socket: NotifySocket
) -> None:
    player = spawn(
        "player", *python("player"), "--data-dir", tmp_path / "panel",
        "--controller", "http://127.0.0.1:9", "--kiosk-port", "0", env=notify_socket.env(WATCHDOG_S),
    )  # fmt: skip
    kiosk = player.read_line("kiosk page: ")
    notify_socket.wait_for("READY=1")
    with urllib.request.urlopen(kiosk, timeout=5) as page:
        assert page.status == 200  # the kiosk browser's unit starts after READY=1: the page is there
    notify_socket.wait_for("WATCHDOG=1", count=3, timeout=10)
    assert player.stop() == 0
    notify_socket.wait_for("STOPPING=1", timeout=5)


def test_the_agent_pings_from_its_loop_and_its_heartbeats_report_the_spool(
    tmp_path: Path, spawn: Callable[..., Proc], notify_socket: NotifySocket
) -> None:
    """An enrolled agent shipping to a real controller: pinged from the poll loop, spool seen in /metrics."""
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    room = seed_room(data_dir)
    controller = spawn(
        "controller", *python("controller"), "serve", "--data-dir", data_dir,
        "--port", "0", "--telemetry-bind", "tcp://127.0.0.1:*",
    )  # fmt: skip
    url = controller.read_line("ClassCast controller: ")
    telemetry = controller.read_line("telemetry: ")
    credentials = enroll(spawn, data_dir, room, ensure_identity(panel_dir).public_key)
    save_enrollment(panel_dir, token=credentials["token"], controller_key=credentials["controller_key"])
    agent = spawn(
        "agent", *python("agent"), "--data-dir", panel_dir, "--telemetry", telemetry,
        "--heartbeat-interval", "0.3",
        env={**notify_socket.env(WATCHDOG_S), "CLASSCAST_AGENT_BATCH_MAX_WAIT": "0.1"},
    )  # fmt: skip
    notify_socket.wait_for("READY=1")
    notify_socket.wait_for("WATCHDOG=1", count=4, timeout=10)
    metrics = _wait_for_metric(url, "classcast_panels_reporting_spool 1.0")
    assert 'classcast_ingest_events_total{result="stored"}' in metrics
    assert agent.stop() == 0
    notify_socket.wait_for("STOPPING=1", timeout=5)


def _wait_for_metric(url: str, line: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        if line in text.splitlines():
            return text
        time.sleep(0.2)
    raise AssertionError(f"{line!r} never appeared in /metrics:\n{text}")


# --- in-process: which conditions stop the controller's pings -------------------------------------


@pytest.fixture
def serving(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """A controller app with its real ingest, reporting to the test's notify socket every 0.1 s."""
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    app: Flask = create_app({"data_dir": str(tmp_path / "controller")})
    svc = app.extensions["classcast"]
    svc.ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", server_keys(svc.data_dir)[1])
    svc.ingest.start()
    notify_socket.sock.setblocking(False)
    watchdog = controller_notify.serving(svc, "http://test")
    yield svc
    controller_notify.stopping(watchdog)
    svc.ingest.stop()
    svc.db.close()


def _pings_during(notify_socket: NotifySocket, seconds: float) -> int:
    """Return how many WATCHDOG=1 arrived in the next `seconds`, letting gevent run meanwhile."""
    pings, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pings += notify_socket.sock.recv(4096).decode().split("\n").count(notify.WATCHDOG)
        except BlockingIOError:
            gevent.sleep(0.01)
    return pings


def test_the_controller_withholds_pings_while_its_writer_is_stuck(
    serving: Services, notify_socket: NotifySocket
) -> None:
    assert _pings_during(notify_socket, 0.5) >= 3
    stuck = gevent.spawn(serving.db.write, lambda db: gevent.sleep(1.2))  # a transaction that hangs
    gevent.sleep(0.2)  # the ping already on its way may still arrive
    _pings_during(notify_socket, 0.2)
    assert _pings_during(notify_socket, 0.6) == 0
    stuck.join()
    assert _pings_during(notify_socket, 0.6) >= 2, "pings did not resume once the writer answered"


def test_the_controller_withholds_pings_once_its_ingest_died(
    serving: Services, notify_socket: NotifySocket
) -> None:
    assert _pings_during(notify_socket, 0.5) >= 3
    serving.ingest._stopping = True  # the ROUTER's thread ends, as an unexpected error would end it
    serving.ingest._router_job.wait(2)
    assert not serving.ingest.alive
    _pings_during(notify_socket, 0.2)
    assert _pings_during(notify_socket, 0.6) == 0


def test_notify_speaks_to_a_socket_on_a_path_and_is_silent_outside_systemd(socket_dir: Path) -> None:
    address = str(socket_dir / "n")  # a path socket, as systemd's /run/systemd/notify
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        assert notify.notify(notify.READY, "STATUS=hello", env={"NOTIFY_SOCKET": address})
        assert sock.recv(4096) == b"READY=1\nSTATUS=hello"
    assert not notify.notify(notify.READY, env={})
    assert notify.watchdog_interval({}) is None
    assert notify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert notify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
