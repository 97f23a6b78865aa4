"""The library and the journal through a real controller, with the reference main system as the
upstream (a real process): search and its local index, a library item cast once into the content
store, today's timetable without its class lists, casting to the current lesson, and the room given to
the teacher whose lesson it is by the timetable."""

from __future__ import annotations

import json
import secrets
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from classcast.identity import ensure_identity
from controller.app import create_app
from controller.store import orgs, panels, users
from mainsystem.process import StandIn

from .casting_helpers import Panel, live_page, person, refused
from .conftest import Controller, Processes, serve_controller, wait_for

PASSWORD = "correct horse battery"


@dataclass
class Setup:
    controller: Controller
    standin: StandIn
    rooms: dict[str, int]
    screens: dict[str, Panel]


def _seed(data_dir: Path) -> tuple[dict[str, int], dict[str, str]]:
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, dict[str, int]]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Бердск")
        school = orgs.create_school(db, municipality, "Школа № 5", "СОШ № 5", timezone="Asia/Novosibirsk")
        return school, {name: orgs.create_room(db, school, name) for name in ("101", "102")}

    school, rooms = svc.db.write(build)
    tokens = {}
    for name, room in rooms.items():
        key = ensure_identity(data_dir.parent / f"panel-{name}").public_key
        tokens[name] = svc.db.write(panels.enroll_panel, room, f"Панель {name}", key)[1]
    for login, full_name in (("anna", "Анна Петровна"), ("boris", "Борис Ильич")):
        svc.db.write(users.create_user, login, PASSWORD, full_name, "teacher", "school", school)
    svc.db.close()
    return rooms, tokens


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("library")
    rooms, tokens = _seed(root / "controller")
    token = secrets.token_urlsafe(16)
    # Anna teaches in 101 now; Boris has lessons today, none now.
    timetable = ["--teacher", "anna=101,102", "--teacher", "boris=102", "--now-lesson", "anna:101"]
    standin = StandIn(
        token, ["--port", "0", "--timezone", "Asia/Novosibirsk", *timetable], root / "standin.log"
    )
    processes = Processes(root)

    def spawn(name: str, *argv: str, env: dict[str, str] | None = None) -> Any:
        return processes.start(name, [sys.executable, *argv], env)

    env = {
        "CLASSCAST_JOURNAL_URL": standin.journal_url,
        "CLASSCAST_LIBRARY_URL": standin.library_url,
        "CLASSCAST_MAIN_TOKEN": token,
        "CLASSCAST_ROOM_OWNER_RULE": "timetable",
    }
    try:
        controller = serve_controller(spawn, root / "controller", env)
        screens = {name: Panel(tokens[name]).connect(controller.url) for name in rooms}
        yield Setup(controller, standin, rooms, screens)
        for screen in screens.values():
            screen.client.disconnect()
    finally:
        processes.stop_all()
        standin.stop()


def _upstream_requests(standin: StandIn) -> list[dict[str, Any]]:
    with urllib.request.urlopen(standin.url + "/_stand-in/requests", timeout=10) as answer:
        return json.loads(answer.read())["requests"]


def test_a_teacher_finds_a_library_item_and_casts_it_to_the_current_lesson(setup: Setup) -> None:
    anna = person(setup.controller.url, "anna", PASSWORD)
    found = anna.get_json("/api/library/search?q=" + urllib.request.quote("дроби"))
    assert found["source"] == "upstream" and found["items"]
    item = found["items"][0]
    assert "дроб" in (item["title"] + item["description"]).lower()

    today = anna.get_json("/api/journal/today")
    assert today["now"]["room"] == "101" and today["now"]["room_id"] == setup.rooms["101"]
    text = json.dumps(today, ensure_ascii=False)
    assert "pupils" not in text and "marks" not in text and "absent" not in text  # never passed on

    for _ in range(2):  # the second cast takes the media from the content store
        answer = anna.post_json("/api/casts", {"current_lesson": True, "library": item["id"]})
        assert [c["room_id"] for c in answer["casts"]] == [setup.rooms["101"]]
        assert all(c["ok"] for c in answer["casts"])
    shown = setup.screens["101"].last("show")["item"]
    assert shown["library"] is True and shown["title"] == item["title"] and shown["kind"] == item["kind"]
    assert setup.screens["102"].last("show") is None
    media = [r for r in _upstream_requests(setup.standin) if r["path"].endswith(f"/{item['id']}/media")]
    assert len(media) == 1 and media[0]["auth"] == "service"

    # Boris has no lesson now: nothing to cast to.
    boris = person(setup.controller.url, "boris", PASSWORD)
    status, body = refused(lambda: boris.post_json("/api/casts", {"current_lesson": True, "text": "x"}))
    assert status == 409 and body["message"] == "Сейчас по расписанию у вас нет урока."


def test_the_room_goes_to_the_teacher_whose_lesson_it_is(setup: Setup) -> None:
    anna, boris = (
        person(setup.controller.url, "anna", PASSWORD),
        person(setup.controller.url, "boris", PASSWORD),
    )
    page, heard = live_page(setup.controller.url, boris)
    room = setup.rooms["101"]
    boris.post_json("/api/casts", {"room_id": room, "text": "Объявление", "take_over": True})
    # Boris had it; it is Anna's lesson by the timetable: she need not confirm, and he is told.
    answer = anna.post_json("/api/casts", {"room_id": room, "text": "Тема урока"})
    assert answer["rooms"][0]["owner"]["name"] == "Анна Петровна"
    wait_for(lambda: any(e == "taken" for e, _ in heard), 10, "Boris told")
    # Not so the other way round: Boris must confirm.
    status, body = refused(lambda: boris.post_json("/api/casts", {"room_id": room, "text": "Ещё"}))
    assert status == 409 and body["error"] == "room_taken"
    page.disconnect()


def test_search_answers_from_the_local_index_when_the_library_is_down(setup: Setup) -> None:
    anna = person(setup.controller.url, "anna", PASSWORD)
    online = anna.get_json("/api/library/search?q=" + urllib.request.quote("дроби"))["items"]
    setup.standin.stop()
    offline = anna.get_json("/api/library/search?q=" + urllib.request.quote("дроби"))
    assert offline["source"] == "local"
    assert offline["message"] == "Библиотека сейчас недоступна: показаны материалы, найденные раньше."
    assert offline["items"] and {i["id"] for i in offline["items"]} <= {i["id"] for i in online}
    status, body = refused(lambda: anna.get_json("/api/journal/today"))
    assert status in (502, 503, 504) and "Журнал" in body["message"]
