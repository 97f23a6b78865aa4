"""Fixtures of the player's tests: real things on loopback.

- `content_server`: a small HTTP server playing the controller's content endpoint
  (`/api/panel/v1/content/<sha256>`, bearer token checked) and serving plain pages for `page` items.
- `kiosk`: the player's `Kiosk` served by gevent's pywsgi in a thread with its own gevent hub, as the
  player serves it; the test thread talks to it over real HTTP and calls into its hub when it must.
- `events`: a page attached to the kiosk, its `/events` stream past the `retry:` preamble.
- `browser` (tests/conftest.py): Debian's Chromium driven by Playwright (its own browser is never downloaded).
- `kiosk_browser`: Chromium showing the kiosk page, as the panel runs it, its DevTools on loopback.
- `standin`: a stand-in controller (Socket.IO `/panel`, `/api/panel/v1/self`, pairing): standin.py.
- `start_player`: `python -m player` as a real process over a data directory; stopped at the end.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import secrets
import signal
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from player.cache import ContentCache
from player.kiosk import Kiosk, serve
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.player.standin import PlayerProcess, StandIn

HTTP_TIMEOUT = 5.0
CONTENT_PATH = "/api/panel/v1/content/"


# --- the controller's content endpoint ------------------------------------------------------------


@dataclass
class ContentServer:
    """What the fake controller holds, and every request it was sent (path, Authorization header)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    content: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    lies: dict[str, bytes] = field(default_factory=dict)  # sha256 -> the wrong body served for it
    cut: set[str] = field(default_factory=set)  # sha256 whose chunked download stops half way
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path -> body, MIME type
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""

    def add(self, data: bytes, mime: str) -> str:
        """Return the SHA-256 of `data`, now held by the controller."""
        sha256 = hashlib.sha256(data).hexdigest()
        self.content[sha256] = (data, mime)
        return sha256

    def content_requests(self, sha256: str) -> int:
        return sum(1 for path, _ in self.requests if path == CONTENT_PATH + sha256)


def _handler_for(state: ContentServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Authorization")))
            if self.path in state.pages:
                self._answer(200, *state.pages[self.path])
            elif not self.path.startswith(CONTENT_PATH):
                self._answer(404, b"not found", "text/plain")
            elif self.headers.get("Authorization") != f"Bearer {state.token}":
                self._answer(401, b"unauthorized", "text/plain")
            else:
                self._content(self.path[len(CONTENT_PATH) :])

        def _content(self, sha256: str) -> None:
            if sha256 not in state.content:
                self._answer(404, b"not found", "text/plain")
            elif sha256 in state.cut:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + b"x" * 100)
                self.close_connection = True
            else:
                data, mime = state.content[sha256]
                self._answer(200, state.lies.get(sha256, data), mime, etag=sha256)

        def _answer(self, status: int, body: bytes, mime: str, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", f'"{etag}"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the requests are kept in `state.requests`

    return Handler


@pytest.fixture
def content_server() -> Iterator[ContentServer]:
    state = ContentServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def cache(tmp_path: Path, content_server: ContentServer) -> ContentCache:
    return ContentCache(
        tmp_path / "cache", content_server.url, timeout=HTTP_TIMEOUT, token=content_server.token
    )


# --- the kiosk, served as the player serves it -----------------------------------------------------


class KioskThread:
    """A `Kiosk` and its pywsgi server in a thread with its own gevent hub (the test process is not
    monkey-patched, so the hub must not share a thread with blocking test code)."""

    def __init__(self, cached: Callable[[str], tuple[Path, str] | None]) -> None:
        self._cached = cached
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-hub", daemon=True)
        self.kiosk: Kiosk
        self.url = ""

    def start(self) -> KioskThread:
        self._thread.start()
        assert self._ready.wait(HTTP_TIMEOUT), "the kiosk server did not start"
        return self

    def _run(self) -> None:
        hub = gevent.get_hub()
        self._loop = hub.loop
        self._stopping = gevent.event.Event()
        self.kiosk = Kiosk(self._cached)
        server = serve(self.kiosk, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.server_port}"
        self._ready.set()
        self._stopping.wait()
        server.stop(timeout=1)
        hub.destroy(destroy_loop=True)

    def call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Return the future result of `function(*args)`, run in a greenlet of the kiosk's hub."""
        future: Future = Future()

        def done(greenlet: gevent.Greenlet) -> None:
            if greenlet.successful():
                future.set_result(greenlet.value)
            else:
                future.set_exception(greenlet.exception)

        self._loop.run_callback_threadsafe(lambda: gevent.spawn(function, *args).link(done))
        return future

    def stop(self) -> None:
        self._loop.run_callback_threadsafe(self._stopping.set)
        self._thread.join(HTTP_TIMEOUT)
        assert not self._thread.is_alive(), "the kiosk server did not stop"


@pytest.fixture
def kiosk(cache: ContentCache) -> Iterator[KioskThread]:
    served = KioskThread(cache.get).start()
    try:
        yield served
    finally:
        served.stop()


# --- HTTP as a client sees it ----------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    """Return the answer to a GET (or a POST when `data` is given), whatever its status."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, dict(error.headers.items()), error.read())


def post_json(url: str, body: Any) -> Answer:
    return request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})


class EventStream:
    """A page's `/events` connection, read block by block (one SSE message or comment per block)."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT)
        self.connection.request("GET", "/events", headers={"Accept": "text/event-stream"})
        self.response = self.connection.getresponse()

    def next_block(self) -> str:
        lines = []
        while (line := self.response.readline()) not in (b"\n", b""):
            lines.append(line.decode())
        return "".join(lines)

    def close(self) -> None:
        self.response.close()
        self.connection.close()


def sse_data(block: str, event: str = "show") -> dict[str, Any]:
    """Return the JSON of an SSE message block of this `event` (a `show` unless said otherwise)."""
    fields = dict(line.split(": ", 1) for line in block.splitlines())
    assert fields.get("event") == event, block
    return json.loads(fields["data"])


# --- images and screens ----------------------------------------------------------------------------


def solid_png(rgb: tuple[int, int, int], size: int = 64) -> bytes:
    """Return a PNG of one colour, written by hand (the screenshots are read with another library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size  # filter type 0, then RGB pixels
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def pixel(png: bytes, x: float, y: float) -> tuple[int, int, int]:
    """Return the colour at (x, y), given as fractions of the image's width and height."""
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((int(rgb.width * x), int(rgb.height * y)))


def count_near(png: bytes, colour: tuple[int, int, int], box: tuple[float, float, float, float]) -> int:
    """Return how many pixels in `box` (fractions: left, top, right, bottom) are near `colour`."""
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        corners = (int(f * n) for f, n in zip(box, (*rgb.size, *rgb.size), strict=True))
        data = rgb.crop(tuple(corners)).tobytes()
    return sum(1 for i in range(0, len(data), 3) if close_to(tuple(data[i : i + 3]), colour, tolerance=40))


def close_to(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


@pytest.fixture
def screen(browser: Browser) -> Iterator[Page]:
    """A fresh 640×360 browser page, closed afterwards."""
    context = browser.new_context(viewport={"width": 640, "height": 360})
    try:
        yield context.new_page()
    finally:
        context.close()


# --- the kiosk browser as the panel runs it: Chromium with DevTools on loopback ------------------------


class KioskBrowser:
    """Chromium (headless, full screen) showing `url`, its DevTools on a loopback port it picks itself."""

    def __init__(self, url: str, profile: Path) -> None:
        self.profile = profile
        argv = [CHROMIUM, *CHROMIUM_ARGS, "--headless=new", "--kiosk"]  # full screen, as on a panel
        argv += ["--remote-debugging-port=0", f"--user-data-dir={profile}", url]
        # A session of its own: the browser and its helpers are stopped together, by the group's id.
        self.popen = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def devtools_url(self) -> str:
        """Return DevTools' address, once Chromium has written it (DevToolsActivePort: port, then path)."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (active.exists() and active.read_text().strip()):
            assert self.popen.poll() is None, "Chromium exited"
            assert time.monotonic() < deadline, "Chromium did not open DevTools"
            time.sleep(0.05)
        return f"http://127.0.0.1:{active.read_text().split()[0]}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


@pytest.fixture
def kiosk_browser(kiosk: KioskThread, tmp_path: Path) -> Iterator[KioskBrowser]:
    """Chromium showing the kiosk page, attached to its events."""
    browser = KioskBrowser(kiosk.url + "/", tmp_path / "chromium")
    try:
        deadline = time.monotonic() + 20
        while request(kiosk.url + "/healthz").body != b"attached":
            assert time.monotonic() < deadline, "the kiosk page never attached"
            time.sleep(0.05)
        yield browser
    finally:
        browser.stop()


@pytest.fixture
def events(kiosk: KioskThread) -> Iterator[EventStream]:
    """A page attached to the kiosk: its `/events` stream, open, past the `retry:` preamble."""
    stream = EventStream(kiosk.url)
    try:
        assert stream.next_block() == "retry: 1000\n"
        yield stream
    finally:
        stream.close()


# --- the controller's other side, and the player as a process ----------------------------------------


@pytest.fixture
def standin() -> Iterator[StandIn]:
    served = StandIn().start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def start_player(tmp_path: Path) -> Iterator[Callable[..., PlayerProcess]]:
    """Start `python -m player` over a data directory (fast retries); each one is stopped at the end."""
    started: list[PlayerProcess] = []

    def start(data_dir: Path, controller_url: str, env: dict[str, str] | None = None) -> PlayerProcess:
        fast = {"CLASSCAST_PLAYER_RETRY_MIN": "0.1", "CLASSCAST_PLAYER_RETRY_MAX": "0.5"}
        log = tmp_path / f"player-{len(started)}.log"
        started.append(PlayerProcess(data_dir, controller_url, log, {**fast, **(env or {})}))
        return started[-1]

    yield start
    for player in started:
        player.stop()
