"""The stand-in's web app: the journal and library API, the fault items, and the request log.

Every route under /journal and /library wants `Authorization: Bearer <token>` (the service token, or
a user's access token that the single sign-on's userinfo endpoint accepts) and answers 401
`{"error": "unauthorized"}` without it. /_stand-in/requests, /trap and / are open: they are the tests'
view of the stand-in, not part of the main system's API.
"""

from __future__ import annotations

import hmac
import json
import logging
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import gevent
from flask import Flask, Response, abort, g, jsonify, request

from mainsystem.library import Library
from mainsystem.timetable import Timetable, TimetableError

log = logging.getLogger(__name__)

LOG_SIZE = 10_000  # requests the log keeps, the oldest dropped first
SLOW_S = 60.0
HUGE_BYTES = 1024**3
_CHUNK = b"\0" * (1024 * 1024)
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
# What the `cookie` item answers with beside its content: none of it may reach a browser or a panel.
COOKIE_HEADERS = (
    ("Set-Cookie", "main_session=stand-in-session; Path=/; HttpOnly"),
    ("Set-Cookie", "tracking=stand-in-tracking; Path=/; Domain=127.0.0.1"),
    ("Connection", "X-Main-Hop"),
    ("X-Main-Hop", "hop-by-hop, named in Connection"),
    ("Keep-Alive", "timeout=5"),
    ("Proxy-Authenticate", 'Basic realm="stand-in"'),
    ("WWW-Authenticate", 'Bearer realm="stand-in"'),
    ("Access-Control-Allow-Origin", "*"),
    ("X-Main-Session", "stand-in-session"),
)
FAULTS = ("slow", "huge", "redirect-local", "redirect-metadata", "cookie", "conflicting-length")


@dataclass
class Options:
    token: str
    faults: bool = False
    trap_port: int | None = None  # None: this stand-in's own port (its /trap is logged like the rest)
    userinfo_url: str | None = None  # the single sign-on's userinfo: users' own tokens are checked there


class RequestLog:
    """What reached the stand-in: method, path, query, how it was authorised, the headers' names."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


def create_app(options: Options, library: Library, timetable: Timetable) -> Flask:
    """Return the stand-in's app over `library` and `timetable`."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Flask's default provider has it
    requests = RequestLog()
    app.extensions["mainsystem"] = requests

    @app.before_request
    def check() -> Response | None:
        if request.path.startswith("/_stand-in/"):
            return None
        auth = _authorisation(options)
        requests.add(_entry(auth))
        if request.path.startswith(("/journal/", "/library/")) and auth not in ("service", "user"):
            return _error(401, "unauthorized")
        return None

    @app.get("/")
    def index() -> Response:
        return jsonify(
            service="ClassCast main system stand-in (not the real «Моя школа»)",
            docs="docs/main-system-api.md",
        )

    @app.get("/journal/api/v1/teachers/<teacher>/timetable")
    def timetable_of(teacher: str) -> Response:
        if g.auth == "user" and g.subject != teacher:
            return _error(403, "forbidden")  # a user's own token opens only their own timetable
        day = _date(request.args.get("date"))
        try:
            answer = timetable.day(teacher, day)
        except TimetableError as exc:
            log.error("timetable: %s", exc)
            return _error(500, "bad_data_file")
        return jsonify(answer) if answer is not None else _error(404, "not_found")

    @app.get("/library/api/v1/items")
    def search() -> Response:
        page = request.args.get("page", "1")
        if not page.isdigit() or int(page) < 1:
            return _error(400, "bad_page")
        return jsonify(library.search(request.args.get("q", ""), int(page)))

    @app.get("/library/api/v1/items/<item_id>")
    def item(item_id: str) -> Response:
        if options.faults and item_id in FAULTS:
            return _fault(options, item_id, media=False)
        found = library.item(item_id)
        return jsonify(found) if found else _error(404, "not_found")

    @app.get("/library/api/v1/items/<item_id>/media")
    def media(item_id: str) -> Response:
        if options.faults and item_id in FAULTS:
            return _fault(options, item_id, media=True)
        found = library.media(item_id)
        if found is None:
            return _error(404, "not_found")
        mime, data = found
        return Response(data, mimetype=mime)

    @app.get("/trap")
    def trap() -> Response:
        return jsonify(trapped=True)

    @app.get("/_stand-in/requests")
    def request_log() -> Response:
        return jsonify(requests=requests.entries())

    @app.delete("/_stand-in/requests")
    def clear_request_log() -> Response:
        requests.clear()
        return Response(status=204)

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return _error(404, "not_found")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return _error(405, "method_not_allowed")

    return app


def _authorisation(options: Options) -> str:
    """Return how the request is authorised: service, user, wrong (a token nobody issued) or none.

    For a user's token, `g.subject` is whose it is (the single sign-on's `sub`).
    """
    g.auth, g.subject = "none", None
    header = request.headers.get("Authorization", "")
    if header:
        g.auth = "wrong"
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            if hmac.compare_digest(token.encode(), options.token.encode()):
                g.auth = "service"
            elif options.userinfo_url and (subject := _user_of(options.userinfo_url, token)):
                g.auth, g.subject = "user", subject
    return g.auth


def _user_of(userinfo_url: str, token: str) -> str | None:
    """Return the subject the single sign-on's userinfo endpoint gives for the access token, or None."""
    asked = urllib.request.Request(userinfo_url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(asked, timeout=5) as answer:
            subject = json.loads(answer.read(65536)).get("sub")
    except (OSError, ValueError, AttributeError):
        return None
    return subject if isinstance(subject, str) else None


def _entry(auth: str) -> dict[str, Any]:
    environ = request.environ
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "method": request.method,
        "path": request.path,
        "target": environ.get("mainsystem.target", request.full_path),
        "query": environ.get("QUERY_STRING", ""),
        "auth": auth,
        "token_ok": auth == "service",
        "subject": g.subject,
        "headers": environ.get("mainsystem.header_names") or list(request.headers.keys()),
    }


def _date(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(_error(400, "bad_date"))


def _error(status: int, code: str) -> Response:
    response = jsonify(error=code)
    response.status_code = status
    return response


def _fault(options: Options, item_id: str, media: bool) -> Response:
    """Return the answer of a fault item (docs/main-system-api.md), for its details or its media."""
    if item_id == "slow":
        gevent.sleep(SLOW_S)
        return jsonify(_fault_item(item_id)) if not media else Response(b"late", mimetype="text/plain")
    if item_id == "huge":
        mime = "application/octet-stream" if media else "application/json"
        return Response(_huge(), mimetype=mime)  # no Content-Length: the reader must count
    if item_id == "redirect-local":
        port = options.trap_port or int(request.environ["SERVER_PORT"])
        return _redirect(f"http://127.0.0.1:{port}/trap")
    if item_id == "redirect-metadata":
        return _redirect(METADATA_URL)
    if item_id == "cookie":
        body = json.dumps(_fault_item(item_id), ensure_ascii=False).encode() if not media else b"cookie item"
        response = Response(body, mimetype="application/json" if not media else "text/plain")
        for name, value in COOKIE_HEADERS:
            response.headers.add(name, value)
        return response
    return _conflicting_length()


def _huge() -> Iterator[bytes]:
    for _ in range(HUGE_BYTES // len(_CHUNK)):
        yield _CHUNK


def _redirect(location: str) -> Response:
    return Response(b"", status=302, headers={"Location": location})


def _conflicting_length() -> Response:
    """Return an answer framed two ways: Content-Length counts the chunked body's bytes as they are sent."""
    data = json.dumps(_fault_item("conflicting-length"), ensure_ascii=False).encode()
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    headers = {"Content-Length": str(len(body)), "Transfer-Encoding": "chunked"}
    return Response(body, mimetype="application/json", headers=headers)


def _fault_item(item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "title": f"Ошибка для тестов: {item_id}",
        "subject": "Информатика",
        "grades": "5-11",
        "kind": "image",
        "description": "Материал-ловушка заглушки; его нет в поиске.",
        "media": {"mime": "image/png", "size": 1},
        "updated_at": "2026-09-01T00:00:00Z",
    }
