"""The main system stand-in (`python -m mainsystem`), as a real process: the API, the fault items, the log."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
import requests
from PIL import Image

from mainsystem.app import COOKIE_HEADERS
from mainsystem.process import StandIn

TOKEN = "stand-in-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def midday_zone() -> str:
    """Return a fixed-offset zone where it is now about noon, far from midnight, for a steady 'today'."""
    offset = 12 - datetime.now(UTC).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


@pytest.fixture(scope="module")
def zone() -> str:
    return midday_zone()


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory, zone: str) -> Iterator[StandIn]:
    data = tmp_path_factory.mktemp("mainsystem") / "timetable.json"
    lesson = {"start": "00:00", "end": "23:59", "room": "305", "class": "9В", "subject": "Химия"}
    data.write_text(json.dumps({"teachers": [{"login": "chemist", "today": [lesson]}]}), encoding="utf-8")
    args = ["--port", "0", "--faults", "--timezone", zone, "--data", str(data)]
    process = StandIn(TOKEN, [*args, "--teacher", "maths=101,204", "--now-lesson", "maths:204"])
    yield process
    process.stop()


def get(stand_in: StandIn, path: str, **kwargs: object) -> requests.Response:
    return requests.get(stand_in.url + path, **{"headers": AUTH, "timeout": 10, **kwargs})  # type: ignore[arg-type]


def test_every_api_route_wants_the_service_token(stand_in: StandIn) -> None:
    paths = [
        "/journal/api/v1/teachers/maths/timetable",
        "/library/api/v1/items?q=дроби",
        "/library/api/v1/items/lib-0001",
        "/library/api/v1/items/lib-0001/media",
        "/library/api/v1/nowhere",
    ]
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": TOKEN}):
        for path in paths:
            answer = get(stand_in, path, headers=headers)
            assert (answer.status_code, answer.json()) == (401, {"error": "unauthorized"}), (path, headers)
    assert get(stand_in, "/library/api/v1/nowhere").status_code == 404


def test_search_finds_items_by_a_russian_word(stand_in: StandIn) -> None:
    found = get(stand_in, "/library/api/v1/items", params={"q": "ДРОБИ"}).json()
    assert [item["title"] for item in found["items"]] == ["Дроби: числитель и знаменатель"]
    assert get(stand_in, "/library/api/v1/items", params={"q": "береза"}).json()["total"] == 1  # «берёза»
    everything = get(stand_in, "/library/api/v1/items", params={"page": "2"}).json()
    assert 30 <= everything["total"] <= 40
    assert (len(everything["items"]), everything["page"]) == (everything["total"] - 20, 2)
    assert get(stand_in, "/library/api/v1/items", params={"page": "0"}).status_code == 400


def test_each_kind_of_item_has_its_media(stand_in: StandIn) -> None:
    items = [
        i for page in ("1", "2") for i in get(stand_in, f"/library/api/v1/items?page={page}").json()["items"]
    ]
    first = {
        mime: next(i for i in items if i["media"]["mime"] == mime)
        for mime in {i["media"]["mime"] for i in items}
    }
    assert set(first) == {"application/pdf", "image/png", "image/svg+xml", "application/zip"}
    media = {}
    for mime, item in first.items():
        assert get(stand_in, f"/library/api/v1/items/{item['id']}").json() == item
        answer = get(stand_in, f"/library/api/v1/items/{item['id']}/media")
        assert answer.headers["Content-Type"].split(";")[0] == mime
        assert len(answer.content) == item["media"]["size"]
        media[mime] = answer.content
    pdf = pypdfium2.PdfDocument(media["application/pdf"])
    assert len(pdf) >= 2
    pdf.close()
    assert Image.open(io.BytesIO(media["image/png"])).size == (1280, 720)
    assert media["image/svg+xml"].startswith(b"<svg")
    assert "index.html" in zipfile.ZipFile(io.BytesIO(media["application/zip"])).namelist()
    assert get(stand_in, "/library/api/v1/items/lib-9999").status_code == 404


def test_timetable_has_a_lesson_in_progress_and_the_class_lists(stand_in: StandIn, zone: str) -> None:
    local = datetime.now(ZoneInfo(zone))
    answer = get(
        stand_in, "/journal/api/v1/teachers/maths/timetable", params={"date": str(local.date())}
    ).json()
    assert (answer["teacher"], answer["date"]) == ("maths", str(local.date()))
    clock = local.strftime("%H:%M")
    now = [x for x in answer["lessons"] if x["start"] <= clock < x["end"]]
    assert [x["room"] for x in now] == ["204"]
    assert [x["number"] for x in answer["lessons"]] == list(range(1, len(answer["lessons"]) + 1))
    assert all(x["pupils"] and x["marks"] for x in answer["lessons"])  # for the controller to drop
    chemist = get(stand_in, "/journal/api/v1/teachers/chemist/timetable").json()  # no date: today
    assert [(x["start"], x["end"], x["room"], x["class"]) for x in chemist["lessons"]] == [
        ("00:00", "23:59", "305", "9В")
    ]
    assert get(stand_in, "/journal/api/v1/teachers/nobody/timetable").status_code == 404
    assert get(stand_in, "/journal/api/v1/teachers/maths/timetable?date=вчера").status_code == 400


def test_fault_items_misbehave_as_documented(stand_in: StandIn) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(stand_in, "/library/api/v1/items/slow/media", timeout=1)
    with get(stand_in, "/library/api/v1/items/huge/media", stream=True) as huge:
        assert "Content-Length" not in huge.headers
        first = huge.raw.read(1024 * 1024)
        assert len(first) == 1024 * 1024
    port = stand_in.url.rsplit(":", 1)[1]
    for item, location in (
        ("redirect-local", f"http://127.0.0.1:{port}/trap"),
        ("redirect-metadata", "http://169.254.169.254/latest/meta-data/"),
    ):
        answer = get(stand_in, f"/library/api/v1/items/{item}", allow_redirects=False)
        assert (answer.status_code, answer.headers["Location"]) == (302, location)
    cookie = get(stand_in, "/library/api/v1/items/cookie")
    assert cookie.json()["id"] == "cookie"
    assert {name for name, _ in COOKIE_HEADERS} <= set(cookie.headers)
    head = raw_get(stand_in, "/library/api/v1/items/conflicting-length/media")
    assert b"\r\nContent-Length: " in head and b"\r\nTransfer-Encoding: chunked\r\n" in head


def test_fault_items_are_not_there_without_the_option() -> None:
    dashed = "-" + TOKEN  # a random token may begin with a dash: it is still the token, not an option
    plain = StandIn(dashed, ["--port", "0"])
    try:
        headers = {"Authorization": f"Bearer {dashed}"}
        for item in ("slow", "huge", "cookie"):
            url = f"{plain.url}/library/api/v1/items/{item}/media"
            assert requests.get(url, headers=headers, timeout=5).status_code == 404
        assert get(plain, "/library/api/v1/items").status_code == 401  # the undashed token is not it
    finally:
        plain.stop()


def test_the_request_log_shows_what_reached_the_stand_in(stand_in: StandIn) -> None:
    assert requests.delete(stand_in.url + "/_stand-in/requests", timeout=5).status_code == 204
    get(stand_in, "/library/api/v1/items", params={"q": "пётр"}, cookies={"session": "x"})
    raw_get(stand_in, "/library/api/v1/items/%2e%2e/media", token="wrong")  # a client library would tidy it
    log = requests.get(stand_in.url + "/_stand-in/requests", timeout=5).json()["requests"]
    assert [(x["method"], x["path"], x["auth"], x["token_ok"]) for x in log] == [
        ("GET", "/library/api/v1/items", "service", True),
        ("GET", "/library/api/v1/items/../media", "wrong", False),
    ]
    assert log[0]["query"] == "q=%D0%BF%D1%91%D1%82%D1%80"
    assert {"Authorization", "Cookie"} <= set(log[0]["headers"])
    assert log[1]["target"] == "/library/api/v1/items/%2e%2e/media"  # as sent, not as decoded


def raw_get(stand_in: StandIn, path: str, token: str = TOKEN) -> bytes:
    """Return the head of the answer to a GET sent over a bare socket (no client library to tidy it)."""
    host, port = stand_in.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
    return data.split(b"\r\n\r\n")[0]
