"""The agent's footprint at its default intervals: memory, CPU and disk writes, beside Glances in one run.

The real agent (`python -m agent`, default settings) runs enrolled with a controller end made here: a
CURVE ROUTER on loopback whose ZAP handler admits the panel's key, acking every batch. Beside it runs
Glances, the well-known psutil monitor, reading the same areas as the agent (CPU, load, memory, file
systems, sensors, network, uptime) at a one-minute refresh in its headless --stdout mode: no curses, no
web server, no update check, no history, no process list (each of those would only make it heavier).
Both processes are sampled every second through psutil: the highest RSS of the whole run; CPU time and
the agent's bytes written (write_bytes) over the measured window, which starts after a warm-up that
covers start-up and the agent's first batch. CPU time is read from /proc/<pid>/task/*/schedstat, in
nanoseconds: the user and system times of /proc/<pid>/stat count 10 ms ticks, and a process that
uses a few milliseconds a minute earns only a handful of them in five minutes. Both processes keep
their threads through the window (the bench checks), so no thread's time is lost with it. The last
line holds the figures; issue 6 targets agent RSS ≤ 25 MB and CPU ≤ 0.2 % of a core, both below Glances.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/agent_footprint.py [--seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

import psutil
import zmq
from zmq.utils import z85

from classcast.identity import ensure_identity, save_enrollment
from classcast.protocol import FRAME_ACK, FRAME_BATCH, TELEMETRY_PROTOCOL, ZAP_DOMAIN

REPO = Path(__file__).resolve().parents[1]
WARMUP = 15.0  # seconds: both programs start, and the agent ships its first batch (batch_max_wait 10 s)
SAMPLE_EVERY = 1.0
GLANCES_REFRESH = 60  # seconds, as the agent's heartbeat_interval
GLANCES_PLUGINS = "cpu,load,mem,fs,sensors,network,uptime"
GLANCES_STATS = "cpu.total,load,mem.used,fs,sensors,network,uptime"
MB = 1_000_000  # the targets' MB: 25 MB is 23.8 MiB
TARGET_RSS_MB = 25.0
TARGET_CPU_PERCENT = 0.2


class ControllerEnd:
    """The controller's end on loopback: a CURVE ROUTER that acks every batch, and its ZAP handler."""

    def __init__(self, panel_key: str) -> None:
        self.panel_key = panel_key
        self.context = zmq.Context()
        # Bound before the ROUTER: without a ZAP handler libzmq would admit every key.
        self.zap = self._socket(zmq.REP)
        self.zap.bind("inproc://zeromq.zap.01")
        public, secret = zmq.curve_keypair()
        self.public_key = public.decode()
        self.router = self._socket(zmq.ROUTER)
        self.router.curve_server = True
        self.router.curve_secretkey = secret
        self.router.zap_domain = ZAP_DOMAIN.encode()
        self.router.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = self.router.last_endpoint.decode()
        self.poller = zmq.Poller()
        self.poller.register(self.zap, zmq.POLLIN)
        self.poller.register(self.router, zmq.POLLIN)
        self.batches = self.events = 0

    def _socket(self, kind: int) -> zmq.Socket:
        socket = self.context.socket(kind)
        socket.linger = 0
        return socket

    def serve(self, seconds: float) -> None:
        """Answer the handshakes and batches that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            ready = dict(self.poller.poll(remaining * 1000))
            if self.zap in ready:
                self.zap.send_multipart(self._admit(self.zap.recv_multipart()))
            if self.router in ready:
                self._ack(self.router.recv_multipart())

    def _admit(self, request: list[bytes]) -> list[bytes]:
        version, request_id, domain, _address, _identity, mechanism, *credentials = request
        key = z85.encode(credentials[0]).decode() if mechanism == b"CURVE" else ""
        if domain == ZAP_DOMAIN.encode() and key == self.panel_key:
            return [version, request_id, b"200", b"OK", key.encode(), b""]
        return [version, request_id, b"400", b"unknown panel", b"", b""]

    def _ack(self, frames: list[bytes]) -> None:
        routing_id, protocol, kind, body = frames
        if (protocol, kind) != (TELEMETRY_PROTOCOL, FRAME_BATCH):
            sys.exit(f"agent footprint: unexpected message {protocol!r} {kind!r}")
        batch = json.loads(body)
        self.batches += 1
        self.events += len(batch["events"])
        ack = {"seq": batch["seq"], "stored": len(batch["events"]), "duplicates": 0, "rejected": []}
        self.router.send_multipart([routing_id, TELEMETRY_PROTOCOL, FRAME_ACK, json.dumps(ack).encode()])

    def close(self) -> None:
        self.router.close()
        self.zap.close()
        self.context.term()


class Mark(NamedTuple):
    """A process's counters at one moment."""

    time: float  # monotonic seconds
    cpu: float  # CPU seconds, user and system, of its threads
    written: int  # bytes written to storage
    threads: frozenset[str]  # the ids of its threads, whose CPU `cpu` sums


@dataclass
class Footprint:
    """What one process cost: its highest RSS, and its CPU seconds and bytes written within the window."""

    name: str
    popen: subprocess.Popen[bytes]
    rss_max: int = 0
    marks: list[Mark] = field(default_factory=list)  # the window's start and end

    def sample(self) -> None:
        """Note the RSS; exit if the process died."""
        if self.popen.poll() is not None:
            sys.exit(f"agent footprint: {self.name} exited with {self.popen.returncode}")
        self.rss_max = max(self.rss_max, psutil.Process(self.popen.pid).memory_info().rss)

    def mark(self) -> None:
        """Note the time, CPU seconds and bytes written: at the window's start, then at its end."""
        process = psutil.Process(self.popen.pid)
        threads, cpu = _cpu_of_threads(self.popen.pid)
        self.marks.append(Mark(time.monotonic(), cpu, process.io_counters().write_bytes, threads))

    @property
    def cpu_percent(self) -> float:
        """Return the CPU used within the window, % of one core."""
        start, end = self.marks
        if not start.threads <= end.threads:  # a thread ended: its time would be missing
            sys.exit(f"agent footprint: threads of {self.name} ended within the window")
        return (end.cpu - start.cpu) / (end.time - start.time) * 100

    @property
    def written_per_day(self) -> float:
        """Return the bytes written within the window, extrapolated to a day."""
        start, end = self.marks
        return (end.written - start.written) / (end.time - start.time) * 86400


def _cpu_of_threads(pid: int) -> tuple[frozenset[str], float]:
    """Return the ids of the process's threads and the CPU seconds they have run (schedstat, in ns)."""
    tasks = Path(f"/proc/{pid}/task")
    threads = frozenset(path.name for path in tasks.iterdir())
    nanoseconds = sum(int((tasks / tid / "schedstat").read_text().split()[0]) for tid in threads)
    return threads, nanoseconds / 1e9


def start_agent(data_dir: Path, endpoint: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    # No CLASSCAST_AGENT_* from this shell: the agent runs at its defaults but for where it ships.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSCAST_AGENT_")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "agent", "--data-dir", str(data_dir), "--telemetry", endpoint]
    return subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=data_dir.parent)


def start_glances(folder: Path, output: IO[bytes]) -> subprocess.Popen[bytes]:
    config = folder / "glances.conf"
    config.write_text("")  # its defaults, not a glances.conf this machine may have
    command = [
        sys.executable,
        "-m",
        "glances",
        "--config",
        str(config),
        "--disable-plugin",
        "all",
        "--enable-plugin",
        GLANCES_PLUGINS,
        "--disable-check-update",
        "--disable-history",
        "--time",
        str(GLANCES_REFRESH),
        "--stdout",
        GLANCES_STATS,
    ]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}  # each refresh's lines reach the file as they are printed
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=folder)


def measure(folder: Path, seconds: float) -> tuple[Footprint, Footprint, ControllerEnd, Path]:
    """Return the agent's and Glances' footprints, the controller end, and the agent's data directory."""
    data_dir = folder / "panel"
    controller = ControllerEnd(ensure_identity(data_dir).public_key)
    save_enrollment(data_dir, token=secrets.token_urlsafe(32), controller_key=controller.public_key)
    with open(folder / "agent.log", "wb") as log, open(folder / "glances.out", "wb") as output:
        agent = Footprint("the agent", start_agent(data_dir, controller.endpoint, log))
        glances = Footprint("Glances", start_glances(folder, output))
        try:
            started = time.monotonic()
            _watch(controller, [agent, glances], until=started + WARMUP)
            for footprint in (agent, glances):
                footprint.mark()
            _watch(controller, [agent, glances], until=started + WARMUP + seconds)
            for footprint in (agent, glances):
                footprint.mark()
        finally:
            _stop([agent.popen, glances.popen])
            controller.close()
    return agent, glances, controller, data_dir


def _watch(controller: ControllerEnd, footprints: list[Footprint], until: float) -> None:
    """Serve the agent and sample the processes every second, until the monotonic time `until`."""
    while (now := time.monotonic()) < until:
        controller.serve(min(SAMPLE_EVERY, until - now))
        for footprint in footprints:
            footprint.sample()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="the measured window, after the warm-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        agent, glances, controller, data_dir = measure(folder, args.seconds)
        spool = sum(path.stat().st_size for path in data_dir.glob("spool.sqlite*"))
        refreshes = (folder / "glances.out").read_text().count("cpu.total:")
        log = (folder / "agent.log").read_text()
    if not controller.events or "Traceback" in log:
        sys.exit(f"agent footprint: {controller.events} events arrived; the agent's log:\n{log}")
    print(
        f"agent: {controller.events} events in {controller.batches} batches acked; spool files {spool:,} B; "
        f"glances: {refreshes} refreshes; window {args.seconds:.0f} s after a {WARMUP:.0f} s warm-up",
        flush=True,
    )
    holds = (
        agent.rss_max / MB <= TARGET_RSS_MB
        and agent.cpu_percent <= TARGET_CPU_PERCENT
        and agent.rss_max < glances.rss_max
        and agent.cpu_percent < glances.cpu_percent
    )
    targets = f"agent RSS ≤ {TARGET_RSS_MB:.0f} MB, CPU ≤ {TARGET_CPU_PERCENT} %, both below Glances"
    print(
        f"agent footprint: agent RSS {agent.rss_max / MB:.1f} MB ({agent.rss_max / 2**20:.1f} MiB) max, "
        f"CPU {agent.cpu_percent:.3f} % of a core, {agent.written_per_day / MB:.2f} MB written per day; "
        f"Glances RSS {glances.rss_max / MB:.1f} MB max, CPU {glances.cpu_percent:.3f} % of a core; "
        f"targets ({targets}): {'hold' if holds else 'DO NOT HOLD'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
