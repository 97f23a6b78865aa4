"""The kiosk page's server, on loopback: the page, its events stream, and what it reports back.

The kiosk browser opens `/`; the page listens on `/events` (server-sent events) for what to show and
posts to `/shown` once an item is on screen. A page that (re)connects is sent the current item at
once, so a reloaded or restarted browser comes back to what it was showing. Until the panel is
paired, the page shows the pairing screen instead (a `pairing` event, and the QR code at /pairing.svg).
A `clear` event takes the page back to its idle screen; an `identify` event lays the panel's name and
room over the screen for a few seconds, reported on `/shown` like an item, under its own id.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.queue
from gevent import pywsgi

from player.qr import qr_svg

log = logging.getLogger(__name__)

_STATIC = files("player") / "static"
_STATIC_FILES = {"kiosk.js", "kiosk.css"}
_CACHE_PATH = re.compile(r"/cache/([0-9a-f]{64})")
_KEEPALIVE_S = 15.0
_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-src http: https:; img-src 'self'; object-src 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
]
StartResponse = Callable[..., Any]


class Kiosk:
    """What the page shows now, the pages attached, and the wait for each item to be shown."""

    def __init__(self, cached: Callable[[str], tuple[Path, str] | None]) -> None:
        self._cached_file = cached
        self.current: dict[str, Any] | None = None
        self.shown: str | None = None  # the cast the page last reported on screen
        self._pages: set[gevent.queue.Queue] = set()
        self._waiting: dict[str, list[gevent.event.AsyncResult]] = {}
        self.attached = gevent.event.Event()
        self.pairing: dict[str, Any] | None = None
        self._qr: tuple[str, bytes] | None = None  # (the text it encodes, the SVG)
        # Told what is on screen whenever that changes: the cast's message, or None for the idle look.
        self.on_screen: Callable[[dict[str, Any] | None], None] = lambda message: None

    @property
    def pages(self) -> int:
        return len(self._pages)

    def show(self, cast_id: str, item: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Return the page's report once `item` is on screen: {"ok", "shown_at"} or an error answer."""
        message = {"cast_id": cast_id, "item": item}
        self.current = message
        return self._await_report(cast_id, "show", message, timeout)

    def clear(self) -> None:
        """Take the screen back to its idle look (the clock), and a page that attaches later too."""
        if self.shown is not None:
            self.on_screen(None)
        self.current = self.shown = None
        self._send("clear", {})

    def identify(self, card: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Return the page's report once the name card ({"name", "room", "school", "seconds"}) is up."""
        if not self._pages:
            return {"ok": False, "error": "no_display"}
        report_id = "identify:" + secrets.token_hex(4)
        return self._await_report(report_id, "identify", {**card, "id": report_id}, timeout)

    def _await_report(self, key: str, event: str, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        done = gevent.event.AsyncResult()
        # A list: the state applied at start and the controller's may wait for the same cast at once.
        self._waiting.setdefault(key, []).append(done)
        self._send(event, message)
        try:
            return done.get(timeout=timeout)
        except gevent.Timeout:
            return {"ok": False, "error": "timeout" if self._pages else "no_display"}
        finally:
            waiters = self._waiting.get(key, [])
            if done in waiters:
                waiters.remove(done)
            if not waiters:
                self._waiting.pop(key, None)

    def show_pairing(self, pairing: dict[str, Any] | None) -> None:
        """Show the pairing screen with this code (see player.pairing), or leave it with None."""
        if pairing is not None and pairing.get("approve_url"):
            if self._qr is None or self._qr[0] != pairing["approve_url"]:
                self._qr = (pairing["approve_url"], qr_svg(pairing["approve_url"]))
            pairing = {**pairing, "qr": "/pairing.svg?code=" + str(pairing.get("code"))}
        if pairing == self.pairing:
            return
        self.pairing = pairing
        self._send("pairing", pairing or {"done": True})

    def _send(self, event: str, message: dict[str, Any]) -> None:
        for page in list(self._pages):
            page.put((event, message))

    def report(self, body: dict[str, Any]) -> None:
        """Take a page's report that an item (or the name card, by `id`) is on screen, or is not."""
        shown = body.get("ok") is True and isinstance(body.get("shown_at"), int | float)
        if shown and self.current is not None and body.get("cast_id") == self.current["cast_id"]:
            if self.shown != self.current["cast_id"]:
                self.on_screen(self.current)
            self.shown = self.current["cast_id"]
        waiters = self._waiting.pop(str(body.get("id") or body.get("cast_id")), [])
        if shown:
            answer = {"ok": True, "shown_at": float(body["shown_at"])}
        else:
            error = body.get("error") if body.get("error") in ("bad_item", "fetch_failed") else "bad_item"
            answer = {"ok": False, "error": error, "message": str(body.get("message", ""))[:200]}
        for waiting in waiters:
            waiting.set(answer)

    # --- WSGI ---------------------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterator[bytes] | list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        if method == "GET" and path == "/":
            return _file(start_response, _STATIC / "kiosk.html", "text/html; charset=utf-8")
        if method == "GET" and path.startswith("/static/") and path[8:] in _STATIC_FILES:
            return _file(start_response, _STATIC / path[8:], mimetypes.guess_type(path)[0] or "text/plain")
        if method == "GET" and path == "/pairing.svg" and self._qr is not None:
            return _file_bytes(start_response, self._qr[1], "image/svg+xml")
        if method == "GET" and path == "/healthz":
            return _plain(start_response, "200 OK", b"attached" if self._pages else b"waiting")
        if method == "GET" and path == "/events":
            start_response("200 OK", [("Content-Type", "text/event-stream"), *_HEADERS])
            return self._stream()
        if method == "POST" and path == "/shown":
            return self._shown(environ, start_response)
        match = _CACHE_PATH.fullmatch(path)
        if method == "GET" and match:
            return self._cached(match.group(1), start_response)
        return _plain(start_response, "404 Not Found", b"not found")

    def _stream(self) -> Iterator[bytes]:
        page: gevent.queue.Queue = gevent.queue.Queue()
        self._pages.add(page)
        self.attached.set()
        log.info("kiosk page attached (%d open)", len(self._pages))
        try:
            yield b"retry: 1000\n\n"
            if self.pairing is not None:
                yield _event("pairing", self.pairing)
            if self.current is not None:
                yield _event("show", self.current)
            while True:
                try:
                    yield _event(*page.get(timeout=_KEEPALIVE_S))
                except gevent.queue.Empty:
                    yield b": keep-alive\n\n"
        finally:
            self._pages.discard(page)
            if not self._pages:
                self.attached.clear()
            log.info("kiosk page detached (%d open)", len(self._pages))

    def _shown(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 4096)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _plain(start_response, "400 Bad Request", b"bad report")
        if isinstance(body, dict):
            body.setdefault("reported_at", time.time())
            self.report(body)
        return _plain(start_response, "204 No Content", b"")

    def _cached(self, sha256: str, start_response: StartResponse) -> list[bytes]:
        found = self._cached_file(sha256)
        if found is None:
            return _plain(start_response, "404 Not Found", b"not cached")
        return _file(start_response, *found)


def _event(name: str, message: dict[str, Any]) -> bytes:
    data = json.dumps(message, ensure_ascii=False).encode()
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *_HEADERS])
    return [body]


def _file(start_response: StartResponse, path: Any, mime: str) -> list[bytes]:
    return _file_bytes(start_response, path.read_bytes(), mime)


def _file_bytes(start_response: StartResponse, data: bytes, mime: str) -> list[bytes]:
    start_response("200 OK", [("Content-Type", mime), ("Content-Length", str(len(data))), *_HEADERS])
    return [data]


def serve(kiosk: Kiosk, host: str, port: int) -> pywsgi.WSGIServer:
    """Return the started kiosk server (port 0 picks a free one: see `server.server_port`)."""
    server = pywsgi.WSGIServer((host, port), kiosk, log=None, error_log=logging.getLogger("player.http"))
    server.start()
    log.info("kiosk page at http://%s:%d/", host, server.server_port)
    return server
