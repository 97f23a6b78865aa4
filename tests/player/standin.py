"""A stand-in controller for the player's tests, and the player as a real process.

`StandIn` plays the controller's side that the player talks to: the Socket.IO namespace `/panel`
(panels sign in with their token; commands go down with an ack), `GET /api/panel/v1/self` and the
pairing endpoints. It is python-socketio's own server (threading mode, Werkzeug) on loopback, not the
controller, whose side is tested in tests/controller and tests/e2e.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import socketio
import zmq
from werkzeug.serving import WSGIRequestHandler, make_server

from classcast.protocol import PANEL_NAMESPACE

SELF = "/api/panel/v1/self"
PAIRINGS = "/api/panel/v1/pairings"
WAIT_S = 20.0


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Return the first true value of `check()`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
    return value


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # every request is kept in `StandIn.requests`; the polls would drown the test's log


@dataclass
class StandIn:
    """What the stand-in controller knows and saw. Tokens are "active", "revoked" or absent (unknown)."""

    tokens: dict[str, str] = field(default_factory=dict)
    refusal: str | None = "unauthorized"  # the reason a refused connection is given (None: no reason)
    self_answer: tuple[int, bytes] | None = None  # forced answer of SELF, e.g. (503, b"")
    sessions: dict[str, str] = field(default_factory=dict)  # live Socket.IO sid -> token
    signed_in: list[str] = field(default_factory=list)  # the token of every accepted connection
    goodbyes: list[tuple[str, str]] = field(default_factory=list)  # token, reason: each session's end
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Authorization
    pairings: list[dict[str, Any]] = field(default_factory=list)  # the bodies of POST PAIRINGS
    approved: dict[str, str] = field(default_factory=dict)  # pairing id -> the token it collects
    controller_key: str = field(default_factory=lambda: zmq.curve_keypair()[0].decode())
    url: str = ""

    def __post_init__(self) -> None:
        # Long-polling only: Werkzeug's server cannot hand a connection over to a WebSocket. Short pings:
        # a poll that races the client's close is held until the next ping (45 s by default).
        self.sio = socketio.Server(
            async_mode="threading",
            transports=["polling"],
            ping_interval=1,
            ping_timeout=2,
            logger=False,
            engineio_logger=False,
        )
        self.sio.on("connect", self._connect, namespace=PANEL_NAMESPACE)
        self.sio.on("disconnect", self._disconnect, namespace=PANEL_NAMESPACE)
        app = socketio.WSGIApp(self.sio, self._http)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # --- Socket.IO ----------------------------------------------------------------------------------

    def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if self.tokens.get(str(token)) != "active":
            if self.refusal is None:
                raise ConnectionRefusedError  # the built-in one: python-socketio sends a reason of its own
            raise socketio.exceptions.ConnectionRefusedError(self.refusal)
        self.sessions[sid] = str(token)
        self.signed_in.append(str(token))

    def _disconnect(self, sid: str, reason: Any = None) -> None:
        token = self.sessions.pop(sid, None)
        self.goodbyes.append((str(token), str(reason)))

    def session_of(self, token: str) -> str | None:
        """Return the latest live session signed in with `token`, if any."""
        return next((sid for sid, signed in reversed(list(self.sessions.items())) if signed == token), None)

    def call(self, token: str, event: str, payload: Any = None, timeout: float = WAIT_S) -> Any:
        """Return the player's ack of `event`, sent to the panel signed in with `token`."""
        sid = wait_for(lambda: self.session_of(token), WAIT_S, "the player to connect")
        return self.sio.call(event, payload or {}, to=sid, namespace=PANEL_NAMESPACE, timeout=timeout)

    def revoke(self, token: str, forget: bool = False) -> None:
        """Refuse `token` from now on (as revoked, or as unknown with `forget`) and cut its session."""
        if forget:
            del self.tokens[token]
        else:
            self.tokens[token] = "revoked"
        sid = self.session_of(token)
        if sid is not None:
            self.sio.disconnect(sid, namespace=PANEL_NAMESPACE)

    # --- HTTP ---------------------------------------------------------------------------------------

    def _http(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        bearer = environ.get("HTTP_AUTHORIZATION")
        self.requests.append((method, path, bearer))
        token = bearer.removeprefix("Bearer ") if bearer else ""
        if method == "GET" and path == SELF:
            status, body = self._self(token)
        elif method == "POST" and path == PAIRINGS:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            status, body = self._ask(json.loads(environ["wsgi.input"].read(length)))
        elif method == "GET" and path.startswith(PAIRINGS + "/"):
            status, body = self._collect(path.rsplit("/", 1)[1], token)
        else:
            status, body = 404, b'{"error": "not_found"}'
        start_response(f"{status} {HTTPStatus(status).phrase}", [("Content-Type", "application/json")])
        return [body]

    def _self(self, token: str) -> tuple[int, bytes]:
        if self.self_answer is not None:
            return self.self_answer
        state = self.tokens.get(token)
        if state == "active":
            panel = {"panel_id": 7, "name": "Панель 7", "room": "Кабинет 7", "school": "№ 1"}
            return 200, json.dumps(panel).encode()
        return 401, json.dumps({"error": "revoked" if state == "revoked" else "unauthorized"}).encode()

    def _ask(self, body: dict[str, Any]) -> tuple[int, bytes]:
        pairing_id = secrets.token_hex(4)
        self.pairings.append({**body, "id": pairing_id})
        answer = {"id": pairing_id, "code": "ABCD2345", "expires_at": time.time() + 600, "expires_in": 600}
        return 201, json.dumps(answer).encode()

    def _collect(self, pairing_id: str, secret: str) -> tuple[int, bytes]:
        asked = next((p for p in self.pairings if p["id"] == pairing_id and p["secret"] == secret), None)
        if asked is None:
            return 404, b'{"error": "not_found"}'
        if pairing_id not in self.approved:
            return 200, b'{"state": "waiting"}'
        token = self.approved[pairing_id]
        self.tokens[token] = "active"
        answer = {"state": "approved", "panel_id": 8, "name": "P", "token": token}
        return 200, json.dumps({**answer, "controller_key": self.controller_key}).encode()

    def approve(self, pairing: dict[str, Any]) -> str:
        """Approve a pairing the player asked for; return the token it will collect."""
        token = secrets.token_urlsafe(32)
        self.approved[pairing["id"]] = token
        return token

    def asked(self, method: str, path: str) -> list[str | None]:
        """Return the Authorization header of every request of `method` to `path`."""
        return [bearer for m, p, bearer in list(self.requests) if (m, p) == (method, path)]


class PlayerProcess:
    """`python -m player` as a real process; stdout is read line by line, stderr goes to `log`."""

    def __init__(self, data_dir: Path, controller_url: str, log: Path, env: dict[str, str]) -> None:
        self.log = log
        argv = [sys.executable, "-m", "player", "--data-dir", str(data_dir), "--controller", controller_url]
        with log.open("wb") as stderr:
            self.popen = subprocess.Popen(
                [*argv, "--kiosk-port", "0", "--log-level", "INFO"],
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            )

    def kiosk_url(self, timeout: float = WAIT_S) -> str:
        """Return the kiosk page's address from the next start's `kiosk page: …` line."""
        line = self.next_line(timeout)
        assert line.startswith("kiosk page: "), f"the player printed {line!r}; its log:\n{self.log_text()}"
        return line.removeprefix("kiosk page: ").strip().rstrip("/")

    def next_line(self, timeout: float) -> str:
        with selectors.DefaultSelector() as selector:
            selector.register(self.popen.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        return self.popen.stdout.readline().decode() if ready else ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """Return the exit status after SIGTERM (killed if it does not stop within 10 s)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(10)
        finally:
            self.popen.stdout.close()
