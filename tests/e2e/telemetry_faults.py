"""Faults for the telemetry tests, and the tally that must hold through them.

A `Relay` sits on loopback between an agent and the controller and can partition the path, stall the
acks, or lose one of them. `Producer` records usage events through the player's real outbox. `tally`
and `usage_tally` count every event made against where it ended: stored at the controller, dropped
(and said so), or still waiting in the spool or the outbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import socket
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent

from agent.spool import Spool
from classcast.events import Shown
from classcast.identity import ensure_identity, save_enrollment
from controller.app import create_app
from controller.db import Database
from controller.ingest import server_keys
from controller.store import orgs, panels
from player.usage import UsageOutbox

from . import conftest
from .conftest import Proc, Processes, read_line

# Far beyond what any wait takes on a healthy run; reached only when the test fails.
DEADLINE_S = 30.0
# Every setting short, so that each fault outlasts every timeout and backoff cap within a second or two.
AGENT_TIMINGS = {
    "heartbeat_interval": "0.2",
    "batch_max_wait": "0.05",
    "batch_max_events": "20",
    "ack_timeout": "0.4",
    "retry_min": "0.05",
    "retry_max": "0.5",
}


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """Return check()'s first true value, polled with gevent sleeps (the outbox's greenlet runs meanwhile)."""
    return conftest.wait_for(check, timeout, what, sleep=gevent.sleep)


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Controller:
    proc: Proc
    url: str
    telemetry: str  # the ZeroMQ endpoint it bound
    db_path: Path


def start_controller(processes: Processes, data_dir: Path, name: str = "controller") -> Controller:
    """Start `classcast-controller serve` on free loopback ports over `data_dir`; return where it listens."""
    proc = processes.start(
        name,
        [sys.executable, "-m", "controller", "serve", "--data-dir", str(data_dir), "--port", "0",
         "--telemetry-bind", "tcp://127.0.0.1:*"],
        env={"CLASSCAST_SECURE_COOKIES": "false"},
    )  # fmt: skip
    url, telemetry = read_line(proc, "ClassCast controller: "), read_line(proc, "telemetry: ")
    return Controller(proc, url, telemetry, data_dir / "classcast.sqlite")


def enroll_panels(db: Database, controller_dir: Path, panel_dirs: list[Path]) -> list[int]:
    """Return the ids of panels enrolled in one room of `db`, one per data dir, each saved as enrolled."""

    def room(db: Any) -> int:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(db, municipality, "Школа № 6", "СОШ № 6")
        return orgs.create_room(db, school, "Кабинет 6")

    room_id = db.write(room)
    ids = []
    for n, panel_dir in enumerate(panel_dirs):
        identity = ensure_identity(panel_dir)
        panel_id, token = db.write(panels.enroll_panel, room_id, f"Панель {n}", identity.public_key)
        save_enrollment(panel_dir, token=token, controller_key=server_keys(controller_dir)[0])
        ids.append(panel_id)
    return ids


def seed_controller(controller_dir: Path, panel_dirs: list[Path]) -> list[int]:
    """Return the ids of panels enrolled in a controller's database made for them (before it serves)."""
    db = create_app({"data_dir": str(controller_dir)}).extensions["classcast"].db
    try:
        return enroll_panels(db, controller_dir, panel_dirs)
    finally:
        db.close()


def agent_argv(data_dir: Path, telemetry: str) -> list[str]:
    return [sys.executable, "-m", "agent", "--data-dir", str(data_dir), "--telemetry", telemetry]


def agent_env(**settings: Any) -> dict[str, str]:
    """Return the CLASSCAST_AGENT_* variables of the test timings, with `settings` over them."""
    merged = AGENT_TIMINGS | {name: str(value) for name, value in settings.items()}
    return {f"CLASSCAST_AGENT_{name.upper()}": value for name, value in merged.items()}


def kill(proc: Proc) -> None:
    """SIGKILL `proc` and reap it."""
    proc.popen.kill()
    proc.popen.wait(10)


def stop(proc: Proc) -> None:
    """SIGTERM `proc`, and check it stopped as it should: status 0."""
    status = proc.stop()
    assert status == 0, f"{proc.name} exited with {status}; its log:\n{proc.log_text()[-4000:]}"


def alive(proc: Proc) -> None:
    """Fail, with its log, if `proc` has exited."""
    status = proc.popen.poll()
    assert status is None, f"{proc.name} exited with {status}; its log:\n{proc.log_text()[-4000:]}"


# --- the producer of usage events ---------------------------------------------------------------


class Producer:
    """Records a usage event every `interval` seconds through `outbox`; the n-th carries cast_id n."""

    def __init__(self, outbox: UsageOutbox, interval: float = 0.01) -> None:
        self.outbox, self.interval = outbox, interval
        self.recorded = 0  # events the outbox committed
        self.refused = 0  # record() calls that raised (a full disk): not produced
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> Producer:
        self.outbox.start()
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        """Stop recording; the outbox keeps sending what it holds."""
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def _run(self) -> None:
        while True:
            event = Shown(
                source="cast", kind="pdf", lesson=True, duration_s=1.0, part=0, cast_id=self.recorded + 1
            )
            try:
                self.outbox.record(event)
                self.recorded += 1
            except sqlite3.Error:
                self.refused += 1
            gevent.sleep(self.interval)


OUTBOX_CAP = 0.5  # the outbox's ack timeout, the longest of its waits


def make_outbox(player_dir: Path, endpoint: str) -> UsageOutbox:
    """Return the player's outbox with test-sized timings, sending to the agent at `endpoint`."""
    return UsageOutbox(player_dir, endpoint, ack_timeout=OUTBOX_CAP, retry_min=0.05, retry_max=0.3)


# --- reading the three ends ----------------------------------------------------------------------


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def stored_events(db_path: Path, panel_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Return (event id, type, data) of every event the controller holds of `panel_id`."""
    with contextlib.closing(read_only(db_path)) as db:
        rows = db.execute(
            "SELECT event_id, type, data FROM telemetry_event WHERE panel_id = ?", [panel_id]
        ).fetchall()
    return [(event_id, kind, json.loads(data)) for event_id, kind, data in rows]


def stored_twice(db_path: Path) -> list[tuple[str, int]]:
    """Return the event ids the controller stored more than once (of any panel): none, ever."""
    with contextlib.closing(read_only(db_path)) as db:
        return db.execute(
            "SELECT event_id, count(*) FROM telemetry_event GROUP BY event_id HAVING count(*) > 1"
        ).fetchall()


def stored_cast_ids(db_path: Path, panel_id: int) -> list[int]:
    return [data["cast_id"] for _, kind, data in stored_events(db_path, panel_id) if kind == "shown"]


def spool_meta(data_dir: Path, key: str) -> str | None:
    """Return a meta value of the spool in `data_dir`, read beside the agent that writes it (WAL)."""
    path = data_dir / "spool.sqlite"
    if not path.exists():
        return None
    with contextlib.closing(read_only(path)) as db:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        except sqlite3.OperationalError:  # made, but not yet its tables
            return None
    return None if row is None else row[0]


@dataclass
class SpoolContents:
    spool_id: str
    last_seq: int  # the highest sequence number the spool ever committed: ids 1..last_seq were made
    events: list[dict[str, Any]]
    dropped: int
    depth: int


def spool_contents(data_dir: Path) -> SpoolContents:
    """Return what the spool of a stopped agent holds."""
    with Spool(data_dir) as spool:
        events = spool.peek(10**9)
        depth, dropped, spool_id = spool.depth(), spool.dropped, spool.spool_id
    with contextlib.closing(read_only(data_dir / "spool.sqlite")) as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return SpoolContents(spool_id, row[0] if row else 0, events, dropped, depth)


def outbox_cast_ids(outbox: UsageOutbox) -> list[int]:
    with contextlib.closing(read_only(outbox.path)) as db:
        return [json.loads(body)["data"]["cast_id"] for (body,) in db.execute("SELECT body FROM events")]


# --- the tally -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Every event id one spool made, by where it ended."""

    produced: int  # ids made: 1..the spool's last sequence number
    stored: int  # held at the controller
    dropped: int  # dropped by the spool and counted
    spooled: int  # still in the spool, not held at the controller
    resend: int  # still in the spool but held already: in flight when the agent stopped
    unaccounted: list[int] = field(default_factory=list)  # neither stored, spooled nor among the dropped
    foreign: list[str] = field(default_factory=list)  # held, but never made by the spool
    dropped_told: int = 0  # the counts of the spool's `dropped` events, at the controller or on their way

    def check(self) -> None:
        """Fail, naming every number, unless produced = stored + dropped + still spooled."""
        assert not self.foreign, f"the controller holds ids the spool never made: {self.foreign[:10]}"
        # Ids neither stored nor spooled must be exactly the dropped ones: fewer means some counted as
        # dropped reached the controller all the same; more means some were lost without a word.
        gone = len(self.unaccounted)
        assert self.produced == self.stored + self.dropped + self.spooled, (
            f"produced {self.produced} != stored {self.stored} + dropped {self.dropped}"
            f" + still spooled {self.spooled} ({self.resend} more spooled that the controller holds):"
            f" {gone} ids neither stored nor spooled, e.g. {self.unaccounted[:10]};"
            + (
                f" {self.dropped - gone} counted as dropped were stored all the same"
                if gone < self.dropped
                else f" {gone - self.dropped} lost without being counted as dropped"
            )
        )


def tally(db_path: Path, panel_id: int, spool: SpoolContents) -> Tally:
    """Return the tally of `spool`'s ids against what the controller holds of `panel_id`."""
    stored = stored_events(db_path, panel_id)
    prefix = f"{spool.spool_id}:"
    held = Counter(event_id for event_id, _, _ in stored)
    duplicates = [event_id for event_id, count in held.items() if count > 1]
    assert not duplicates, f"events stored twice: {duplicates[:10]}"
    seqs = {int(event_id.removeprefix(prefix)) for event_id in held if event_id.startswith(prefix)}
    foreign = [
        e for e in held if not e.startswith(prefix) or not 1 <= int(e.removeprefix(prefix)) <= spool.last_seq
    ]
    spooled = {int(event["id"].removeprefix(prefix)) for event in spool.events}
    assert len(spooled) == spool.depth == len(spool.events), "the spool's depth is not its events"
    made = set(range(1, spool.last_seq + 1))
    return Tally(
        produced=spool.last_seq,
        stored=len(seqs),
        dropped=spool.dropped,
        spooled=len(spooled - seqs),
        resend=len(spooled & seqs),
        unaccounted=sorted(made - seqs - spooled),
        foreign=foreign,
        dropped_told=sum(data.get("count", 0) for _, kind, data in stored if kind == "dropped")
        + sum(
            event["data"].get("count", 0)
            for event in spool.events
            if event["type"] == "dropped" and event["id"] not in held
        ),
    )


@dataclass
class UsageTally:
    """Every usage event the producer recorded (cast_id 1..produced), by where it ended."""

    produced: int
    stored: Counter[int]
    spooled: set[int]
    in_outbox: set[int]

    @property
    def missing(self) -> set[int]:
        return set(range(1, self.produced + 1)) - set(self.stored) - self.spooled - self.in_outbox

    def check(self, dropped: int) -> None:
        """Fail unless produced = stored + dropped + still spooled + still in the outbox, none stored twice.

        `dropped`: what the spool dropped, of all its events; the usage events missing are among them.
        """
        twice = sorted(cast_id for cast_id, count in self.stored.items() if count > 1)
        assert not twice, f"usage events stored twice (under two event ids): {twice[:10]}"
        made = set(range(1, self.produced + 1))
        strangers = (set(self.stored) | self.spooled | self.in_outbox) - made
        assert not strangers, f"usage events nobody recorded: {sorted(strangers)[:10]}"
        waiting = (self.spooled | self.in_outbox) - set(self.stored)
        missing = self.missing
        assert len(missing) <= dropped, (
            f"produced {self.produced} != stored {len(self.stored)} + still spooled or in the outbox"
            f" {len(waiting)} + dropped (at most {dropped} of the spool's): {len(missing)} usage events"
            f" lost, e.g. {sorted(missing)[:10]}"
        )


def usage_tally(
    db_path: Path, panel_id: int, spool: SpoolContents, outbox: UsageOutbox, produced: int
) -> UsageTally:
    return UsageTally(
        produced=produced,
        stored=Counter(stored_cast_ids(db_path, panel_id)),
        spooled={e["data"]["cast_id"] for e in spool.events if e["type"] == "shown"},
        in_outbox=set(outbox_cast_ids(outbox)),
    )


# --- one panel under test ------------------------------------------------------------------------

# A heartbeat reporting at most this many events in the spool says the backlog is shipped: what is
# left is the last batch or two in flight.
DRAINED_DEPTH = 10


@dataclass
class Rig:
    """One panel under test: its data dir, its player's outbox and producer, its agent processes."""

    processes: Processes
    db_path: Path  # the controller's database
    panel_id: int
    panel_dir: Path
    player_dir: Path
    usage_endpoint: str = ""  # where the agent takes usage events; "" for its default in panel_dir
    outbox: UsageOutbox | None = None
    producer: Producer | None = None
    agents: int = 0

    def __post_init__(self) -> None:
        self.usage_endpoint = self.usage_endpoint or f"ipc://{self.panel_dir / 'usage.sock'}"
        self.outbox = make_outbox(self.player_dir, self.usage_endpoint)

    def produce(self, interval: float = 0.01) -> Producer:
        assert self.outbox is not None
        self.producer = Producer(self.outbox, interval).start()
        return self.producer

    def start_agent(
        self, telemetry: str, wrap: Callable[[list[str]], list[str]] = list, **settings: Any
    ) -> Proc:
        """Start an agent process shipping to `telemetry`; `wrap` its command line (a namespace)."""
        self.agents += 1
        argv = wrap(agent_argv(Path(settings.pop("data_dir", self.panel_dir)), telemetry))
        env = agent_env(usage_endpoint=self.usage_endpoint, **settings)
        return self.processes.start(f"agent-{self.agents}", argv, env)

    def stored_usage(self) -> int:
        return len(stored_cast_ids(self.db_path, self.panel_id))

    def latest_heartbeat(self) -> tuple[int, dict[str, Any]]:
        """Return (sequence number, data) of the newest heartbeat the controller holds; (0, {}) if none."""
        beats = [
            (int(i.rsplit(":", 1)[1]), d)
            for i, k, d in stored_events(self.db_path, self.panel_id)
            if k == "heartbeat"
        ]
        return max(beats, key=lambda beat: beat[0], default=(0, {}))

    def drained(self, since: int) -> bool:
        """Return True once a heartbeat made after sequence number `since` reports the spool shipped."""
        seq, data = self.latest_heartbeat()
        return seq > since and data.get("spool_events", DRAINED_DEPTH + 1) <= DRAINED_DEPTH

    def finish(self, agent: Proc, spool_dir: Callable[[], Path] | None = None) -> tuple[Tally, UsageTally]:
        """Return the tallies once the producer stopped, everything was shipped and the agent stopped.

        Fails if they do not hold. A drain that does not end by the deadline fails too, after them.
        `spool_dir()` gives where to read the spool once the agent stopped; by default its data dir.
        """
        assert self.producer is not None and self.outbox is not None
        self.producer.stop()
        alive(agent)
        emptied = _poll(lambda: self.outbox.depth() == 0)
        mark = self.latest_heartbeat()[0]
        drained = emptied and _poll(lambda: self.drained(mark))
        stop(agent)
        self.outbox.stop()
        spool = spool_contents(spool_dir() if spool_dir else self.panel_dir)
        stream = tally(self.db_path, self.panel_id, spool)
        usage = usage_tally(self.db_path, self.panel_id, spool, self.outbox, self.producer.recorded)
        assert not stored_twice(self.db_path), f"events stored twice: {stored_twice(self.db_path)[:10]}"
        stream.check()
        usage.check(spool.dropped)
        assert drained, (
            f"the backlog was not shipped within {DEADLINE_S:g} s: {self.outbox.depth()} events in the"
            f" outbox, newest heartbeat {self.latest_heartbeat()}"
        )
        return stream, usage

    def close(self) -> None:
        if self.producer is not None:
            self.producer.stop()
        if self.outbox is not None:
            self.outbox.close()


def _poll(check: Callable[[], Any], timeout: float = DEADLINE_S) -> bool:
    """Return True once check() is true; False at the deadline (the caller says what failed)."""
    try:
        wait_for(check, "", timeout)
    except AssertionError:
        return False
    return True


# --- the relay -----------------------------------------------------------------------------------

_GREETING = 64  # bytes of a ZMTP 3 greeting
_MESSAGE = b"\x07MESSAGE"  # the CURVE command that carries one part of a message
_PARTS = 3  # every controller message has three parts: protocol, kind, body


class _Direction:
    """One direction of a ZMTP 3 connection cut into its greeting and whole frames, as they arrive.

    After the CURVE handshake every part of every message travels in a frame of its own that starts
    "\\x07MESSAGE", then a nonce and the encrypted part; the frame itself is not encrypted, and libzmq
    checks only that the nonces increase, so a whole message can be left out without the receiver
    noticing.
    """

    def __init__(self) -> None:
        self._greeting = _GREETING
        self._buffer = bytearray()
        self.parts = 0  # MESSAGE commands seen

    def feed(self, data: bytes, lose: Callable[[int], bool]) -> bytes:
        """Return the bytes to forward: the greeting as it comes, then every whole frame not lost.

        `lose(n)` says whether to leave out the n-th MESSAGE command of this direction.
        """
        out = bytearray()
        if self._greeting:  # forwarded byte by byte: each end waits for the other's signature
            out += data[: self._greeting]
            data = data[self._greeting :]
            self._greeting -= len(out)
        self._buffer += data
        while (size := self._frame_size()) is not None and len(self._buffer) >= size:
            frame = bytes(self._buffer[:size])
            del self._buffer[:size]
            header = 9 if frame[0] & 0x02 else 2
            if frame[header : header + len(_MESSAGE)] == _MESSAGE:  # libzmq sends it as a data frame
                self.parts += 1
                if lose(self.parts - 1):
                    continue
            out += frame
        return bytes(out)

    def _frame_size(self) -> int | None:
        if not self._buffer:
            return None
        if self._buffer[0] & 0x02:  # a long frame: an 8-byte size
            return None if len(self._buffer) < 9 else 9 + int.from_bytes(self._buffer[1:9], "big")
        return None if len(self._buffer) < 2 else 2 + self._buffer[1]


class _Link:
    """One agent connection and the relay's connection to the controller for it."""

    def __init__(self, agent: socket.socket, controller: socket.socket) -> None:
        self.agent, self.controller = agent, controller
        self.down = _Direction()  # what the controller sends, cut into frames: acks can be lost
        self.to_controller, self.to_agent = bytearray(), bytearray()
        self.losing = 0  # parts of a lost message still to leave out


class Relay:
    """A TCP relay on loopback between an agent and the controller, on a thread; a hand on the wire.

    `partition()` forwards nothing, either way, and accepts no connection, while those open stay open
    (a network that black-holes packets: TCP keeps the bytes until the path heals); `stall_acks()`
    holds back what the controller sends; `heal()` forwards again. `lose_acks(n)` leaves out the next
    n whole messages from the controller. `upstream` may be changed at any time (a controller
    restarted on another port): new connections go there.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.endpoint = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._partitioned = self._stalled = self._stopping = False
        self._to_lose = 0
        self.lost = 0  # controller messages left out
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()

    @property
    def links(self) -> int:
        """Return how many agent connections the relay joins to the controller now."""
        with self._lock:
            return len(self._links)

    @property
    def held_back(self) -> int:
        """Return the bytes the controller sent that the relay holds back from the agent."""
        with self._lock:
            return sum(len(link.to_agent) for link in self._links)

    def partition(self) -> None:
        self._set(partitioned=True)

    def stall_acks(self) -> None:
        self._set(stalled=True)

    def heal(self) -> None:
        self._set(partitioned=False, stalled=False)

    def lose_acks(self, count: int = 1) -> None:
        with self._lock:
            self._to_lose += count
        self._wake()

    def close(self) -> None:
        self._set(stopping=True)
        self._thread.join(5)
        for link in self._links:
            link.agent.close()
            link.controller.close()
        self._selector.close()
        for sock in (self._listener, self._wake_reader, self._wake_writer):
            sock.close()

    def _set(self, **flags: bool) -> None:
        with self._lock:
            for name, value in flags.items():
                setattr(self, f"_{name}", value)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                self._watch()
            for key, events in self._selector.select(timeout=0.5):
                if key.fileobj is self._wake_reader:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_reader.recv(4096)
                elif key.fileobj is self._listener:
                    self._accept()
                else:
                    with self._lock:
                        self._serve(key.data, key.fileobj, events)

    def _watch(self) -> None:
        """Register each socket for what it may do now; while partitioned, nothing at all."""
        read, write = selectors.EVENT_READ, selectors.EVENT_WRITE
        wanted: dict[socket.socket, tuple[int, _Link | None]] = {self._wake_reader: (read, None)}
        if not self._partitioned:
            wanted[self._listener] = (read, None)
            for link in self._links:
                wanted[link.controller] = (read | (write if link.to_controller else 0), link)
                wanted[link.agent] = (read | (write if link.to_agent and not self._stalled else 0), link)
        for key in list(self._selector.get_map().values()):
            if key.fileobj not in wanted:
                self._selector.unregister(key.fileobj)
        for sock, (mask, link) in wanted.items():
            try:
                key = self._selector.get_key(sock)
            except KeyError:
                self._selector.register(sock, mask, link)
                continue
            if key.events != mask:
                self._selector.modify(sock, mask, link)

    def _accept(self) -> None:
        try:
            agent, _ = self._listener.accept()
        except BlockingIOError:
            return
        host, port = self.upstream.removeprefix("tcp://").rsplit(":", 1)
        try:
            controller = socket.create_connection((host, int(port)), timeout=2)
        except OSError:  # the controller is down: the agent's connection is refused, as it would be
            agent.close()
            return
        for sock in (agent, controller):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._links.append(_Link(agent, controller))

    def _serve(self, link: _Link, sock: socket.socket, events: int) -> None:
        if link not in self._links:  # closed by the other end's event of the same select
            return
        try:
            if events & selectors.EVENT_READ:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionResetError("closed by the peer")
                if sock is link.agent:
                    link.to_controller += data
                else:
                    link.to_agent += link.down.feed(data, lambda n: self._lose(link, n))
            if events & selectors.EVENT_WRITE:
                out = link.to_agent if sock is link.agent else link.to_controller
                del out[: sock.send(out)]
        except OSError:  # either end went away: so does the other, as through a real path
            self._links.remove(link)
            for end in (link.agent, link.controller):
                with contextlib.suppress(KeyError):
                    self._selector.unregister(end)
                end.close()

    def _lose(self, link: _Link, part: int) -> bool:
        """Return True to leave out the controller's `part`-th MESSAGE command on `link`."""
        if link.losing:
            link.losing -= 1
            return True
        if self._to_lose and part % _PARTS == 0:  # the first part of a message
            self._to_lose -= 1
            self.lost += 1
            link.losing = _PARTS - 1
            return True
        return False


# --- a private tmpfs for the agent's data dir ------------------------------------------------------


class TinyDisk:
    """A small tmpfs at `mount_point`, in a mount namespace of its own held open by a sleeping process.

    Programs run inside with `argv()`; the test reads and writes the tmpfs through /proc/<pid>/root.
    As root `unshare --mount` does; otherwise a user namespace maps the user to root in it.
    """

    def __init__(self, processes: Processes, mount_point: Path, size: int, seed: Path) -> None:
        mount_point.mkdir(parents=True, exist_ok=True)
        self.mount_point = mount_point
        self._user = os.geteuid() != 0
        unshare = (
            ["unshare", "--user", "--map-root-user", "--mount"] if self._user else ["unshare", "--mount"]
        )
        script = (
            'mount -t tmpfs -o size="$1" tmpfs "$2" && cp -a "$3"/. "$2"/ && echo mounted && exec sleep 600'
        )
        self.holder = processes.start(
            "tiny-disk", [*unshare, "sh", "-c", script, "sh", str(size), str(mount_point), str(seed)]
        )
        read_line(self.holder, "mounted")

    def argv(self, argv: list[str]) -> list[str]:
        """Return `argv` run inside the namespace."""
        enter = ["nsenter", f"--target={self.holder.popen.pid}", "--mount", f"--wd={os.getcwd()}"]
        if self._user:
            enter += ["--user", "--preserve-credentials"]
        return [*enter, "--", *argv]

    @property
    def path(self) -> Path:
        """The mount point as the test sees it: through the holder's root."""
        return Path(f"/proc/{self.holder.popen.pid}/root") / self.mount_point.relative_to("/")

    def copy_out(self, target: Path) -> Path:
        """Return `target`, made a copy of the files on the tmpfs.

        SQLite cannot open them through /proc/<pid>/root: it resolves that link to "/", this process's
        own root, and would open (or make) the file under the mount point outside the namespace.
        """
        shutil.copytree(self.path, target, ignore=shutil.ignore_patterns("filler"))
        return target

    def fill(self) -> int:
        """Return the bytes written to fill the tmpfs to the last block."""
        written = 0
        with (self.path / "filler").open("wb", buffering=0) as filler:
            for chunk in (65536, 4096, 512, 1):
                with contextlib.suppress(OSError):
                    while True:
                        written += filler.write(b"\0" * chunk)
        return written

    def free(self) -> None:
        (self.path / "filler").unlink()
