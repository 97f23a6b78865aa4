"""Simulated panels for the benches: python-socketio clients speaking the panel protocol, in workers.

Each worker is a process of its own (this file run as a script), monkey-patched by gevent first so
that every client's reader and writer threads are greenlets: a few thousand clients fit in a few
processes. A client signs in on `/panel` over WebSocket (`transports=["websocket"]`: the polling
step teaches nothing here) with the protocol's auth payload, and acknowledges each command as the
player does once the kiosk page reports it (docs/protocol.md), with the worker's wall time. (The
clients skip websocket-client's UTF-8 check of each frame, pure Python: a panel pays it on its own
CPU, the simulated thousands would pay it on the controller's machine.)

| event | ack |
| --- | --- |
| `state` | `{"ok": true, "version": v}` |
| `show` | `{"ok": true, "shown_at": t}` |
| `alert` | `{"ok": true, "shown_at": t}` |
| `control` | `{"ok": true, "view": view, "shown_at": t}` |

A worker records, per command, how many of its clients acked it and when the first and the last did
(`state`, `show:<cast_id>`, `alert:<id>` or `alert:null`, `control:<cast_id>`). The bench talks to
it in JSON lines: the job on stdin first (`{"url", "tokens", "wave"}`), answered once every client
tried to connect; then `{"wait": key, "timeout": s}`, answered when all its clients acked `key` (or
at the timeout, with what it has), and `{"stop": true}`. `time.time()` is the same clock in every
process of this machine, so the bench compares the acks' times with its own.
"""

if __name__ == "__main__":  # a worker: greenlets for threads before anything imports them
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402 - after the monkey-patch, on purpose
import math  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

NAMESPACE = "/panel"
CLIENTS_PER_WORKER = 2000  # 5,000 panels in 3 processes: their side of a fan-out spreads over the cores
CONNECT_TRIES = 3


def raise_open_files() -> int:
    """Return this process's open-file limit after raising the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- the bench's side ---------------------------------------------------------------------------------


@dataclass
class Acks:
    """How many clients acked one command, and the wall times of the first and the last ack."""

    count: int
    first: float
    last: float


class Fleet:
    """N simulated panels in worker processes, connected to one server."""

    def __init__(self, url: str, tokens: list[str], workers: int = 0, wave: int = 50) -> None:
        self.url, self.tokens, self.wave = url, tokens, wave
        self.size = workers or max(1, math.ceil(len(tokens) / CLIENTS_PER_WORKER))
        self._procs: list[subprocess.Popen] = []
        self.connected = 0

    def connect(self, timeout: float = 600) -> float:
        """Return the seconds it took until every panel connected and acknowledged its `state`."""
        started = time.monotonic()
        share = math.ceil(len(self.tokens) / self.size)
        for start in range(0, len(self.tokens), share):
            job = {"url": self.url, "tokens": self.tokens[start : start + share], "wave": self.wave}
            proc = subprocess.Popen(
                [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            self._send(proc, job)
            self._procs.append(proc)
        answers = [self._read(proc) for proc in self._procs]
        self.connected = sum(answer["connected"] for answer in answers)
        failed = [reason for answer in answers for reason in answer["failed"]]
        if failed:
            raise RuntimeError(f"{len(failed)} panels did not connect, e.g. {failed[:3]}")
        acks = self.wait("state", timeout)
        if acks.count != len(self.tokens):
            raise RuntimeError(f"only {acks.count} of {len(self.tokens)} panels acknowledged their state")
        return time.monotonic() - started

    def wait(self, key: str, timeout: float) -> Acks:
        """Return the acks of `key` from every worker, once all its clients acked it (or at the timeout)."""
        for proc in self._procs:
            self._send(proc, {"wait": key, "timeout": timeout})
        answers = [self._read(proc) for proc in self._procs]
        firsts = [a["first"] for a in answers if a["count"]]
        lasts = [a["last"] for a in answers if a["count"]]
        return Acks(
            sum(a["count"] for a in answers), min(firsts, default=math.nan), max(lasts, default=math.nan)
        )

    def cpu_seconds(self) -> float:
        """Return the CPU time the workers have used so far, seconds: the load generator's share."""
        import psutil

        times = [psutil.Process(proc.pid).cpu_times() for proc in self._procs]
        return sum(t.user + t.system for t in times)

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                self._send(proc, {"stop": True})
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs = []

    @staticmethod
    def _send(proc: subprocess.Popen, message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    @staticmethod
    def _read(proc: subprocess.Popen) -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a panel worker ended (exit code {proc.wait()})")
        return json.loads(line)


# --- a worker -----------------------------------------------------------------------------------------


class Worker:
    """The clients of one worker process and the acks they gave."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[Any] = []
        self.acks: dict[str, list[float]] = {}  # key → [count, first, last]

    def record(self, key: str) -> float:
        """Return the wall time now, counted as one more ack of `key`."""
        now = time.time()
        acks = self.acks.setdefault(key, [0, now, now])
        acks[0] += 1
        acks[2] = now
        return now

    def connect_all(self, tokens: list[str], wave: int) -> list[str]:
        """Connect a client per token, `wave` at a time; return why those that failed did."""
        import gevent

        failed: list[str] = []
        for start in range(0, len(tokens), wave):
            jobs = [gevent.spawn(self._connect, token) for token in tokens[start : start + wave]]
            gevent.joinall(jobs)
            failed += [job.value for job in jobs if job.value]
        return failed

    def _connect(self, token: str) -> str:
        import gevent
        import socketio

        why = ""
        for attempt in range(CONNECT_TRIES):
            client = socketio.Client(
                reconnection=False,
                logger=False,
                engineio_logger=False,
                # websocket-client checks every text frame's UTF-8 in pure Python: a panel spends that
                # on its own CPU, the simulated thousands would spend it on the controller's machine.
                websocket_extra_options={"skip_utf8_validation": True},
            )
            self._answer_commands(client)
            try:
                client.connect(
                    self.url,
                    auth={"token": token, "player_version": "bench"},
                    namespaces=[NAMESPACE],
                    transports=["websocket"],
                    wait_timeout=30,
                )
            except socketio.exceptions.ConnectionError as exc:
                why = str(exc)
                gevent.sleep(0.5 * 2**attempt)
                continue
            self.clients.append(client)
            return ""
        return why

    def _answer_commands(self, client: Any) -> None:
        def state(payload: dict) -> dict:
            self.record("state")
            return {"ok": True, "version": payload["version"]}

        def show(payload: dict) -> dict:
            return {"ok": True, "shown_at": self.record(f"show:{payload['cast_id']}")}

        def alert(payload: dict) -> dict:
            shown = payload.get("alert")
            return {"ok": True, "shown_at": self.record(f"alert:{shown['id'] if shown else 'null'}")}

        def control(payload: dict) -> dict:
            shown_at = self.record(f"control:{payload['cast_id']}")
            return {"ok": True, "view": payload["view"], "shown_at": shown_at}

        for name, handler in (("state", state), ("show", show), ("alert", alert), ("control", control)):
            client.on(name, handler, namespace=NAMESPACE)

    def wait(self, key: str, timeout: float) -> dict[str, Any]:
        """Return the acks of `key` once every connected client gave one (or at the timeout); forget them."""
        import gevent

        deadline, connected = time.monotonic() + timeout, sum(c.connected for c in self.clients)
        while self._count(key) < connected and time.monotonic() < deadline:
            gevent.sleep(0.01)
        count, first, last = self.acks.pop(key, [0, None, None])
        return {"key": key, "count": count, "first": first, "last": last}

    def _count(self, key: str) -> int:
        return self.acks.get(key, [0])[0]


def work() -> None:
    """Run one worker: read the job and the commands from stdin, answer on stdout."""
    from gevent.fileobject import FileObjectPosix

    raise_open_files()
    commands = FileObjectPosix(sys.stdin.fileno(), "r", close=False)  # read without blocking the clients
    job = json.loads(commands.readline())
    worker = Worker(job["url"])
    failed = worker.connect_all(job["tokens"], job["wave"])
    _say({"connected": len(worker.clients), "failed": failed})
    for line in commands:
        command = json.loads(line)
        if command.get("stop"):
            break
        _say(worker.wait(command["wait"], command["timeout"]))
    sys.stdout.flush()
    # No goodbye from each client: the server is stopped too, and thousands of disconnects only cost time.
    import os

    os._exit(0)


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


if __name__ == "__main__":
    work()
