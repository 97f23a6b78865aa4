"""Telemetry through faults: every event made is stored once, dropped and said so, or still waiting.

Real processes for the controller and the agent, the player's real outbox in this process, a relay of
our own on the wire between agent and controller, a tmpfs in a private mount namespace for a full
disk. Each test ends with the tally: produced = stored + dropped + still spooled (for the agent's
spool) and, for the usage events the outbox recorded, stored + dropped + still in the spool or the
outbox; and no event stored twice. The clock and junk tests run in this process, over a real spool,
a real shipper, real CURVE ZeroMQ and the controller's real ingest on a real SQLite file.
"""

from __future__ import annotations

import json
import pickle
import random
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import pytest
import zmq
import zmq.green as zmq_green
from zmq.utils.monitor import recv_monitor_message

from agent.clock import Stamp, boot_id
from agent.shipper import Shipper
from agent.spool import Spool
from classcast.events import Shown
from classcast.identity import load_identity
from classcast.protocol import FRAME_ACK, FRAME_BATCH, FRAME_ERROR, MAX_BATCH_BYTES, TELEMETRY_PROTOCOL
from controller.app import Services, create_app
from controller.ingest import TelemetryIngest, server_keys

from .telemetry_faults import (
    AGENT_TIMINGS,
    DEADLINE_S,
    OUTBOX_CAP,
    Controller,
    Processes,
    Relay,
    Rig,
    TinyDisk,
    alive,
    enroll_panels,
    kill,
    seed_controller,
    spool_contents,
    spool_meta,
    start_controller,
    stop,
    stored_events,
    stored_twice,
    tally,
    wait_for,
)

FLEET = 5  # panels enrolled with the shared controller, one per test that does not kill it
YEAR = 365.25 * 86400
OVERSIZED = [TELEMETRY_PROTOCOL, FRAME_BATCH, b"x" * (MAX_BATCH_BYTES + 8192)]  # over the maxmsgsize


@dataclass
class Fleet:
    controller: Controller
    free: list[tuple[int, Path]]  # (panel id, data dir) of the panels no test has used yet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One controller process for the tests that do not kill it; each test takes a panel of its own."""
    base = tmp_path_factory.mktemp("fleet")
    panel_dirs = [base / f"panel-{n}" for n in range(FLEET)]
    panel_ids = seed_controller(base / "controller", panel_dirs)
    processes = Processes(base)
    try:
        controller = start_controller(processes, base / "controller")
        yield Fleet(controller, list(zip(panel_ids, panel_dirs, strict=True)))
    finally:
        processes.stop_all()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def make_rig(processes: Processes, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Return a factory of rigs (a panel of a controller's database, its player's outbox, its agents)."""
    made: list[Rig] = []

    def make(db_path: Path, panel_id: int, panel_dir: Path, **options: Any) -> Rig:
        made.append(Rig(processes, db_path, panel_id, panel_dir, tmp_path / "player", **options))
        return made[-1]

    yield make
    for rig in made:
        rig.close()


@pytest.fixture
def rig(fleet: Fleet, make_rig: Callable[..., Rig]) -> Rig:
    """A panel of the shared controller that no other test uses."""
    return make_rig(fleet.controller.db_path, *fleet.free.pop())


@pytest.fixture
def relay_to() -> Iterator[Callable[[str], Relay]]:
    """Return a factory of relays to a controller's telemetry endpoint; each is closed at the end."""
    made: list[Relay] = []

    def make(upstream: str) -> Relay:
        made.append(Relay(upstream))
        return made[-1]

    yield make
    for relay in made:
        relay.close()


def duplicates_seen(controller: Controller) -> float:
    """Return how many events the controller received again and ignored, from its /metrics."""
    with urllib.request.urlopen(controller.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(r'^classcast_ingest_events_total\{result="duplicate"\} (\S+)$', text, re.MULTILINE)
    assert match, "no duplicate counter in /metrics"
    return float(match.group(1))


def test_controller_killed_between_commit_and_ack_loses_and_doubles_nothing(
    tmp_path: Path, processes: Processes, make_rig: Callable[..., Rig], relay_to: Callable[[str], Relay]
) -> None:
    controller_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    [panel_id] = seed_controller(controller_dir, [panel_dir])
    controller = start_controller(processes, controller_dir, "controller-1")
    relay = relay_to(controller.telemetry)
    rig = make_rig(controller.db_path, panel_id, panel_dir)
    rig.produce()
    agent = rig.start_agent(relay.endpoint)
    wait_for(lambda: rig.stored_usage() >= 20, "usage events to reach the controller")

    # The controller acks only after its commit: an ack held back is a batch committed that the agent
    # does not know of. The controller dies then, between its commit and the agent's ack.
    relay.stall_acks()
    wait_for(lambda: relay.held_back, "an ack to be held back")
    kill(controller.proc)
    wait_for(lambda: not relay.links, "the relay to see the controller's connections die")
    relay.heal()
    gevent.sleep(0.5)  # down for a while: the agent's reconnections are refused meanwhile
    restarted = start_controller(processes, controller_dir, "controller-2")
    relay.upstream = restarted.telemetry

    wait_for(lambda: duplicates_seen(restarted) > 0, "the batch whose ack was lost to come again")
    rig.finish(agent)
    stop(restarted.proc)


def test_agent_killed_at_twenty_random_points_loses_and_doubles_nothing(fleet: Fleet, rig: Rig) -> None:
    rig.produce(interval=0.005)
    chance = random.Random(6)  # issue 6: the same twenty points on every run
    for _ in range(20):
        agent = rig.start_agent(fleet.controller.telemetry)
        gevent.sleep(chance.uniform(0.05, 1.0))
        alive(agent)  # killed, not dead of itself
        kill(agent)
    agent = rig.start_agent(fleet.controller.telemetry)

    stream, _ = rig.finish(agent)
    assert stream.dropped == 0


def test_a_partition_longer_than_every_timeout_and_backoff_cap_heals_without_loss(
    fleet: Fleet, rig: Rig, relay_to: Callable[[str], Relay]
) -> None:
    relay = relay_to(fleet.controller.telemetry)
    rig.produce()
    agent = rig.start_agent(relay.endpoint)
    wait_for(lambda: rig.stored_usage() >= 20, "usage events to reach the controller")

    relay.partition()  # connections open, nothing forwarded, new connections not answered
    gevent.sleep(4 * max(float(AGENT_TIMINGS["ack_timeout"]), float(AGENT_TIMINGS["retry_max"]), OUTBOX_CAP))
    relay.heal()

    rig.finish(agent)
    log = agent.log_text()
    assert "no ack within" in log, "the agent never noticed the partition"
    assert "failed attempts" in log, "the agent never said it got through again"


def test_a_lost_ack_brings_the_batch_again_and_it_is_stored_once(
    fleet: Fleet, rig: Rig, relay_to: Callable[[str], Relay]
) -> None:
    relay = relay_to(fleet.controller.telemetry)
    rig.produce()
    agent = rig.start_agent(relay.endpoint)
    wait_for(lambda: rig.stored_usage() >= 20, "usage events to reach the controller")
    duplicates = duplicates_seen(fleet.controller)

    relay.lose_acks(1)
    wait_for(lambda: relay.lost == 1, "an ack to be lost")
    wait_for(lambda: duplicates_seen(fleet.controller) > duplicates, "the unacked batch to come again")

    rig.finish(agent)


def test_a_full_spool_drops_the_oldest_and_the_controller_is_told(
    fleet: Fleet, rig: Rig, relay_to: Callable[[str], Relay]
) -> None:
    relay = relay_to(fleet.controller.telemetry)
    relay.partition()  # the controller out of reach from the start: the spool only fills
    agent = rig.start_agent(relay.endpoint, spool_max_bytes=20_000)
    rig.produce(interval=0.005)
    wait_for(lambda: int(spool_meta(rig.panel_dir, "dropped") or 0) >= 100, "the spool to overflow")
    relay.heal()

    stream, _ = rig.finish(agent)
    assert stream.dropped >= 100
    assert stream.dropped_told == stream.dropped, (
        f"the spool dropped {stream.dropped} events, but its `dropped` events tell of {stream.dropped_told}"
    )


def test_a_full_disk_keeps_usage_events_in_the_outbox_until_there_is_room(
    fleet: Fleet, make_rig: Callable[..., Rig], processes: Processes, tmp_path: Path
) -> None:
    # The usage socket outside the tmpfs: the player, in this process, must reach it.
    panel_id, panel_dir = fleet.free.pop()
    rig = make_rig(
        fleet.controller.db_path, panel_id, panel_dir, usage_endpoint=f"ipc://{tmp_path}/usage.sock"
    )
    disk = TinyDisk(processes, tmp_path / "disk", size=8 * 1024 * 1024, seed=panel_dir)
    rig.produce(interval=0.02)
    agent = rig.start_agent(fleet.controller.telemetry, wrap=disk.argv, data_dir=disk.mount_point)
    wait_for(lambda: rig.stored_usage() >= 1, "usage events to reach the controller")
    # Filled while the spool's write-ahead log still grows: SQLite reuses a log that has reached its
    # full size (1000 pages) in place, and would go on committing on a full disk.
    wal = (disk.path / "spool.sqlite-wal").stat().st_size
    assert wal < 1000 * 4096, (
        f"the spool's write-ahead log is full-grown ({wal} bytes): no test of a full disk"
    )
    disk.fill()
    assert rig.outbox is not None
    backlog = rig.outbox.depth()
    wait_for(lambda: rig.outbox.depth() >= backlog + 50, "usage events to wait in the outbox, unacked")
    alive(agent)
    disk.free()

    rig.finish(agent, spool_dir=lambda: disk.copy_out(tmp_path / "spool-copy"))
    assert "cannot commit usage events to the spool" in agent.log_text()


# --- in this process: the panel's clock, and what else arrives on the wire -------------------------


@dataclass
class Live:
    """The controller's ingest on a real database, and panels enrolled with it, in this process."""

    svc: Services
    ingest: TelemetryIngest
    context: zmq.Context  # the panels', as in the agent's own process
    panel_ids: list[int]
    panel_dirs: list[Path]

    @property
    def db_path(self) -> Path:
        return self.svc.db.path

    def dealer(self, public: str, secret: str) -> zmq_green.Socket:
        """Return a DEALER with these CURVE keys, connected to the ingest (greened: it runs beside it)."""
        sock = self.ingest.context.socket(zmq.DEALER)
        sock.linger = 0
        sock.curve_publickey, sock.curve_secretkey = public.encode(), secret.encode()
        sock.curve_serverkey = server_keys(self.svc.data_dir)[0].encode()
        sock.connect(self.ingest.endpoint)
        return sock


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    controller_dir = tmp_path / "controller"
    svc = create_app({"data_dir": str(controller_dir)}).extensions["classcast"]
    panel_dirs = [tmp_path / "panel-a", tmp_path / "panel-b"]
    panel_ids = enroll_panels(svc.db, controller_dir, panel_dirs)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", server_keys(controller_dir)[1])
    ingest.start()
    context = zmq.Context()
    try:
        yield Live(svc, ingest, context, panel_ids, panel_dirs)
    finally:
        ingest.stop()
        context.term()
        svc.db.close()


class Panel:
    """Panel A's spool and a real shipper, driven as the agent's loop drives them."""

    def __init__(self, live: Live, data_dir: Path, **options: Any) -> None:
        self.live, self.data_dir = live, data_dir
        self.spool = Spool(data_dir)
        timings = {"batch_max_wait": 0.0, "ack_timeout": 0.4, "retry_min": 0.05, "retry_max": 0.3} | options
        identity = load_identity(live.panel_dirs[0])
        self.shipper = Shipper(live.context, identity, self.spool, endpoint=live.ingest.endpoint, **timings)
        self.made = 0

    def record(self, when: Stamp | None = None) -> str:
        """Return the id of a new event in the spool, not yet shipped."""
        self.made += 1
        return self.spool.append(shown(self.made), when=when)

    def flow(self, what: str, count: int = 10) -> None:
        """Record `count` events and ship them."""
        for _ in range(count):
            self.record()
        self.ship(what)

    def ship(self, what: str) -> None:
        """Run the shipper until every event is settled with the controller."""
        deadline = time.monotonic() + DEADLINE_S
        while self.spool.depth() or self.shipper.in_flight:
            assert time.monotonic() < deadline, f"the spool was not shipped within {DEADLINE_S:g} s ({what})"
            self.shipper.step(time.monotonic())
            self.shipper.receive()
            gevent.sleep(0.005)  # the ingest's greenlets run meanwhile

    def check(self) -> None:
        """Fail unless the tally holds: made = stored + dropped + still spooled, none stored twice."""
        self.spool.flush()  # the deletions of acked events
        contents = spool_contents(self.data_dir)
        assert contents.last_seq == self.made
        tally(self.live.db_path, self.live.panel_ids[0], contents).check()
        assert not stored_twice(self.live.db_path)

    def close(self) -> None:
        self.shipper.close()
        self.spool.close()


@pytest.fixture
def make_panel(live: Live, tmp_path: Path) -> Iterator[Callable[..., Panel]]:
    made: list[Panel] = []

    def make(**options: Any) -> Panel:
        made.append(Panel(live, tmp_path / "agent", **options))
        return made[-1]

    yield make
    for panel in made:
        panel.close()


def shown(n: int) -> Shown:
    return Shown(source="schedule", kind="image", lesson=False, duration_s=60.0, part=0, cast_id=n)


@pytest.mark.parametrize("jump", [3 * YEAR, -2 * 3600.0], ids=["plus-3-years", "minus-2-hours"])
def test_a_jump_of_the_panels_clock_is_corrected_by_the_controller(
    live: Live, make_panel: Callable[..., Panel], jump: float
) -> None:
    shift = 0.0  # the panel's wall clock less the true time; never synchronised
    boot = boot_id() or "0123456789abcdef"

    def panel_clock() -> Stamp:
        return Stamp(time.time() + shift, time.monotonic(), False, boot)

    panel = make_panel(clock=panel_clock)
    truth: dict[str, tuple[float, float]] = {}  # event id: (true time, the panel's clock's error)

    def record(count: int) -> None:
        for _ in range(count):
            truth[panel.record(when=panel_clock())] = (time.time(), shift)
            gevent.sleep(0.01)

    record(5)
    panel.ship("before the jump")
    record(5)  # made before the jump, sent after it
    shift = jump
    record(10)
    panel.ship("after the jump")

    panel.check()
    rows = live.svc.db.read.execute(
        "SELECT event_id, wall_time, panel_wall_time FROM telemetry_event WHERE panel_id = ?",
        [live.panel_ids[0]],
    ).fetchall()
    assert {event_id for event_id, _, _ in rows} == set(truth)
    for event_id, wall_time, panel_wall_time in rows:
        true_time, error = truth[event_id]
        assert abs(wall_time - true_time) < 5, (event_id, wall_time - true_time)
        assert abs(panel_wall_time - true_time - error) < 1, (event_id, panel_wall_time - true_time)


def test_a_panel_keeps_flowing_while_strangers_and_another_panel_send_junk(
    live: Live, make_panel: Callable[..., Panel]
) -> None:
    panel = make_panel()
    panel.flow("at first")

    stranger = live.dealer(*(key.decode() for key in zmq.curve_keypair()))
    stranger.send_multipart(batch(1, [event("f00d:1")]))
    panel.flow("while a stranger knocks")
    assert not stranger.poll(100), "a stranger got an answer"
    stranger.close()

    b = load_identity(live.panel_dirs[1])
    other = live.dealer(b.public_key, b.secret_key)
    junk = [
        ([TELEMETRY_PROTOCOL, FRAME_BATCH, pickle.dumps({"seq": 1, "events": []})], "bad_batch"),
        ([b"classcast.telemetry/1\x00", FRAME_BATCH, b"{}"], "unsupported_version"),
        ([TELEMETRY_PROTOCOL, FRAME_BATCH, b'{"seq": 2, "events": {"a": 1}}'], "bad_batch"),
    ]
    for frames, code in junk:
        kind, error = exchange(other, frames)
        assert (kind, error["error"]) == (FRAME_ERROR, code), frames
        panel.flow(f"after {code} from another panel")

    # Keys nobody knows, in a batch and in an event: the batch is read, the event refused.
    unknown_keys = {"seq": 3, "events": [event("b0b:1"), event("b0b:2", colour="red")], "priority": "high"}
    kind, ack = exchange(other, [TELEMETRY_PROTOCOL, FRAME_BATCH, json.dumps(unknown_keys).encode()])
    assert kind == FRAME_ACK, ack
    assert (ack["stored"], [r["error"] for r in ack["rejected"]]) == (1, ["bad_event"])

    # Over the ROUTER's maxmsgsize: libzmq drops the message by closing that connection.
    other.send_multipart(OVERSIZED)
    panel.flow("after another panel's oversized frame")
    kind, ack = resend_until_answered(other, batch(4, [event("b0b:3")]))
    assert (kind, ack["stored"]) == (FRAME_ACK, 1), "the other panel did not get through again"
    other.close()

    panel.check()
    other_panel = {event_id for event_id, _, _ in stored_events(live.db_path, live.panel_ids[1])}
    assert other_panel == {"b0b:1", "b0b:3"}


def test_a_panel_whose_oversized_frame_cut_its_connection_connects_again_and_loses_nothing(
    make_panel: Callable[..., Panel],
) -> None:
    panel = make_panel()
    connection = Connection(panel.shipper.socket)
    try:
        panel.flow("at first")
        panel.record()
        panel.shipper.step(time.monotonic())  # a batch in flight: its ack may be lost with the connection
        panel.shipper.socket.send_multipart(OVERSIZED)  # on its own connection
        panel.flow("after its oversized frame")
        wait_for(connection.reconnected, "the panel to be disconnected and to connect again")
        panel.flow("once connected again")
    finally:
        connection.monitor.close()
    panel.check()


def event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "heartbeat",
        "wall_time": time.time(),
        "mono_time": time.monotonic(),
        "clock_synced": True,
        "data": {"cpu_percent": 3.5},
        **extra,
    }


def batch(seq: int, events: list[dict[str, Any]]) -> list[bytes]:
    body = {"seq": seq, "sent_at": time.time(), "events": events}
    return [TELEMETRY_PROTOCOL, FRAME_BATCH, json.dumps(body).encode()]


def exchange(sock: zmq_green.Socket, frames: list[bytes]) -> tuple[bytes, dict[str, Any]]:
    sock.send_multipart(frames)
    with gevent.Timeout(10):
        protocol, kind, body = sock.recv_multipart()
    assert protocol == TELEMETRY_PROTOCOL
    return kind, json.loads(body)


def resend_until_answered(sock: zmq_green.Socket, frames: list[bytes]) -> tuple[bytes, dict[str, Any]]:
    """Return the answer to `frames`, sent again every half second as an agent would, until one comes."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sock.send_multipart(frames)
        if sock.poll(500):
            protocol, kind, body = sock.recv_multipart()
            return kind, json.loads(body)
    raise AssertionError("no answer within 10 s")


class Connection:
    """What happens to a socket's connection, as its monitor reports it: handshakes and disconnections."""

    def __init__(self, sock: zmq.Socket) -> None:
        self.monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.events: list[int] = []

    def reconnected(self) -> bool:
        """Return True once the connection was lost and a new one made."""
        while self.monitor.poll(0):
            self.events.append(recv_monitor_message(self.monitor)["event"])
        lost = self.events.index(zmq.EVENT_DISCONNECTED) if zmq.EVENT_DISCONNECTED in self.events else None
        return lost is not None and zmq.EVENT_HANDSHAKE_SUCCEEDED in self.events[lost:]
