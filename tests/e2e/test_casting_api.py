"""Casting, the remote and alerts through a real controller process: panels and live pages are real
Socket.IO clients on loopback (python-socketio, the player's own library), people are HTTP clients.

One controller serves the whole module; each test seeds its own school, so they do not meet."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from classcast.identity import ensure_identity
from controller.app import create_app
from controller.store import orgs, panels, users

from .casting_helpers import Panel, live_page, refused
from .casting_helpers import person as sign_in
from .conftest import Controller, Processes, WebUser, serve_controller, wait_for

PASSWORD = "correct horse battery"
_schools = itertools.count(1)


@dataclass
class School:
    id: int
    rooms: list[int]
    tokens: list[str]
    prefix: str


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Controller, Path]]:
    data_dir = tmp_path_factory.mktemp("casting") / "controller"
    create_app({"data_dir": str(data_dir)}).extensions["classcast"].db.close()  # migrated
    processes = Processes(data_dir.parent)

    def spawn(name: str, *argv: str, env: dict[str, str] | None = None) -> Any:
        return processes.start(name, [sys.executable, *argv], env)

    try:
        yield serve_controller(spawn, data_dir), data_dir
    finally:
        processes.stop_all()


def seed_school(data_dir: Path, panels_per_room: tuple[int, ...] = (1, 1)) -> School:
    """Add a school (in its own municipality) with rooms, enrolled panels and its people to the database."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]
    n = next(_schools)
    prefix = f"s{n}"

    def build(db: Any) -> tuple[int, int, list[int]]:
        region = db.execute("SELECT id FROM region").fetchone()
        region = region[0] if region else orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, f"Муниципалитет {n}")
        school = orgs.create_school(db, municipality, f"Школа № {n}", f"СОШ № {n}")
        return (
            municipality,
            school,
            [orgs.create_room(db, school, f"{n}0{i}") for i in range(len(panels_per_room))],
        )

    municipality, school, rooms = svc.db.write(build)
    tokens = []
    for room, count in zip(rooms, panels_per_room, strict=True):
        for i in range(count):
            key = ensure_identity(data_dir.parent / f"{prefix}-{room}-{i}").public_key
            tokens.append(svc.db.write(panels.enroll_panel, room, f"Панель {room}.{i}", key)[1])
    people = [
        (f"{prefix}-anna", "Анна Петровна", "teacher", "school", school),
        (f"{prefix}-boris", "Борис Ильич", "teacher", "school", school),
        (f"{prefix}-it", "Администратор ОО", "school_it", "school", school),
        (f"{prefix}-mo", "Координатор МОУО", "municipal", "municipality", municipality),
    ]
    for login, name, role, node_type, node_id in people:
        svc.db.write(users.create_user, login, PASSWORD, name, role, node_type, node_id)
    svc.db.close()
    return School(school, rooms, tokens, prefix)


def person(url: str, school: School, who: str) -> WebUser:
    return sign_in(url, f"{school.prefix}-{who}", PASSWORD)


def test_one_cast_per_room_a_second_teacher_confirms_and_the_first_is_told(controller: Any) -> None:
    server, data_dir = controller
    school = seed_school(data_dir)
    panel = Panel(school.tokens[0]).connect(server.url)
    anna, boris = person(server.url, school, "anna"), person(server.url, school, "boris")
    page, heard = live_page(server.url, anna)
    room = school.rooms[0]
    title = "<b>Дроби</b><img src=x onerror=alert(1)>"
    answer = anna.post_json("/api/casts", {"room_id": room, "text": "3/4 + 1/4 = ?", "title": title})
    [cast] = answer["casts"]
    assert cast["ok"] is True
    show = panel.last("show")
    assert show["item"] == {"kind": "text", "title": title, "text": "3/4 + 1/4 = ?"}  # text, as typed
    assert answer["rooms"][0]["owner"]["name"] == "Анна Петровна"
    assert answer["rooms"][0]["panels"][0]["status"] == "shown"

    status, body = refused(
        lambda: boris.post_json("/api/casts", {"room_id": room, "url": "https://example.org/"})
    )
    assert status == 409 and body["error"] == "room_taken"
    assert body["rooms"] == [
        {
            "room_id": room,
            "name": body["rooms"][0]["name"],
            "owner": {"user_id": body["rooms"][0]["owner"]["user_id"], "name": "Анна Петровна"},
        }
    ]
    assert panel.last("show")["item"]["kind"] == "text"  # nothing was sent

    taken = boris.post_json("/api/casts", {"room_id": room, "url": "https://example.org/", "take_over": True})
    assert taken["rooms"][0]["owner"]["name"] == "Борис Ильич"
    assert panel.last("show")["item"]["url"] == "https://example.org/"
    wait_for(
        lambda: any(e == "taken" and p["room_id"] == room for e, p in heard), 10, "the first teacher told"
    )
    assert next(p for e, p in heard if e == "taken")["by"] == "Борис Ильич"
    # Anna's remote no longer drives the room; Boris's does.
    status, body = refused(lambda: anna.post_json(f"/api/rooms/{room}/control", {"action": "blank"}))
    assert status == 409 and body["error"] == "room_taken"
    page.disconnect()
    panel.client.disconnect()


def test_the_remote_pages_a_lesson_set_blanks_freezes_and_stops(controller: Any) -> None:
    server, data_dir = controller
    school = seed_school(data_dir, (2,))
    screens = [Panel(token).connect(server.url) for token in school.tokens]
    anna = person(server.url, school, "anna")
    other_page, heard = live_page(server.url, person(server.url, school, "boris"))
    room = school.rooms[0]
    lesson = anna.post_json("/api/lesson-sets", {"title": "Урок 5", "items": [
        {"url": "https://example.org/one", "title": "Первый"},
        {"url": "https://example.org/two", "title": "Второй"},
    ]})  # fmt: skip
    anna.post_json("/api/casts", {"room_id": room, "lesson_set": lesson["id"]})
    assert [s.last("show")["item"]["title"] for s in screens] == ["Первый", "Первый"]

    moved = anna.post_json(f"/api/rooms/{room}/control", {"action": "next"})  # a page has one page: next item
    assert moved["room"]["cast"]["title"] == "Второй"
    assert moved["room"]["cast"]["lesson_set"] == {
        "id": lesson["id"],
        "title": "Урок 5",
        "index": 1,
        "count": 2,
    }
    assert [s.last("show")["item"]["title"] for s in screens] == ["Второй", "Второй"]

    blanked = anna.post_json(f"/api/rooms/{room}/control", {"action": "blank"})
    assert all(a["ok"] for a in blanked["answers"]) and len(blanked["answers"]) == 2
    assert [s.last("control")["view"]["blank"] for s in screens] == [True, True]
    frozen = anna.post_json(f"/api/rooms/{room}/control", {"action": "freeze"})
    assert frozen["room"]["cast"]["view"] == {"page": 0, "playing": True, "blank": True, "frozen": True}
    # Every open page of the school hears it, not only the one that pressed.
    wait_for(
        lambda: any(
            e == "room" and p["room_id"] == room and p["cast"] and p["cast"]["view"]["frozen"]
            for e, p in heard
        ),
        10,
        "the other page to hear the freeze",
    )
    status, body = refused(lambda: anna.post_json(f"/api/rooms/{room}/control", {"action": "explode"}))
    assert status == 400 and body["message"] == "Неизвестное действие пульта."

    stopped = anna.post_json(f"/api/rooms/{room}/stop", {})
    assert stopped["room"]["cast"] is None and stopped["room"]["owner"] is None
    assert [s.last("state")["show"] for s in screens] == [None, None]
    status, body = refused(lambda: anna.post_json(f"/api/rooms/{room}/control", {"action": "next"}))
    assert status == 409 and body["error"] == "nothing_cast"
    other_page.disconnect()
    for screen in screens:
        screen.client.disconnect()


def test_cast_to_several_rooms_and_to_another_schools_room(controller: Any) -> None:
    server, data_dir = controller
    school, elsewhere = seed_school(data_dir), seed_school(data_dir)
    screens = [Panel(token).connect(server.url) for token in school.tokens]
    anna = person(server.url, school, "anna")
    answer = anna.post_json("/api/casts", {"room_ids": school.rooms, "url": "https://example.org/x"})
    assert sorted(c["room_id"] for c in answer["casts"]) == sorted(school.rooms)
    assert all(s.last("show")["item"]["url"] == "https://example.org/x" for s in screens)
    rooms = anna.get_json("/api/cast/rooms")["rooms"]
    assert rooms[0]["usual"] and {r["room_id"] for r in rooms} == set(school.rooms)
    status, body = refused(
        lambda: anna.post_json("/api/casts", {"room_ids": [school.rooms[0], elsewhere.rooms[0]], "text": "x"})
    )
    assert status == 404 and body["message"] == "Кабинет не найден."
    for screen in screens:
        screen.client.disconnect()


def test_alerts_override_reach_late_panels_and_count_acknowledgements(controller: Any) -> None:
    server, data_dir = controller
    school = seed_school(data_dir, (1, 1))
    first = Panel(school.tokens[0]).connect(server.url)
    it, teacher = person(server.url, school, "it"), person(server.url, school, "anna")
    status, body = refused(lambda: teacher.post_json("/api/alerts", {"text": "Пожарная тревога"}))
    assert status == 403
    status, body = refused(lambda: it.post_json("/api/alerts", {"text": "  "}))
    assert status == 400 and body["message"] == "Напишите текст оповещения."

    alert = it.post_json("/api/alerts", {"text": "Эвакуация через главный вход", "level": "danger"})
    # The answer comes once the alert is sent; the panel's client may hear it a moment later.
    shown = wait_for(lambda: first.last("alert"), 10, "the alert at the panel")
    assert shown["alert"]["text"] == "Эвакуация через главный вход"
    summary = wait_for(
        lambda: (s := it.get_json(f"/api/alerts/{alert['id']}"))["acked"] == 1 and s, 10, "an ack"
    )
    assert summary["total"] == 2 and [p["name"] for p in summary["missing"]] == [
        f"Панель {school.rooms[1]}.0"
    ]

    late = Panel(school.tokens[1]).connect(server.url)  # was off: shows the alert as it connects
    assert wait_for(lambda: late.last("state"), 10, "the late panel's state")["alert"]["id"] == str(
        alert["id"]
    )
    wait_for(lambda: it.get_json(f"/api/alerts/{alert['id']}")["acked"] == 2, 10, "the late panel's ack")

    municipal = person(server.url, school, "mo")
    wide = municipal.post_json("/api/alerts", {"text": "Сокращённые уроки", "level": "info"})
    assert wide["scope"]["type"] == "municipality" and wide["total"] == 2
    # The school's own alert stays on its screens over the municipality's; school IT cannot clear the latter.
    assert first.last("alert")["alert"]["id"] == str(alert["id"])
    status, _ = refused(lambda: it.post_json(f"/api/alerts/{wide['id']}/clear", {}))
    assert status == 404
    it.post_json(f"/api/alerts/{alert['id']}/clear", {})
    assert wait_for(
        lambda: first.last("alert")["alert"]["id"] == str(wide["id"]), 10, "the municipality's alert"
    )
    municipal.post_json(f"/api/alerts/{wide['id']}/clear", {})
    wait_for(
        lambda: first.last("alert")["alert"] is None and late.last("alert")["alert"] is None, 10, "cleared"
    )
    assert it.get_json("/api/alerts")["alerts"] == []
    for screen in (first, late):
        screen.client.disconnect()
