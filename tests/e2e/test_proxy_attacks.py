"""The controller's door to the main system, attacked through a real controller process.

The upstream is the reference stand-in (`python -m mainsystem --faults`), which logs every request
that reaches it; beside it a trap listens on loopback and records any connection at all. Each attack
must be refused with a clear Russian message while the stand-in sees nothing outside the allow-list
and the trap sees nothing. Requests are written on raw sockets: an HTTP library would clean up the
very things under test (`..`, CR/LF, two framings of one body).

One controller and one stand-in serve the whole module; the controller gives up on the main system
after 2 s, so the stand-in's 60 s answer costs 2 s.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from controller.app import create_app
from controller.config import load_config
from controller.db import DB_FILE, Database
from controller.store import orgs, users
from controller.upstream import MainSystem, UpstreamError
from controller.web.smuggling import refuse_ambiguous
from mainsystem.process import StandIn

from .conftest import Controller, Processes, WebUser, serve_controller, wait_for

TOKEN = "service-token-of-the-controller"
PASSWORD = "correct horse battery"
ALLOWED = (
    r"/journal/api/v1/teachers/[A-Za-z0-9_-]+/timetable",
    r"/library/api/v1/items",
    r"/library/api/v1/items/[A-Za-z0-9_-]+",
    r"/library/api/v1/items/[A-Za-z0-9_-]+/media",
)
MAX_JSON, MAX_MEDIA = 1024 * 1024, 8 * 1024 * 1024


class Trap:
    """A listener on loopback that records every connection made to it (none may be)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(4096))
                except OSError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.listener.close()


@dataclass
class World:
    controller: Controller
    data_dir: Path
    stand_in: StandIn
    trap: Trap
    people: dict[str, WebUser] = field(default_factory=dict)

    def seen(self) -> list[dict[str, Any]]:
        """Return the stand-in's log of the requests that reached it, oldest first."""
        with urlopen(self.stand_in.url + "/_stand-in/requests", timeout=10) as answer:
            return json.loads(answer.read())["requests"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("proxy")
    trap = Trap()
    stand_in = StandIn(
        TOKEN,
        ["--port", "0", "--faults", "--trap-port", str(trap.port), "--teacher", "p-anna"],
        log=folder / "stand-in.log",
    )
    processes = Processes(folder)
    try:
        data_dir = folder / "controller"
        _seed(data_dir)
        env = {
            "CLASSCAST_LIBRARY_URL": stand_in.library_url,
            "CLASSCAST_JOURNAL_URL": stand_in.journal_url,
            "CLASSCAST_MAIN_TOKEN": TOKEN,
            "CLASSCAST_MAIN_TIMEOUT": "2",
            "CLASSCAST_MAIN_CONNECT_TIMEOUT": "2",
            "CLASSCAST_MAIN_MAX_RESPONSE_BYTES": str(MAX_JSON),
            "CLASSCAST_MAIN_MAX_MEDIA_BYTES": str(MAX_MEDIA),
        }
        spawn = lambda name, *argv, env=None: processes.start(name, [sys.executable, *argv], env)  # noqa: E731
        found = World(serve_controller(spawn, data_dir, env), data_dir, stand_in, trap)
        for who in ("anna", "boris", "it", "mo"):
            found.people[who] = WebUser(found.controller.url)
            found.people[who].sign_in(f"p-{who}", PASSWORD)
        yield found
    finally:
        processes.stop_all()
        stand_in.stop()
        trap.close()


def _seed(data_dir: Path) -> None:
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "Новосибирск")
        return municipality, orgs.create_school(db, municipality, "Школа № 1", "СОШ № 1")

    municipality, school = svc.db.write(build)
    people = [
        ("p-anna", "Анна Петровна", "teacher", "school", school),
        ("p-boris", "Борис Ильич", "teacher", "school", school),
        ("p-it", "Администратор ОО", "school_it", "school", school),
        ("p-mo", "Координатор МОУО", "municipal", "municipality", municipality),
    ]
    for login, name, role, node_type, node_id in people:
        svc.db.write(users.create_user, login, PASSWORD, name, role, node_type, node_id)
    svc.db.close()


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def exchange(base: str, raw: bytes, timeout: float = 30) -> list[Answer]:
    """Send `raw` to the server at `base`; return its first response and any that follow before it
    closes the connection (reading on only while the request asked it to close, or it refused)."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as conn:
        conn.sendall(raw)
        reader = conn.makefile("rb")
        answers = [_read_answer(reader)]
        if b"Connection: close\r\n" in raw or answers[0].status == 400:
            while reader.peek(1):
                answers.append(_read_answer(reader))
        return answers


def _read_answer(reader: Any) -> Answer:
    status = int(reader.readline().split()[1])
    headers = []
    while (line := reader.readline().decode("latin-1").strip()) != "":
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    answer = Answer(status, headers, b"")
    if answer.header("Transfer-Encoding"):
        while size := int(reader.readline().strip(), 16):
            answer.body += reader.read(size)
            reader.readline()
        reader.readline()
    else:
        answer.body = reader.read(int((answer.header("Content-Length") or ["0"])[0]))
    return answer


def get(world: World, target: str, who: str | None = "anna", headers: list[str] | None = None) -> Answer:
    """GET `target` from the controller as `who`, with these header lines, the connection then closed."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {urlsplit(world.controller.url).netloc}"]
    if who is not None:
        cookies = "; ".join(f"{c.name}={c.value}" for c in world.people[who].cookies)
        lines.append(f"Cookie: {cookies}")
    lines += headers if headers is not None else ["Connection: close"]
    answers = exchange(world.controller.url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    assert len(answers) == 1, answers
    return answers[0]


def refused_quietly(world: World, target: str, status: int, message: str | None, **kwargs: Any) -> Answer:
    """GET `target`; assert the refusal and that neither the stand-in nor the trap saw any request."""
    before = len(world.seen())
    answer = get(world, target, **kwargs)
    assert answer.status == status, (answer.status, answer.body)
    if message is not None:  # None: not an API path at all, so the answer is a page
        assert answer.json()["message"] == message
    assert world.seen()[before:] == []
    assert world.trap.connections == []
    return answer


NOT_ALLOWED = "Такой запрос к библиотеке не разрешён."
BAD_VALUE = "Запрос к библиотеке содержит недопустимые символы."
NOT_FOUND = "Не найдено."  # no route at all: the path converter takes no leading "/" and no line break
FAILED = "Библиотека ответила с ошибкой. Попробуйте позже."


def test_an_allowed_path_reaches_the_library_with_the_controllers_credential_only(world: World) -> None:
    before = len(world.seen())
    answer = get(
        world,
        "/api/main/library/api/v1/items/lib-0002",
        headers=["Authorization: Bearer the-browsers-own-token", "Connection: close, Authorization"],
    )
    assert answer.status == 200
    assert answer.json()["id"] == "lib-0002"
    (seen,) = world.seen()[before:]
    assert seen["path"] == "/library/api/v1/items/lib-0002"
    # Exactly one Authorization arrived, and it was the controller's: never the client's, never none.
    assert seen["auth"] == "service"
    assert [name.lower() for name in seen["headers"]].count("authorization") == 1
    assert not {"cookie", "x-forwarded-for"} & {name.lower() for name in seen["headers"]}


def test_a_header_the_client_names_in_connection_does_not_go_upstream(world: World) -> None:
    target = "/api/main/library/api/v1/items/lib-0002"
    get(world, target, headers=["Accept-Language: ru", "Connection: close"])
    assert "accept-language" in [name.lower() for name in world.seen()[-1]["headers"]]
    get(world, target, headers=["Accept-Language: ru", "Connection: close, Accept-Language"])
    assert "accept-language" not in [name.lower() for name in world.seen()[-1]["headers"]]


def test_media_comes_through_sandboxed_and_the_upstreams_cookies_and_hops_do_not(world: World) -> None:
    media = get(world, "/api/main/library/api/v1/items/lib-0002/media")
    assert media.status == 200
    assert media.header("Content-Type") == ["image/svg+xml"] and media.body.startswith(b"<svg")
    assert media.header("Content-Security-Policy") == ["sandbox"]
    for target in ("/api/main/library/api/v1/items/cookie", "/api/main/library/api/v1/items/cookie/media"):
        answer = get(world, target)
        assert answer.status == 200
        names = {name.lower() for name, _ in answer.headers}
        assert not {"x-main-hop", "x-main-session", "www-authenticate", "proxy-authenticate"} & names
        assert not {"keep-alive", "access-control-allow-origin"} & names
        assert not [c for c in answer.header("Set-Cookie") if "stand-in" in c]


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("/api/main/library/http://127.0.0.1:{trap}/trap", 404, NOT_ALLOWED),
        ("/api/main/library/http:%2F%2F127.0.0.1:{trap}%2Ftrap", 404, NOT_ALLOWED),
        ("/api/main/library//127.0.0.1:{trap}/trap", 404, NOT_FOUND),
        ("/api/main/library/api/v1/items/@127.0.0.1:{trap}", 400, BAD_VALUE),
        ("http://127.0.0.1:{trap}/api/main/library/api/v1/items", 404, None),
        ("/api/main/library/api/v1/items/../../../../trap", 404, NOT_ALLOWED),
        ("/api/main/library/api/v1/items/..", 400, BAD_VALUE),
        ("/api/main/library/api/v1/items/%2e%2e/media", 400, BAD_VALUE),
        ("/api/main/library/api/v1/items/%2E%2E%2F%2E%2E%2Ftrap/media", 404, NOT_ALLOWED),
        ("/api/main/library/api/v1/items/%252e%252e/media", 400, BAD_VALUE),
        ("/api/main/library/api/v1/items/lib-0001;jsessionid=1", 400, BAD_VALUE),
        ("/api/main/library/api/v1/items;/lib-0001", 404, NOT_ALLOWED),
        ("/api/main/library/api/v1/items/lib-0001%0d%0aHost:%20evil/media", 404, NOT_FOUND),
        ("/api/main/library/api/v1/items?q=x%0d%0aX-Injected:%201", 400, BAD_VALUE),
        ("/api/main/library/api/v1/items?q=x&a%0d%0ab=1", 400, BAD_VALUE),
        ("/api/main/library/api/v2/items", 404, NOT_ALLOWED),
        ("/api/main/trap/api/v1/items", 404, NOT_FOUND),
    ],
    ids=[
        "absolute-url", "encoded-absolute-url", "double-slash-host", "userinfo-host", "absolute-form-target",
        "dot-dot", "dot-dot-value", "encoded-dot-dot", "encoded-dot-dot-slash", "double-encoded-dot-dot",
        "semicolon-in-value", "semicolon-in-literal", "crlf-in-path", "crlf-in-query-value",
        "crlf-in-query-key", "other-api", "unknown-upstream",
    ],
)  # fmt: skip
def test_a_path_outside_the_allow_list_is_refused_before_any_request(
    world: World, target: str, status: int, message: str | None
) -> None:
    refused_quietly(world, target.format(trap=world.trap.port), status, message)


def test_crlf_in_a_forwarded_header_value_is_refused(world: World) -> None:
    # An obsolete line folding: a server that keeps the fold hands on a value holding CR LF.
    before = len(world.seen())
    answer = get(
        world,
        "/api/main/library/api/v1/items/lib-0002",
        headers=["Accept-Language: ru", " X-Injected: 1", "Connection: close"],
    )
    assert answer.status == 400 and answer.json()["message"] == BAD_VALUE
    assert world.seen()[before:] == [] and world.trap.connections == []


def test_nobody_signed_out_or_without_the_role_gets_through(world: World) -> None:
    item = "/api/main/library/api/v1/items/lib-0002"
    before = len(world.seen())
    assert get(world, item, who=None).status == 401
    assert get(world, item, who="mo").status == 403
    assert get(world, "/api/main/journal/api/v1/teachers/p-it/timetable", who="it").status == 403
    assert world.seen()[before:] == []


def test_a_teacher_reads_their_own_timetable_only_without_class_lists_or_marks(world: World) -> None:
    own = get(world, "/api/main/journal/api/v1/teachers/p-anna/timetable?date=2026-09-01")
    assert own.status == 200, own.body
    lessons = own.json()["lessons"]
    assert lessons and all(
        set(lesson) <= {"number", "start", "end", "class", "subject", "room", "topic"} for lesson in lessons
    )
    assert b"pupils" not in own.body and b"marks" not in own.body and b"absent" not in own.body
    before = len(world.seen())
    other = get(world, "/api/main/journal/api/v1/teachers/p-boris/timetable?date=2026-09-01")
    assert other.status == 404
    assert other.json()["message"] == "Такой запрос к журналу не разрешён."
    assert world.seen()[before:] == []


@pytest.mark.parametrize("item", ["redirect-local", "redirect-metadata"])
@pytest.mark.parametrize("media", [False, True])
def test_a_redirect_from_the_library_is_not_followed(world: World, item: str, media: bool) -> None:
    target = f"/api/main/library/api/v1/items/{item}" + ("/media" if media else "")
    before = len(world.seen())
    answer = get(world, target)
    assert answer.status == 502
    assert answer.json() == {"error": "redirect", "message": FAILED}
    assert [seen["path"] for seen in world.seen()[before:]] == [target.removeprefix("/api/main")]
    assert world.trap.connections == []


@pytest.mark.parametrize("media", [False, True])
def test_an_answer_framed_two_ways_by_the_library_is_refused(world: World, media: bool) -> None:
    target = "/api/main/library/api/v1/items/conflicting-length" + ("/media" if media else "")
    logged = world.controller.proc.log_text().count("Content-Length beside Transfer-Encoding")
    answer = get(world, target)
    assert answer.status == 502
    assert answer.json() == {"error": "bad_response", "message": FAILED}
    # Logged once, with the reason (the person is told only that the library failed).
    assert world.controller.proc.log_text().count("Content-Length beside Transfer-Encoding") == logged + 1


def _peak_memory_kb(controller: Controller) -> int:
    status = Path(f"/proc/{controller.proc.popen.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def test_a_1_gb_answer_is_cut_off_at_the_cap_in_bounded_memory(world: World) -> None:
    peak_before = _peak_memory_kb(world.controller)
    for target, message in (
        ("/api/main/library/api/v1/items/huge", "Ответ библиотеки слишком большой, он не принят."),
        ("/api/main/library/api/v1/items/huge/media", "Ответ библиотеки слишком большой, он не принят."),
    ):
        answer = get(world, target)
        assert answer.status == 502
        assert answer.json() == {"error": "too_large", "message": message}
    # The caps are 1 MiB (JSON) and 8 MiB (media, spooled to disk past 1 MiB): nowhere near 1 GB.
    assert _peak_memory_kb(world.controller) - peak_before < 64 * 1024


def test_a_slow_library_gets_a_clear_error_while_other_requests_are_served(world: World) -> None:
    slow: list[Answer] = []
    asking = threading.Thread(target=lambda: slow.append(get(world, "/api/main/library/api/v1/items/slow")))
    asking.start()
    try:
        wait_for(
            lambda: any(seen["path"].endswith("/items/slow") for seen in world.seen()),
            10,
            "the slow request to reach the stand-in",
        )
        # The controller is waiting for the library on that request; it still serves this one.
        meanwhile = get(world, "/api/main/library/api/v1/items/lib-0003")
        still_waiting = asking.is_alive()
    finally:
        asking.join(30)
    assert meanwhile.status == 200 and meanwhile.json()["id"] == "lib-0003"
    assert still_waiting
    assert slow[0].status == 504
    assert slow[0].json() == {
        "error": "timeout",
        "message": "Библиотека не ответила вовремя. Попробуйте ещё раз.",
    }


def _smuggling_request(host: str, cookie: str, framing: list[str]) -> bytes:
    smuggled = (
        f"GET /api/main/library/api/v1/items/smuggled HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
    )
    body = "0\r\n\r\n" + smuggled
    lines = [
        "GET /api/main/library/api/v1/items/lib-0004 HTTP/1.1",
        f"Host: {host}",
        f"Cookie: {cookie}",
        *(line.format(length=len(body)) for line in framing),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: {length}", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Content-Length: 5"],
        ["Content-Length: {length}", "Transfer-Encoding: chunked, identity"],
        ["Content-Length: {length}", "Transfer-Encoding: xchunked"],
    ],
    ids=["cl-te", "te-cl", "te-list", "te-obfuscated"],
)
def test_a_request_with_two_framings_is_refused_and_its_connection_closed(
    world: World, framing: list[str]
) -> None:
    before = len(world.seen())
    host = urlsplit(world.controller.url).netloc
    cookie = "; ".join(f"{c.name}={c.value}" for c in world.people["anna"].cookies)
    answers = exchange(world.controller.url, _smuggling_request(host, cookie, framing))
    assert [answer.status for answer in answers] == [400]  # one answer: the connection closed after it
    assert world.seen()[before:] == []


def test_the_wsgi_guard_refuses_two_framings_on_any_server() -> None:
    called: list[dict[str, Any]] = []
    app = refuse_ambiguous(lambda environ, start: called.append(environ) or start("200 OK", []) or [b"ok"])
    statuses: list[str] = []

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    body = app({"CONTENT_LENGTH": "5", "HTTP_TRANSFER_ENCODING": "chunked"}, start)
    assert statuses == ["400 Bad Request"] and called == []
    assert json.loads(b"".join(body))["error"] == "ambiguous_length"
    app({"CONTENT_LENGTH": "5"}, start)
    app({"HTTP_TRANSFER_ENCODING": "chunked"}, start)
    assert statuses[1:] == ["200 OK", "200 OK"] and len(called) == 2


class RawUpstream:
    """A library on a raw socket, answering every request with the same bytes (no WSGI server between)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(65536))
                conn.sendall(self.answer)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join()


_ITEM = json.dumps({"id": "lib-0001", "title": "x"}).encode()
_SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % (len(_ITEM) + 9),
        b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
        b"Content-Length: %d\r\nContent-Length: 3\r\n" % len(_ITEM),
    ],
    ids=["cl-te", "te-cl", "two-cl"],
)
def test_an_answer_with_two_framings_is_refused(tmp_path: Path, head: bytes) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(_ITEM), _ITEM)
    upstream = RawUpstream(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + head + b"\r\n" + chunked + _SMUGGLED
    )
    db = Database(tmp_path / DB_FILE)
    settings = load_config(None, {"library_url": upstream.url + "/library", "main_token": TOKEN})
    main = MainSystem(settings, db)
    try:
        with pytest.raises(UpstreamError) as refused:
            main.get_json("library", "/api/v1/items/{item}", {"item": "lib-0001"})
        assert refused.value.code == "bad_response" and refused.value.status == 502
        assert [request.split(b" ")[1] for request in upstream.requests] == [
            b"/library/api/v1/items/lib-0001"
        ]
        (row,) = db.read.query("SELECT outcome, detail FROM audit_event WHERE action = 'proxy'")
        assert row["outcome"] == "failed" and json.loads(row["detail"])["error"] == "bad_response"
    finally:
        main.close()
        db.close()
        upstream.close()


def test_every_access_is_audited_as_metadata_only(world: World) -> None:
    def audited() -> list[tuple[str, str | None, dict[str, Any]]]:
        with sqlite3.connect(f"file:{world.data_dir / DB_FILE}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT outcome, actor_login, object_kind, detail FROM audit_event WHERE action = 'proxy'"
            ).fetchall()
        return [(outcome, login, kind, json.loads(detail)) for outcome, login, kind, detail in rows]

    before = len(audited())
    get(world, "/api/main/library/api/v1/items/lib-0005")  # audited before it answers
    get(world, "/api/main/library/api/v1/items/..")
    get(world, "/api/main/library/api/v1/items/redirect-local/media")
    get(world, "/api/main/journal/api/v1/teachers/p-anna/timetable?date=2026-09-01")
    ok, denied, failed, journal = audited()[before:]
    assert ok[:3] == ("ok", "p-anna", "library")
    assert ok[3] == {
        "upstream": "library", "template": "/api/v1/items/{item}", "params": {"item": "lib-0005"},
        "status": 200, "bytes": ok[3]["bytes"], "ms": ok[3]["ms"],
    }  # fmt: skip
    assert ok[3]["bytes"] > 0 and ok[3]["ms"] >= 0
    assert denied[0] == "denied" and denied[3] == {
        "upstream": "library",
        "path": "api/v1/items/..",
        "error": "bad_value",
    }
    assert failed[0] == "failed" and (failed[3]["status"], failed[3]["error"]) == (302, "redirect")
    # The timetable was read, and nothing of it (the lessons, the class lists, the marks) was kept.
    assert journal[:3] == ("ok", "p-anna", "journal") and journal[3]["params"] == {"teacher": "p-anna"}
    assert set(journal[3]) == {"upstream", "template", "params", "status", "bytes", "ms"}


def test_the_stand_in_saw_only_allow_listed_paths_and_the_trap_nothing(world: World) -> None:
    paths = {seen["path"] for seen in world.seen()}
    assert paths and all(any(re.fullmatch(pattern, path) for pattern in ALLOWED) for path in paths), paths
    assert all(seen["auth"] == "service" for seen in world.seen())
    assert world.trap.connections == []
