"""A small client of the kiosk browser's DevTools protocol, on loopback: its targets, and calls.

Chromium serves DevTools on 127.0.0.1 (`--remote-debugging-port`, systemd/classcast-kiosk.service):
`GET /json/list` lists the targets; each page has a WebSocket to send it commands. The player uses it
to capture what the screen shows, and to watch and mend the kiosk page (player/recovery.py); one
connection per call keeps the client stateless, so a browser that restarted between two calls costs
nothing.
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
    """`code`: "no_browser" (no DevTools, or no page open) or "call_failed" (the call itself failed).

    `timed_out`: the browser took the connection but did not answer in time (it may be hung), as
    opposed to refusing it (it is not running).
    """

    def __init__(self, code: str, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.code, self.timed_out = code, timed_out


class DevTools:
    """The browser at `url` (e.g. http://127.0.0.1:9222); `page_url` says which page is the kiosk's."""

    def __init__(self, url: str, page_url: str = "", timeout: float = TIMEOUT_S) -> None:
        self.url, self.page_url, self.timeout = url.rstrip("/"), page_url, timeout
        self.http = requests.Session()

    def targets(self) -> list[dict[str, Any]]:
        """Return the browser's targets (pages, workers …) as /json/list describes them."""
        found = self._json("GET", "/json/list")
        return [target for target in found if isinstance(target, dict)] if isinstance(found, list) else []

    def pages(self) -> list[dict[str, Any]]:
        """Return the browser's pages that take commands, the most recently active first."""
        return [t for t in self.targets() if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]

    def page(self) -> dict[str, Any]:
        """Return the kiosk page's target, or another page's when the kiosk page is not open."""
        pages = self.pages()
        if not pages:
            raise DevToolsError("no_browser", "the browser has no page open")
        return ([t for t in pages if self.is_kiosk(t)] or pages)[0]

    def kiosk_page(self) -> dict[str, Any] | None:
        """Return the kiosk page's target; None when no page of the browser is at the kiosk's address."""
        return next((t for t in self.pages() if self.is_kiosk(t)), None)

    def is_kiosk(self, target: dict[str, Any]) -> bool:
        """Return whether `target` is a page at the kiosk page's address."""
        return bool(self.page_url) and str(target.get("url", "")).startswith(self.page_url)

    def open_page(self, url: str) -> dict[str, Any]:
        """Return the target of a new page opened at `url`, in front of the others."""
        found = self._json("PUT", f"/json/new?{url}")  # Chromium takes the whole query as the address
        if not (isinstance(found, dict) and found.get("id")):
            raise DevToolsError("call_failed", f"opening {url} gave no page")
        return found

    def close_page(self, target: dict[str, Any]) -> None:
        """Close `target`'s page (its renderer goes with it, even a hung one)."""
        try:
            answer = self.http.get(f"{self.url}/json/close/{target['id']}", timeout=self.timeout)
            answer.raise_for_status()
        except requests.RequestException as exc:
            raise _http_error(self.url, exc) from exc

    def call(
        self, method: str, params: dict[str, Any] | None = None, target: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Return the result of `method` run in `target` (the kiosk page unless said otherwise)."""
        connection = self._connect(target or self.page())
        try:
            _send(connection, _CALL_ID, method, params)
            reply = _reply(connection)
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            raise DevToolsError("call_failed", f"{method}: {exc}", _is_timeout(exc)) from exc
        finally:
            connection.close()
        if "error" in reply:
            error = reply["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise DevToolsError("call_failed", f"{method}: {message}")
        return reply.get("result") or {}

    def renderer_state(self, target: dict[str, Any]) -> str:
        """Return "ok" when `target` runs a trivial script in time, "crashed" or "hung" when it does not.

        Raises DevToolsError when the browser itself does not take the connection.
        """
        connection = self._connect(target)
        try:
            # Inspector.enable: a page whose renderer crashed says so (Inspector.targetCrashed) at once;
            # a hung one takes the commands and answers none that its renderer must run.
            _send(connection, _CALL_ID, "Inspector.enable")
            _send(connection, _CALL_ID + 1, "Runtime.evaluate", {"expression": "1", "returnByValue": True})
            while True:
                message = json.loads(connection.recv())
                if isinstance(message, dict) and message.get("method") == "Inspector.targetCrashed":
                    return "crashed"
                if isinstance(message, dict) and message.get("id") == _CALL_ID + 1:
                    return "ok"  # even an error answer: the renderer is there to give it
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            if _is_timeout(exc):
                return "hung"
            raise DevToolsError("call_failed", f"Runtime.evaluate: {exc}") from exc
        finally:
            connection.close()

    def screenshot_png(self) -> bytes:
        """Return what the kiosk page shows now, as a PNG."""
        result = self.call("Page.captureScreenshot", {"format": "png"})
        try:
            return base64.b64decode(result["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise DevToolsError("call_failed", f"Page.captureScreenshot gave no image: {exc}") from exc

    def _json(self, method: str, path: str) -> Any:
        try:
            answer = self.http.request(method, f"{self.url}{path}", timeout=self.timeout)
            answer.raise_for_status()
            return answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise _http_error(self.url, exc) from exc

    def _connect(self, target: dict[str, Any]) -> websocket.WebSocket:
        address = target["webSocketDebuggerUrl"]
        try:
            # No Origin header: Chromium refuses WebSocket clients from origins it was not told to allow.
            return websocket.create_connection(address, timeout=self.timeout, suppress_origin=True)
        except (OSError, websocket.WebSocketException) as exc:
            raise DevToolsError("no_browser", f"cannot open {address}: {exc}", _is_timeout(exc)) from exc


def _http_error(url: str, exc: Exception) -> DevToolsError:
    timed_out = isinstance(exc, requests.Timeout)
    return DevToolsError("no_browser", f"no browser DevTools at {url}: {exc}", timed_out)


def _is_timeout(exc: Exception) -> bool:
    return isinstance(exc, TimeoutError | websocket.WebSocketTimeoutException)


def _send(
    connection: websocket.WebSocket, call_id: int, method: str, params: dict[str, Any] | None = None
) -> None:
    connection.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))


def _reply(connection: websocket.WebSocket) -> dict[str, Any]:
    """Return the answer to our call, skipping the events the page may send before it."""
    while True:
        message = json.loads(connection.recv())
        if isinstance(message, dict) and message.get("id") == _CALL_ID:
            return message
