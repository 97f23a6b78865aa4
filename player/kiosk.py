"""The kiosk page's server, on loopback: the page, its events stream, and what it reports back.

The kiosk browser opens `/`; the page listens on `/events` (server-sent events) for what to show and
posts to `/shown` once an item is on screen. A page that (re)connects is sent the current item at
once, so a reloaded or restarted browser comes back to what it was showing. Until the panel is
paired, the page shows the pairing screen instead (a `pairing` event, and the QR code at /pairing.svg).
A `preload` event has the page load the next item off screen, so its `show` swaps it in at once
(the schedule's next item). A `clear` event takes the page back to its idle screen; an `identify`
event lays the panel's name and room over the screen for a few seconds, reported on `/shown` like an
item, under its own id; so are a `control` (the remote's view of the cast: page, playing, blank,
frozen) and an `alert` (a card over everything, or none).

Cached files are served at /cache/<sha256> (with byte ranges, so a video can seek), an HTML5 bundle's
files at /bundle/<sha256>/<path>, under a policy that keeps a bundle to its own files. The page shows
a bundle in a frame sandboxed without allow-same-origin: its origin is opaque, and /events and
/shown refuse any origin but the page's own.
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

from player.files import bundle_headers, ranged_file
from player.qr import qr_svg

log = logging.getLogger(__name__)

_STATIC = files("player") / "static"
_STATIC_FILES = {"kiosk.js", "kiosk.css"}
_CACHE_PATH = re.compile(r"/cache/([0-9a-f]{64})")
_BUNDLE_PATH = re.compile(r"/bundle/([0-9a-f]{64})/(.+)")
_PAGE_ERRORS = ("bad_item", "fetch_failed", "not_shown", "replaced")  # what a page may report
_KEEPALIVE_S = 15.0
_SHOW_KEYS = ("cast_id", "item", "view")  # what a `show` event carries to the page
_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-src http: https:; img-src 'self'; object-src 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
]
StartResponse = Callable[..., Any]
FileLookup = Callable[..., tuple[Path, str] | None]


class Kiosk:
    """What the page shows now, the pages attached, and the wait for each item to be shown."""

    def __init__(self, cached: FileLookup, bundle_file: FileLookup | None = None) -> None:
        self._cached_file = cached
        self.bundle_file = bundle_file  # (sha256, path) -> a bundle's file; None: no bundles
        self.current: dict[str, Any] | None = None  # {"cast_id", "item", "view"?}
        self.shown: str | None = None  # the cast the page last reported on screen
        self.alert: dict[str, Any] | None = None  # the alert to show over everything
        self.alert_shown: str | None = None  # the id of the alert the page last reported up
        self._alert_message: dict[str, Any] | None = None  # the last `alert` event, for pages to come
        self._preloading: dict[str, Any] | None = None  # the last `preload` not yet shown
        self._pages: set[gevent.queue.Queue] = set()
        self._waiting: dict[str, list[gevent.event.AsyncResult]] = {}
        self.attached = gevent.event.Event()
        self.pairing: dict[str, Any] | None = None
        self._qr: tuple[str, bytes] | None = None  # (the text it encodes, the SVG)
        # Told what is on screen whenever that changes: the cast's message, or None for the idle look.
        self.on_screen: Callable[[dict[str, Any] | None], None] = lambda message: None
        # Told when the alert on screen changes: the alert, or None once the page took it down.
        self.on_alert: Callable[[dict[str, Any] | None], None] = lambda alert: None

    @property
    def pages(self) -> int:
        return len(self._pages)

    def show(
        self,
        cast_id: str,
        item: dict[str, Any],
        timeout: float,
        view: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        start: float | None = None,
    ) -> dict[str, Any]:
        """Return the page's report once `item` is on screen: {"ok", "shown_at"} or an error answer.

        `meta` rides along for `on_screen` (the schedule's {"source", "lesson"}); `start` has a video
        begin that many seconds in. A video's report also has its `length` in seconds.
        """
        message: dict[str, Any] = {"cast_id": cast_id, "item": item}
        if view is not None:
            message["view"] = view
        if start is not None:
            message["start"] = round(start, 3)
        self.current = {**(meta or {}), **message}
        self._preloading = None
        return self._await_report(cast_id, "show", message, timeout)

    def preload(self, cast_id: str, item: dict[str, Any]) -> None:
        """Have the page load `item` off screen now: its `show` under `cast_id` then swaps it in at once."""
        self._preloading = {"cast_id": cast_id, "item": item}  # a page that attaches meanwhile gets it too
        self._send("preload", self._preloading)

    def control(self, cast_id: str, view: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Return the page's report once it applied `view` to the cast on screen, or why it did not."""
        if self.current is None or self.current["cast_id"] != cast_id or self.shown != cast_id:
            return {"ok": False, "error": "not_shown"}
        self.current = {**self.current, "view": view}  # a page that attaches later starts from it
        if not self._pages:
            return {"ok": False, "error": "no_display"}
        report_id = "control:" + secrets.token_hex(4)
        return self._await_report(
            report_id, "control", {"id": report_id, "cast_id": cast_id, "view": view}, timeout
        )

    def show_alert(self, alert: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        """Return the page's report once `alert` is over the screen (or, for None, gone), or why not.

        The alert stays the kiosk's either way: a page that attaches later shows it at once (and its
        report then answers this wait, as for `show`).
        """
        report_id = "alert:" + secrets.token_hex(4)
        self.alert, self._alert_message = alert, {"id": report_id, "alert": alert}
        return self._await_report(report_id, "alert", self._alert_message, timeout)

    def clear(self) -> None:
        """Take the screen back to its idle look (the clock), and a page that attaches later too."""
        if self.shown is not None:
            self.on_screen(None)
        self.current = self.shown = self._preloading = None
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
        """Take a page's report that an item (or a card or a view, by `id`) is on screen, or is not."""
        shown = body.get("ok") is True and isinstance(body.get("shown_at"), int | float)
        if shown and self.current is not None and body.get("cast_id") == self.current["cast_id"]:
            if self.shown != self.current["cast_id"]:
                self.on_screen(self.current)
            self.shown = self.current["cast_id"]
        if shown and str(body.get("id")).startswith("alert:"):
            self._alert_reported(body.get("alert_id"))
        waiters = self._waiting.pop(str(body.get("id") or body.get("cast_id")), [])
        if shown:
            answer = {"ok": True, "shown_at": float(body["shown_at"])}
            if isinstance(body.get("length"), int | float) and not isinstance(body["length"], bool):
                answer["length"] = float(body["length"])
        else:
            error = body.get("error") if body.get("error") in _PAGE_ERRORS else "bad_item"
            answer = {"ok": False, "error": error, "message": str(body.get("message", ""))[:200]}
        for waiting in waiters:
            waiting.set(answer)

    def _alert_reported(self, alert_id: Any) -> None:
        # A late report of an alert already replaced changes nothing: only the kiosk's own alert counts.
        wanted = self.alert["id"] if self.alert is not None else None
        if alert_id == wanted and alert_id != self.alert_shown:
            self.alert_shown = wanted
            self.on_alert(self.alert)

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
        if path in ("/events", "/shown") and not _own_origin(environ):
            return _plain(start_response, "403 Forbidden", b"not this page's")
        if method == "GET" and path == "/events":
            start_response("200 OK", [("Content-Type", "text/event-stream"), *_HEADERS])
            return self._stream()
        if method == "POST" and path == "/shown":
            return self._shown(environ, start_response)
        if method == "GET" and (match := _CACHE_PATH.fullmatch(path)):
            return self._serve(environ, start_response, self._cached_file(match.group(1)), _HEADERS)
        if method == "GET" and (match := _BUNDLE_PATH.fullmatch(path)) and self.bundle_file is not None:
            found = self.bundle_file(*match.groups())
            policy = bundle_headers(environ.get("HTTP_HOST", ""), match.group(1))
            return self._serve(environ, start_response, found, policy)
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
                yield _event("show", {key: self.current[key] for key in _SHOW_KEYS if key in self.current})
            if self._alert_message is not None:
                yield _event("alert", self._alert_message)
            if self._preloading is not None:
                yield _event("preload", self._preloading)
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
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
            return _plain(start_response, "415 Unsupported Media Type", b"JSON only")
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 4096)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _plain(start_response, "400 Bad Request", b"bad report")
        if isinstance(body, dict):
            body.setdefault("reported_at", time.time())
            self.report(body)
        return _plain(start_response, "204 No Content", b"")

    def _serve(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        found: tuple[Path, str] | None,
        headers: list[tuple[str, str]],
    ) -> Iterator[bytes] | list[bytes]:
        if found is None:
            return _plain(start_response, "404 Not Found", b"not cached")
        return ranged_file(environ, start_response, *found, headers)


def _own_origin(environ: dict[str, Any]) -> bool:
    """Return whether a request comes from the kiosk page itself (a sandboxed frame's origin is "null")."""
    origin = environ.get("HTTP_ORIGIN")
    return origin is None or origin == "http://" + environ.get("HTTP_HOST", "")


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
