"""The usage outbox: real SQLite files, and the agent's real intake and spool over a real ipc socket.

The outbox runs on gevent in the test's thread, as in the player; the agent runs in a thread of its
own with plain pyzmq, as in its own process. They share a data directory, as on a panel.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import zmq

from agent.intake import Intake, usage_endpoint
from agent.spool import Spool
from classcast.events import Heartbeat, Recovery, Screen, Shown
from player.usage import UsageOutbox

TIMEOUT = 10.0  # only ever waited out when the test fails
TIMINGS = {"ack_timeout": 0.2, "retry_min": 0.02, "retry_max": 0.1}


class Agent:
    """The agent's end: its spool and intake over `data_dir`, in a thread, as the agent's loop runs them.

    With `gate` cleared the agent leaves the player's messages waiting and sets `waiting`.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.gate, self.waiting = threading.Event(), threading.Event()
        self.gate.set()
        self._ready, self._stopping = threading.Event(), threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(TIMEOUT)

    def _run(self) -> None:
        context = zmq.Context()
        try:
            with Spool(self.data_dir) as spool:
                intake = Intake(context, spool, usage_endpoint("", self.data_dir))
                self._ready.set()
                try:
                    while not self._stopping.is_set():
                        if intake.socket.poll(20) and not self.gate.is_set():
                            self.waiting.set()
                            self.gate.wait(0.02)
                        elif self.gate.is_set():
                            intake.receive()
                finally:
                    intake.close()
        except BaseException as exc:  # re-raised in the test by stop()
            self._error = exc
        finally:
            self._ready.set()
            context.term()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket's path has at most 107 bytes
        yield Path(short)


@pytest.fixture
def make_outbox(data_dir: Path) -> Iterator[Callable[..., UsageOutbox]]:
    outboxes: list[UsageOutbox] = []

    def make(**options: Any) -> UsageOutbox:
        outboxes.append(UsageOutbox(data_dir, **(TIMINGS | options)))
        return outboxes[-1]

    yield make
    for outbox in outboxes:
        outbox.close()


@pytest.fixture
def agents(data_dir: Path) -> Iterator[list[Agent]]:
    """Return the list of agents a test started, each stopped at its end if it is not yet."""
    started: list[Agent] = []
    yield started
    for agent in started:
        agent.stop()


def wait_for(condition: Callable[[], bool]) -> None:
    """Return once `condition` holds, the player's greenlets running meanwhile."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.005)


def spooled(data_dir: Path) -> list[dict[str, Any]]:
    """Return the events committed to the agent's spool (which must be stopped)."""
    with Spool(data_dir) as spool:
        return spool.peek(1000)


def spooled_by(agent: Agent) -> list[tuple[str]]:
    """Return the bodies committed to the running agent's spool, read by a connection of the test's own."""
    db = sqlite3.connect(agent.data_dir / "spool.sqlite")
    try:
        return db.execute("SELECT body FROM events").fetchall()
    finally:
        db.close()


def shown(part: int) -> Shown:
    return Shown(source="schedule", kind="image", lesson=False, duration_s=300.0, part=part)


def test_recorded_events_reach_the_agents_spool(
    make_outbox: Callable[..., UsageOutbox], agents: list[Agent], data_dir: Path
) -> None:
    outbox = make_outbox()
    outbox.record(shown(0))
    outbox.record(Screen(on=False, duration_s=60.0, part=0, reason="command"))
    outbox.record(Recovery(action="browser_restart", cause="hung"))
    on_disk = sqlite3.connect(data_dir / "usage-outbox.sqlite")  # committed when record returned
    assert on_disk.execute("SELECT count(*) FROM events").fetchone() == (3,)
    on_disk.close()

    agents.append(Agent(data_dir))
    outbox.start()
    wait_for(lambda: outbox.depth() == 0)  # acked: committed to the spool
    agents.pop().stop()

    events = spooled(data_dir)
    assert [(e["type"], e["data"]) for e in events] == [
        ("shown", {"source": "schedule", "kind": "image", "lesson": False, "duration_s": 300.0, "part": 0}),
        ("screen", {"on": False, "duration_s": 60.0, "part": 0, "reason": "command"}),
        ("recovery", {"action": "browser_restart", "cause": "hung"}),
    ]
    assert all(isinstance(e["boot"], str) and isinstance(e["clock_synced"], bool) for e in events)
    assert events[0]["wall_time"] <= events[2]["wall_time"] <= time.time()
    assert events[0]["mono_time"] <= events[2]["mono_time"] <= time.monotonic()


def test_an_agent_restart_loses_nothing_and_duplicates_nothing(
    make_outbox: Callable[..., UsageOutbox], agents: list[Agent], data_dir: Path
) -> None:
    outbox = make_outbox()
    agents.append(Agent(data_dir))
    outbox.start()
    for part in range(3):
        outbox.record(shown(part))
    wait_for(lambda: outbox.depth() == 0)
    agents.pop().stop()

    for part in range(3, 250):  # while the agent is away: more than two batches
        outbox.record(shown(part))
    wait_for(lambda: outbox.failures >= 2)
    agents.append(Agent(data_dir))  # back, over the same spool
    wait_for(lambda: outbox.depth() == 0)
    agents.pop().stop()

    assert [e["data"]["part"] for e in spooled(data_dir)] == list(range(250))


def test_a_batch_whose_ack_is_late_is_sent_again_and_spooled_once(
    make_outbox: Callable[..., UsageOutbox], agents: list[Agent], data_dir: Path
) -> None:
    agent = Agent(data_dir)
    agents.append(agent)
    agent.gate.clear()  # the agent is busy: the outbox's copies wait in its socket
    outbox = make_outbox()
    outbox.start()
    for part in range(5):
        outbox.record(shown(part))
    wait_for(lambda: outbox.failures >= 2)  # sent, no ack in time, sent again, no ack again
    agent.gate.set()  # the agent takes both copies, and acks both
    wait_for(lambda: outbox.depth() == 0)
    agents.pop().stop()

    assert [e["data"]["part"] for e in spooled(data_dir)] == list(range(5))


def test_events_whose_ack_was_lost_in_a_player_restart_are_spooled_once(
    make_outbox: Callable[..., UsageOutbox], agents: list[Agent], data_dir: Path
) -> None:
    agent = Agent(data_dir)
    agents.append(agent)
    agent.gate.clear()
    outbox = make_outbox()
    for part in range(4):
        outbox.record(shown(part))
    outbox.start()
    wait_for(agent.waiting.is_set)
    outbox.close()  # the player stops: the agent's ack will find no one
    agent.gate.set()
    wait_for(lambda: len(spooled_by(agent)) == 4)

    restarted = make_outbox()  # the player again, over the same outbox file
    assert (restarted.outbox_id, restarted.depth()) == (outbox.outbox_id, 4)
    restarted.start()
    wait_for(lambda: restarted.depth() == 0)
    agents.pop().stop()

    assert [e["data"]["part"] for e in spooled(data_dir)] == list(range(4))


def test_a_full_outbox_drops_the_oldest_and_counts_them(
    make_outbox: Callable[..., UsageOutbox], agents: list[Agent], data_dir: Path
) -> None:
    outbox = make_outbox(max_events=5)
    for part in range(8):
        outbox.record(shown(part))
    assert (outbox.depth(), outbox.dropped) == (5, 3)
    outbox.close()

    reopened = make_outbox(max_events=5)
    assert (reopened.depth(), reopened.dropped) == (5, 3)
    agents.append(Agent(data_dir))
    reopened.start()
    wait_for(lambda: reopened.depth() == 0)
    agents.pop().stop()

    events = spooled(data_dir)
    assert [e["data"]["part"] for e in events[:-1]] == [3, 4, 5, 6, 7]
    # Then the notice the controller counts the loss by: once there was room for it, after the rest.
    assert (events[-1]["type"], events[-1]["data"]) == ("dropped", {"count": 3, "reason": "outbox_full"})
    assert reopened.dropped == 3


def test_a_dropped_notice_dropped_in_turn_has_its_count_told_by_the_next(
    make_outbox: Callable[..., UsageOutbox], agents: list[Agent], data_dir: Path
) -> None:
    # The agent comes back for one batch (the notice of 2 is queued, and not yet sent), then stays away.
    outbox = make_outbox(max_events=3)
    for part in range(5):
        outbox.record(shown(part))
    outbox._report_drops()  # as the sender does first, once there is room: none yet
    assert (outbox.depth(), outbox.dropped) == (3, 2)
    outbox._delete([3])  # the agent took the oldest kept one (part 2)
    outbox._report_drops()
    assert outbox.depth() == 3  # parts 3 and 4, and the notice of 2
    for part in range(5, 9):  # the agent away again: parts 3 and 4, the notice, and part 5 are dropped
        outbox.record(shown(part))
    assert (outbox.depth(), outbox.dropped) == (3, 5)  # parts 0, 1, 3, 4 and 5

    agents.append(Agent(data_dir))
    outbox.start()
    wait_for(lambda: outbox.depth() == 0)
    agents.pop().stop()

    events = spooled(data_dir)
    assert [e["data"].get("part") for e in events[:-1]] == [6, 7, 8]
    # One notice for all five: the dropped notice's 2, and the 3 dropped after it.
    assert (events[-1]["type"], events[-1]["data"]) == ("dropped", {"count": 5, "reason": "outbox_full"})


def test_only_usage_events_are_recorded(make_outbox: Callable[..., UsageOutbox]) -> None:
    outbox = make_outbox()
    with pytest.raises(ValueError, match="not a usage event"):
        outbox.record(Heartbeat(cpu_percent=1.0))
    assert outbox.depth() == 0
