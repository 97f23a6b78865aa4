"""A seeded data folder, a real controller process on it, and staff signed in over keep-alive HTTP.

The benches of the panels' real-time path share it (bench/cast_latency.py, bench/alert_fanout.py):

- `seed` writes, with the project's own store functions, one municipality's schools, a room with one
  active panel each (25 rooms a school), a teacher in the first school and the municipality's
  `municipal` account, and returns the panels' tokens (the database keeps only their SHA-256).
- `ControllerProcess` runs `classcast-controller serve` on that folder, on free ports of loopback, and
  reads its memory (RSS) with psutil.
- `StaffSession` signs in once (the login form with its CSRF token, then `GET /api/session`) and
  then sends JSON requests on the same keep-alive connection, cookie and `X-CSRF-Token`, as the
  staff pages do in a browser.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import psutil

PASSWORD = "bench-пароль-123"
TEACHER, MUNICIPAL = "bench-teacher", "bench-municipal"
ROOMS_PER_SCHOOL = 25
MARK = "bench-seeded"  # a folder holding this file was made by a bench and may be wiped by one


@dataclass
class World:
    tokens: list[str]  # the panels' tokens, in panel id order
    cast_room: int  # the first school's first room, with one panel
    cast_token: str  # that panel's token


def seed(data_dir: Path, panels: int) -> World:
    """Return the world written to a fresh database in `data_dir` (a bench's earlier one is wiped)."""
    import zmq

    from controller.db import DB_FILE, Database
    from controller.store import orgs, users
    from controller.store import panels as panel_store

    if data_dir.exists():
        if not (data_dir / MARK).exists() and any(data_dir.iterdir()):
            sys.exit(f"{data_dir} holds something a bench did not make; give another --data-dir")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / MARK).write_text("made by bench/controller_world.py; wiped by the next run\n")
    keys = [zmq.curve_keypair()[0].decode() for _ in range(panels)]

    def build(db: Any) -> tuple[list[str], int, int, int]:
        region = orgs.create_region(db, "99", "Бенч-область")
        municipality = orgs.create_municipality(db, region, "Бенч-город")
        schools, rooms, tokens = [], [], []
        for n in range(panels):
            if n % ROOMS_PER_SCHOOL == 0:
                number = len(schools) + 1
                schools.append(orgs.create_school(db, municipality, f"Школа № {number}", f"СОШ № {number}"))
            rooms.append(orgs.create_room(db, schools[-1], f"Кабинет {100 + n % ROOMS_PER_SCHOOL}"))
            tokens.append(panel_store.enroll_panel(db, rooms[-1], f"Панель {n + 1}", keys[n])[1])
        return tokens, municipality, schools[0], rooms[0]

    db = Database(data_dir / DB_FILE)
    tokens, municipality, school, room = db.write(build)
    db.write(users.create_user, TEACHER, PASSWORD, "Учитель Бенчева", "teacher", "school", school)
    db.write(
        users.create_user, MUNICIPAL, PASSWORD, "Специалист МОУО", "municipal", "municipality", municipality
    )
    db.close()
    return World(tokens, room, tokens[0])


class ControllerProcess:
    """`classcast-controller serve` on a data folder, its log in the folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir / "controller.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        """Return the controller's address once it serves."""
        command = [str(Path(sys.executable).parent / "classcast-controller"), "serve"]
        command += ["--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--port", "0"]
        command += ["--telemetry-bind", "tcp://127.0.0.1:*", "--log-level", "INFO"]
        env = {**os.environ, "CLASSCAST_SECURE_COOKIES": "false"}  # plain HTTP on loopback
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ClassCast controller: "):
                self.url = line.split(": ", 1)[1].strip()
                return self.url
        sys.exit(f"the controller did not start; see {self.log_path}")

    def rss(self) -> int:
        """Return the controller's resident memory, bytes."""
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        """Return the CPU time the controller has used so far, all its threads, seconds."""
        assert self.proc is not None
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def open_files_limit(self) -> int:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).rlimit(psutil.RLIMIT_NOFILE)[0]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class StaffSession:
    """A member of staff signed in on one keep-alive HTTP/1.1 connection, as a browser holds one."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def sign_in(self, login: str, password: str = PASSWORD) -> None:
        """Sign in with the login form, then take the session's CSRF token for the API."""
        _, page = self._send("GET", "/login")
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.decode()).group(1)
        form = urlencode({"login": login, "password": password, "csrf_token": form_token}).encode()
        status, _ = self._send("POST", "/login", form, "application/x-www-form-urlencoded")
        if status != 302:
            sys.exit(f"{login} could not sign in: {status}")
        self.csrf = self.json("GET", "/api/session")[1]["csrf_token"]

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """Return the status and the JSON answer of one API request."""
        data = None if body is None else json.dumps(body).encode()
        status, answer = self._send(method, path, data, "application/json")
        return status, json.loads(answer) if answer else {}

    def _send(self, method: str, path: str, body: bytes | None = None, mime: str = "") -> tuple[int, bytes]:
        headers = {"Accept": "application/json, text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        if body is not None:
            headers["Content-Type"] = mime
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.msg.get_all("Set-Cookie") or []:
            self.cookies.update({name: morsel.value for name, morsel in SimpleCookie(header).items()})
        return response.status, data

    def close(self) -> None:
        self.conn.close()


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """Return the p50 and p99 of `seconds`, in milliseconds (nearest rank)."""
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p99 * 1000


def figures_line(name: str, figures: dict[str, object]) -> str:
    """Return the bench's last line: its name and its figures as key=value pairs."""
    pairs = (
        f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}"
        for key, value in figures.items()
    )
    return f"{name}: " + " ".join(pairs)


def settle(seconds: float = 2.0) -> None:
    """Wait for the controller to finish what connecting panels started (their writes, their logs)."""
    time.sleep(seconds)
