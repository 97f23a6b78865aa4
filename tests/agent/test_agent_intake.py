"""The intake: a real ROUTER over a real spool file, fed by a DEALER speaking for the player."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from agent.intake import Intake, usage_endpoint
from agent.spool import Spool
from classcast.protocol import FRAME_ACK, FRAME_EVENTS, USAGE_PROTOCOL

TIMEOUT_MS = 5000  # only ever waited out when the test fails
OUTBOX = "0123456789abcdef"


def usage_event(local_id: int, type: str = "shown", **overrides: Any) -> dict[str, Any]:
    """Return a usage event object as the player sends it."""
    data = {"source": "cast", "kind": "pdf", "lesson": True, "duration_s": 30.0, "part": local_id - 1}
    if type == "screen":
        data = {"on": False, "duration_s": 600.0, "part": 0, "reason": "schedule"}
    elif type == "recovery":
        data = {"action": "page_reload", "cause": "blank"}
    event = {
        "local_id": local_id,
        "type": type,
        "wall_time": 1763884790.0 + local_id,
        "mono_time": 5123.5 + local_id,
        "clock_synced": True,
        "boot": "fedcba9876543210",
        "data": data,
    }
    return event | overrides


class Agent:
    """The agent's end: an intake over the spool of `data_dir`, driven as the agent's loop drives it."""

    def __init__(self, context: zmq.Context, data_dir: Path, endpoint: str = "tcp://127.0.0.1:*") -> None:
        self.spool = Spool(data_dir)
        self.intake = Intake(context, self.spool, endpoint)

    def take(self) -> None:
        """Take what the player sent: at least one message."""
        assert self.intake.socket.poll(TIMEOUT_MS), "no message reached the intake"
        self.intake.receive()

    def answer(self, player: Player) -> dict[str, Any]:
        """Return the next ack `player` gets, taking the player's messages meanwhile."""
        poller = zmq.Poller()
        poller.register(self.intake.socket, zmq.POLLIN)
        poller.register(player.socket, zmq.POLLIN)
        while player.socket not in (ready := dict(poller.poll(TIMEOUT_MS))):
            assert ready, "no ack"
            self.intake.receive()
        return player.ack()

    def close(self) -> None:
        self.intake.close()
        self.spool.close()


class Player:
    """The player's end: a DEALER that sends messages and reads acks."""

    def __init__(self, context: zmq.Context, endpoint: str) -> None:
        self.socket = context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(endpoint)

    def send(self, events: list[Any], outbox: str = OUTBOX) -> None:
        body = json.dumps({"outbox": outbox, "events": events}).encode()
        self.socket.send_multipart([USAGE_PROTOCOL, FRAME_EVENTS, body])

    def ack(self) -> dict[str, Any]:
        assert self.socket.poll(TIMEOUT_MS), "no ack"
        protocol, kind, body = self.socket.recv_multipart()
        assert (protocol, kind) == (USAGE_PROTOCOL, FRAME_ACK)
        return json.loads(body)


@pytest.fixture
def context() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.term()


@pytest.fixture
def agent(context: zmq.Context, panel_dir: Path) -> Iterator[Agent]:
    agent = Agent(context, panel_dir)
    yield agent
    agent.close()


@pytest.fixture
def player(context: zmq.Context, agent: Agent) -> Iterator[Player]:
    player = Player(context, agent.intake.endpoint)
    yield player
    player.socket.close()


def spooled(data_dir: Path) -> list[dict[str, Any]]:
    """Return what is committed to the spool of `data_dir`, read through a spool of its own."""
    with Spool(data_dir) as spool:
        return spool.peek(1000)


def test_events_are_committed_to_the_spool_then_acked(agent: Agent, player: Player, panel_dir: Path) -> None:
    player.send([usage_event(1), usage_event(2, "screen"), usage_event(3, "recovery")])

    assert agent.answer(player) == {"ids": [1, 2, 3], "rejected": []}
    events = spooled(panel_dir)  # another connection: the ack came after the commit
    assert [(e["type"], e["data"]) for e in events] == [
        ("shown", usage_event(1)["data"]),
        ("screen", usage_event(2, "screen")["data"]),
        ("recovery", usage_event(3, "recovery")["data"]),
    ]
    assert events[1]["wall_time"] == 1763884792.0
    assert events[1]["mono_time"] == 5125.5
    assert events[1]["clock_synced"] is True
    assert events[1]["boot"] == "fedcba9876543210"
    assert agent.spool.meta(f"usage:{OUTBOX}") == "3"


def test_a_repeat_is_acked_but_spooled_once_even_across_a_restart(
    context: zmq.Context, agent: Agent, player: Player, panel_dir: Path
) -> None:
    player.send([usage_event(1), usage_event(2)])
    assert agent.answer(player)["ids"] == [1, 2]
    player.send([usage_event(1), usage_event(2)])  # its ack was lost, say
    assert agent.answer(player)["ids"] == [1, 2]
    agent.close()

    again = Agent(context, panel_dir)  # the agent restarted
    try:
        late = Player(context, again.intake.endpoint)
        late.send([usage_event(1), usage_event(2), usage_event(3)])  # the batch as it stands now
        assert again.answer(late) == {"ids": [1, 2, 3], "rejected": []}
        late.socket.close()
    finally:
        again.close()

    assert [e["data"]["part"] for e in spooled(panel_dir)] == [0, 1, 2]


def test_each_outbox_is_counted_on_its_own(agent: Agent, player: Player, panel_dir: Path) -> None:
    player.send([usage_event(5)])
    agent.answer(player)
    player.send([usage_event(1)], outbox="another-outbox")  # the player's outbox file was made anew

    assert agent.answer(player)["ids"] == [1]
    assert len(spooled(panel_dir)) == 2


def test_bad_events_are_rejected_and_settled_and_their_neighbours_kept(
    agent: Agent, player: Player, panel_dir: Path
) -> None:
    shown = usage_event(1)["data"]
    player.send(
        [
            usage_event(1),
            usage_event(2, type="heartbeat"),  # an event, but not the player's to send
            usage_event(3, data=shown | {"process": "firefox"}),
            usage_event(4, data=shown | {"duration_s": "long"}),
            usage_event(5, data=shown | {"part": True}),
            usage_event(6, data=shown | {"kind": "spreadsheet"}),
            usage_event(7, wall_time=None),
            usage_event(8, data=shown | {"sha256": "x" * 20000}),
            {"type": "shown"},  # no local id: it cannot even be acked
            usage_event(9, "screen"),
            # The outbox's own notice of events it dropped: without sequence numbers, which would
            # name the spool's events, and with its own reason only.
            usage_event(10, "dropped", data={"count": 4, "reason": "outbox_full"}),
            usage_event(
                11, "dropped", data={"count": 4, "first_seq": 1, "last_seq": 4, "reason": "outbox_full"}
            ),
            usage_event(12, "dropped", data={"count": 4, "reason": "full"}),
        ]
    )

    ack = agent.answer(player)
    assert ack["ids"] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert ack["rejected"] == [
        {"id": 2, "error": "unknown_type"},
        {"id": 3, "error": "unknown_field"},
        {"id": 4, "error": "bad_value"},
        {"id": 5, "error": "bad_value"},
        {"id": 6, "error": "bad_value"},
        {"id": 7, "error": "bad_event"},
        {"id": 8, "error": "too_large"},
        {"id": 11, "error": "bad_value"},
        {"id": 12, "error": "bad_value"},
    ]
    assert [e["type"] for e in spooled(panel_dir)] == ["shown", "screen", "dropped"]


def test_a_message_that_cannot_be_read_is_ignored(agent: Agent, player: Player, panel_dir: Path) -> None:
    player.socket.send_multipart([USAGE_PROTOCOL, FRAME_EVENTS, b"not json"])
    player.socket.send_multipart([b"classcast.telemetry/1", FRAME_EVENTS, b"{}"])
    player.send([])
    player.send([usage_event(1)])

    assert agent.answer(player)["ids"] == [1]  # the first answer is the good one's: the others had none
    assert len(spooled(panel_dir)) == 1


def test_no_ack_until_the_spool_can_commit_and_no_duplicate_then(
    agent: Agent, player: Player, panel_dir: Path
) -> None:
    # A full disk, as SQLite reports it: the database may not grow by a page.
    db = agent.spool._db  # private, but the edge of the world: there is no full disk to hand
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    batch = [usage_event(n) for n in range(1, 41)]
    player.send(batch)
    agent.take()
    player.send(batch)  # sent again: no ack came
    agent.take()
    assert spooled(panel_dir) == []

    db.execute("PRAGMA max_page_count = 1073741823")  # space again
    player.send([*batch, usage_event(41)])  # the batch as it stands now

    assert agent.answer(player)["ids"] == list(range(1, 42))  # the first ack: the failed ones had none
    assert [e["data"]["part"] for e in spooled(panel_dir)] == list(range(41))


def test_the_default_endpoint_is_a_socket_in_the_data_directory(context: zmq.Context) -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket's path has at most 107 bytes
        data_dir = Path(short)
        endpoint = usage_endpoint("", data_dir)
        assert endpoint == f"ipc://{data_dir}/usage.sock"
        agent = Agent(context, data_dir, endpoint)
        player = Player(context, endpoint)
        try:
            player.send([usage_event(1)])
            assert agent.answer(player)["ids"] == [1]
        finally:
            player.socket.close()
            agent.close()
    assert usage_endpoint("tcp://127.0.0.1:5557", data_dir) == "tcp://127.0.0.1:5557"
