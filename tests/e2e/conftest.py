"""Real processes for end-to-end tests: a controller, players, agents, and Debian's Chromium."""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 10) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class Processes:
    """Real programs started for a test or a module, stderr to a log each; all stopped by `stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start `argv` (a whole command line) as `name`, its stderr to `<log_dir>/<name>.log`."""
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as stderr:
            popen = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
            )
        self.started.append(Proc(name, popen, log))
        return self.started[-1]

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()
            if proc.popen.stdout:
                proc.popen.stdout.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start a Python program as a real process (stderr to a log file); every one is stopped at the end."""
    processes = Processes(tmp_path)

    def start(name: str, *argv: str, env: dict[str, str] | None = None) -> Proc:
        return processes.start(name, [sys.executable, *argv], env)

    yield start
    processes.stop_all()


@dataclass
class Controller:
    proc: Proc
    url: str  # the web address, http://127.0.0.1:<port>
    telemetry: str  # the ZeroMQ endpoint the agents ship to


def serve_controller(
    spawn: Callable[..., Proc], data_dir: Path, env: dict[str, str] | None = None
) -> Controller:
    """Start `classcast-controller serve` on free loopback ports over `data_dir`; return where it listens."""
    proc = spawn(
        "controller", "-m", "controller", "serve", "--data-dir", str(data_dir), "--port", "0",
        "--telemetry-bind", "tcp://127.0.0.1:*", env={"CLASSCAST_SECURE_COOKIES": "false", **(env or {})},
    )  # fmt: skip
    return Controller(proc, read_line(proc, "ClassCast controller: "), read_line(proc, "telemetry: "))


def read_line(proc: Proc, prefix: str, timeout: float = 20) -> str:
    """Return the rest of the first stdout line of `proc` that starts with `prefix`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.popen.stdout.readline().decode()
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
        if not line and proc.popen.poll() is not None:
            break
    raise AssertionError(f"{proc.name} never printed {prefix!r}; its log:\n{proc.log_text()}")


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, sleep: Callable[[float], Any] = time.sleep
) -> Any:
    """Return check()'s first true value; `sleep` is gevent.sleep where greenlets must run meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class WebUser:
    """A person at the controller's web UI, over real HTTP with a cookie jar."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf = ""

    def sign_in(self, login: str, password: str) -> None:
        page = self.opener.open(self.base_url + "/login", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"login": login, "password": password, "csrf_token": token}).encode()
        self.opener.open(self.base_url + "/login", data=form, timeout=10).read()
        self.csrf = self.get_json("/api/session")["csrf_token"]

    def get_json(self, path: str) -> Any:
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return json.loads(response.read())

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf},
        )
        with self.opener.open(request, timeout=30) as response:
            return json.loads(response.read())


def solid_png(rgb: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, format="PNG")
    return out.getvalue()


def centre_pixel(png: bytes) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))


def close_to(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def signed_in_page(
    browser: Any, base_url: str, path: str, login: str, password: str, landed: Any, **context: Any
) -> tuple[Any, list[str]]:
    """Return a new page signed in as `login` through the real form (opening `path` sends it there and
    back, to the address `landed` matches), and the list its script errors and CSP violations go to.

    A refused request (a 4xx the page explains) is logged by the browser as an error; it is expected.
    """
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "ru-RU", "accept_downloads": True}
    page = browser.new_context(**{**options, **context}).new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if "Content Security Policy" in m.text or (m.type == "error" and "status of" not in m.text)
            else None
        ),
    )
    page.goto(base_url + path)
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(landed)
    return page, problems
