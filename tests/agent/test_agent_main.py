"""`python -m agent` as a real process against a real controller end, and its command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.__main__ import main
from classcast.identity import save_enrollment
from classcast.protocol import FRAME_ACK, FRAME_ERROR
from tests.agent.controller_end import Controller, Delivery, enroll, pair_again, parse_batch, serve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[Any]:
    """Return a function that starts `python -m agent` on a data directory; its stderr goes to agent.log."""
    started: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path, endpoint: str, *args: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSCAST_AGENT_")}
        env |= {"PYTHONPATH": str(REPO), "CLASSCAST_AGENT_BATCH_MAX_WAIT": "0.2"}
        command = [sys.executable, "-m", "agent", "--data-dir", str(data_dir), "--telemetry", endpoint, *args]
        with open(tmp_path / "agent.log", "wb") as log:
            started.append(subprocess.Popen(command, stderr=log, env=env, cwd=tmp_path))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def _collect_events(controller: Controller, seconds: float) -> list[dict[str, Any]]:
    """Return the events the controller got within `seconds`, acking each batch."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        message = controller.recv(timeout=remaining)
        if message is None:
            break
        routing_id, frames = message
        batch = parse_batch(frames)
        events += batch["events"]
        ack = {"seq": batch["seq"], "stored": len(batch["events"]), "duplicates": 0, "rejected": []}
        controller.reply(routing_id, FRAME_ACK, ack)
    return events


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Return True as soon as `condition()` holds, False if it still does not after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(5)


def test_the_agent_ships_inventory_and_heartbeats(
    tmp_path: Path, controller: Controller, start_agent: Any
) -> None:
    data_dir = tmp_path / "panel"
    enroll(data_dir, controller)
    agent = start_agent(data_dir, controller.endpoint, "--heartbeat-interval", "0.5")

    events = _collect_events(controller, seconds=3.0)

    assert _stop(agent) == 0
    types = [event["type"] for event in events]
    assert types.count("inventory") == 1
    assert types.count("heartbeat") >= 3  # every 0.5 s for about 3 s, less start-up
    assert len({event["id"] for event in events}) == len(events)
    inventory = events[types.index("inventory")]
    assert inventory["data"]["agent_version"] and inventory["data"]["hostname"]
    heartbeat = events[-1]
    assert {"memory_used_bytes", "disk_free_bytes", "uptime_s", "cpu_percent"} <= heartbeat["data"].keys()
    # The loop adds its spool's state, so the controller sees a backlog build up before events are lost.
    assert heartbeat["data"]["spool_events"] >= 0 and heartbeat["data"]["spool_dropped"] == 0
    assert isinstance(heartbeat["clock_synced"], bool) and heartbeat["mono_time"] > 0
    log = (tmp_path / "agent.log").read_text()
    assert "SIGTERM received" in log and "Traceback" not in log


def test_the_agent_waits_until_the_panel_is_enrolled(
    tmp_path: Path, controller: Controller, start_agent: Any
) -> None:
    data_dir = tmp_path / "panel"
    agent = start_agent(data_dir, controller.endpoint)
    key_file = data_dir / "identity" / "curve.public"

    assert _wait_for(lambda: "waiting for this panel" in (tmp_path / "agent.log").read_text(), seconds=5)
    assert key_file.exists()
    assert controller.recv(timeout=0.2) is None  # nothing is sent before the panel has credentials

    controller.zap.allowed.add(key_file.read_text().strip())
    save_enrollment(data_dir, token="t" * 43, controller_key=controller.public_key)
    events = _collect_events(controller, seconds=3.0)  # the first look comes within 2 s

    assert {event["type"] for event in events} == {"inventory", "heartbeat"}
    assert _stop(agent) == 0


def test_a_bad_configuration_exits_2_with_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("heartbeat_interval = 0\n")

    assert main(["--config", str(config), "--data-dir", str(tmp_path)]) == 2
    assert main(["--heartbeat-interval", "often", "--data-dir", str(tmp_path)]) == 2

    stderr = capsys.readouterr().err
    assert "classcast-agent: heartbeat_interval: must be greater than 0" in stderr
    assert "classcast-agent: the command line: expected float, got 'often'" in stderr
    assert "Traceback" not in stderr


def _events_arrived(ids: list[str]) -> Callable[[list[Delivery]], bool]:
    """Return a test of deliveries: have all the events `ids` arrived?"""
    return lambda deliveries: set(ids) <= {i for delivery in deliveries for i in delivery.ids}


def test_a_revoked_panel_waits_for_new_credentials_then_ships_what_it_kept(
    tmp_path: Path, controller: Controller, start_agent: Any
) -> None:
    data_dir = tmp_path / "panel"
    old = enroll(data_dir, controller)
    agent = start_agent(data_dir, controller.endpoint, "--heartbeat-interval", "0.3")
    log = tmp_path / "agent.log"
    assert serve(controller, seconds=5, until=len)  # shipping as the old key; its first batch was acked

    controller.revoke(old.public_key)
    refused = serve(controller, seconds=5, until=len) or pytest.fail("no batch arrived after the revocation")
    handshakes = len(controller.zap.seen)  # before the agent can have read the answer
    assert refused[0].key == old.public_key and refused[0].answer == FRAME_ERROR
    assert _wait_for(lambda: "waiting for this panel to be paired again" in log.read_text(), seconds=5)
    # The revoked credentials are still on disk (the player has not yet forgotten them): they are not used.
    assert controller.recv(timeout=1.0) is None
    assert controller.zap.seen[handshakes:] == []

    new = pair_again(data_dir, controller)
    delivered = serve(controller, seconds=8, until=_events_arrived(refused[0].ids))

    assert _stop(agent) == 0
    assert {delivery.key for delivery in delivered} == {new.public_key}
    assert {delivery.answer for delivery in delivered} == {FRAME_ACK}
    assert _events_arrived(refused[0].ids)(delivered)  # the refused batch's events were kept, and arrive now
    assert old.public_key not in controller.zap.seen[handshakes:]
    text = log.read_text()
    revoked_lines = [line for line in text.splitlines() if "revoked" in line]
    assert len(revoked_lines) == 1 and "the controller revoked this panel's credentials" in revoked_lines[0]
    assert "Traceback" not in text


def test_new_credentials_on_disk_are_used_even_without_a_revoked_answer(
    tmp_path: Path, controller: Controller, start_agent: Any
) -> None:
    # Revoked while the controller restarted: the old key's handshake is refused in silence, no "revoked".
    data_dir = tmp_path / "panel"
    old = enroll(data_dir, controller)
    agent = start_agent(data_dir, controller.endpoint, "--heartbeat-interval", "0.3")
    assert serve(controller, seconds=5, until=len)
    controller.revoke(old.public_key)
    controller.stop()
    controller.start()
    assert controller.recv(timeout=1.0) is None

    paired_at = time.time()
    new = pair_again(data_dir, controller)
    delivered = serve(controller, seconds=20, until=len)  # the agent looks every ENROLLED_CHECK s

    assert _stop(agent) == 0
    assert delivered and delivered[0].key == new.public_key and delivered[0].answer == FRAME_ACK
    # The heartbeats made while no batch could go were kept, and are the first to arrive.
    assert delivered[0].batch["events"][0]["wall_time"] < paired_at
    assert "this panel's credentials changed" in (tmp_path / "agent.log").read_text()
