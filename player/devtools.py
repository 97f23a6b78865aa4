"""A small client of the kiosk browser's DevTools protocol, on loopback: its targets, and calls.

Chromium serves DevTools on 127.0.0.1 (`--remote-debugging-port`, systemd/classcast-kiosk.service):
`GET /json/list` lists the targets; each page has a WebSocket to send it commands. The player uses it
to capture what the screen shows; one connection per call keeps the client stateless, so a browser
that restarted between two calls costs nothing.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import requests
import websocket

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
_CALL_ID = 1


class DevToolsError(Exception):
    """`code`: "no_browser" (no DevTools, or no page open) or "call_failed" (the call itself failed)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DevTools:
    """The browser at `url` (e.g. http://127.0.0.1:9222); `page_url` says which page is the kiosk's."""

    def __init__(self, url: str, page_url: str = "", timeout: float = TIMEOUT_S) -> None:
        self.url, self.page_url, self.timeout = url.rstrip("/"), page_url, timeout
        self.http = requests.Session()

    def targets(self) -> list[dict[str, Any]]:
        """Return the browser's targets (pages, workers …) as /json/list describes them."""
        try:
            answer = self.http.get(f"{self.url}/json/list", timeout=self.timeout)
            answer.raise_for_status()
            found = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise DevToolsError("no_browser", f"no browser DevTools at {self.url}: {exc}") from exc
        return [target for target in found if isinstance(target, dict)] if isinstance(found, list) else []

    def page(self) -> dict[str, Any]:
        """Return the kiosk page's target, or another page's when the kiosk page is not open."""
        pages = [t for t in self.targets() if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if not pages:
            raise DevToolsError("no_browser", "the browser has no page open")
        kiosk = [t for t in pages if self.page_url and str(t.get("url", "")).startswith(self.page_url)]
        return (kiosk or pages)[0]

    def call(
        self, method: str, params: dict[str, Any] | None = None, target: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Return the result of `method` run in `target` (the kiosk page unless said otherwise)."""
        address = (target or self.page())["webSocketDebuggerUrl"]
        try:
            # No Origin header: Chromium refuses WebSocket clients from origins it was not told to allow.
            connection = websocket.create_connection(address, timeout=self.timeout, suppress_origin=True)
        except (OSError, websocket.WebSocketException) as exc:
            raise DevToolsError("no_browser", f"cannot open {address}: {exc}") from exc
        try:
            connection.send(json.dumps({"id": _CALL_ID, "method": method, "params": params or {}}))
            reply = _reply(connection)
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            raise DevToolsError("call_failed", f"{method}: {exc}") from exc
        finally:
            connection.close()
        if "error" in reply:
            error = reply["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise DevToolsError("call_failed", f"{method}: {message}")
        return reply.get("result") or {}

    def screenshot_png(self) -> bytes:
        """Return what the kiosk page shows now, as a PNG."""
        result = self.call("Page.captureScreenshot", {"format": "png"})
        try:
            return base64.b64decode(result["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise DevToolsError("call_failed", f"Page.captureScreenshot gave no image: {exc}") from exc


def _reply(connection: websocket.WebSocket) -> dict[str, Any]:
    """Return the answer to our call, skipping the events the page may send before it."""
    while True:
        message = json.loads(connection.recv())
        if isinstance(message, dict) and message.get("id") == _CALL_ID:
            return message
