"""Rooms' screen schedules through the real routes: an upload checked, its materials resolved and kept;
faults with file, line and field; the school's bell files kept; the panel's state; access; a live panel."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from classcast.playlist import Ref, Schedule
from controller.app import Services
from controller.store import content, desired, orgs, users
from controller.store import schedules as store
from tests import bundles
from tests.pdfs import solid_pdf

from .conftest import PASSWORD, World, sign_in
from .test_panel_lifecycle import _connect, _received

PLAYLISTS = Path(__file__).resolve().parents[2] / "playlists"
IDLE, BELLS = (PLAYLISTS / "classroom-idle.yaml").read_text(), (PLAYLISTS / "bells-school.yaml").read_text()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(16)
VIDEO_IN_FILE = "2b65f5012a985301a41aff13a605e9af8bf96e5a3920bdc8847e517ae3ad4a61"
LOOP = """title: Петля
playlists:
  - name: петля
    items:
      - text: Доброе утро!
        duration: 10
rules:
  - playlist: петля
"""


def staff(
    svc: Services, app: Flask, login: str, role: str, node: str, node_id: int
) -> tuple[FlaskClient, dict]:
    svc.db.write(users.create_user, login, PASSWORD, f"Сотрудник {login}", role, node, node_id)
    client = app.test_client()
    return client, {"X-CSRF-Token": sign_in(client, login)}


@pytest.fixture
def it_a(svc: Services, app: Flask, world: World) -> tuple[FlaskClient, dict]:
    return staff(svc, app, "it_a", "school_it", "school", world.school_a)


def put(
    who: tuple[FlaskClient, dict], room_id: int, text: str | bytes, name: str = "room.yaml", **bells: str
) -> Any:
    client, headers = who
    data = text.encode() if isinstance(text, str) else text
    files = {"file": (io.BytesIO(data), name)}
    if bells:
        files["bells"] = [(io.BytesIO(body.encode()), bell) for bell, body in bells.items()]
    return client.put(
        f"/api/rooms/{room_id}/schedule", data=files, headers=headers, content_type="multipart/form-data"
    )


def materials(svc: Services, school_id: int) -> dict[str, dict[str, Any]]:
    """Return the materials the classroom example needs: its 201, 202, 301 and its video by checksum."""
    add = content.add_content
    return {
        "201": add(svc.db, svc.content, PNG, "Гимнастика для глаз", school_id),
        "202": add(svc.db, svc.content, solid_pdf([(200, 0, 0), (0, 0, 200)]), "Правила", school_id),
        "301": add(svc.db, svc.content, MP4 + b"week", "Видео недели", None),  # a shared one
        "video": add(svc.db, svc.content, MP4 + b"break", "Физминутка", school_id),
    }


def idle_text(made: dict[str, dict[str, Any]]) -> str:
    """Return playlists/classroom-idle.yaml naming these materials in place of its examples' ids."""
    text = re.sub(r"material: (201|202|301)\b", lambda m: f"material: {made[m.group(1)]['id']}", IDLE)
    return text.replace(VIDEO_IN_FILE, made["video"]["sha256"])


def test_the_classroom_example_is_kept_with_its_materials_resolved(
    svc: Services, world: World, it_a: Any
) -> None:
    made = materials(svc, world.school_a)
    answer = put(it_a, world.room_a, idle_text(made), "classroom-idle.yaml", **{"bells-school.yaml": BELLS})
    assert answer.status_code == 200, answer.json
    kept = answer.json["schedule"]
    assert (kept["title"], kept["file_name"], kept["uploaded_by"], kept["panels"]) == (
        "Кабинет без трансляции", "classroom-idle.yaml", "Сотрудник it_a", 1,
    )  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{16}", kept["revision"]) and kept["uploaded_at"].endswith("Z")

    document = store.room_schedule(svc.db.read, world.room_a)["document"]
    pause, _, talks = (playlist["items"] for playlist in document["playlists"])
    image, pdf = made["201"], made["202"]
    assert pause[0] == {
        "sha256": image["sha256"], "kind": "image", "mime": "image/png", "title": "Гимнастика для глаз",
        "material": image["id"],
    }  # fmt: skip
    assert pause[1] == {
        "sha256": made["video"]["sha256"], "kind": "video", "mime": "video/mp4", "title": "Физминутка",
        "duration": 60,
    }  # fmt: skip
    pages = [{"sha256": page["sha256"], "mime": "image/png"} for page in pdf["detail"]["pages"]]
    assert pause[3] == {
        "sha256": pdf["sha256"], "kind": "pdf", "mime": "application/pdf", "pages": pages, "title": "Правила",
        "material": pdf["id"],
    }  # fmt: skip
    assert talks[0] == {
        "sha256": made["301"]["sha256"], "kind": "video", "mime": "video/mp4", "title": "Видео недели",
        "material": made["301"]["id"], "lesson": True, "sound": True,
    }  # fmt: skip
    assert document["bells"]["week"][0]["days"] == ["пн"]  # the bell file, put in its name's place

    schedule = Schedule.from_dict(document)  # as the player reads it
    first = schedule.playlists["перемена"].items[0]
    assert (first.kind, first.ref, first.title) == (
        "image",
        Ref("sha256", image["sha256"]),
        "Гимнастика для глаз",
    )
    assert {Ref("sha256", page["sha256"]) for page in pages} <= schedule.needed()
    assert not any(ref.form == "material" for ref in schedule.needed())


def test_the_plan_of_a_day_is_in_the_schools_words(svc: Services, world: World, it_a: Any) -> None:
    made = materials(svc, world.school_a)
    put(it_a, world.room_a, idle_text(made), **{"bells-school.yaml": BELLS})
    monday = it_a[0].get(f"/api/rooms/{world.room_a}/schedule?date=2025-11-10").json["schedule"]
    assert monday["day"] == "2025-11-10"
    assert monday["today"][:4] == [
        {"start": "00:00", "end": "08:00", "playlist": None, "screen": False},
        {"start": "08:00", "end": "08:30", "playlist": "до уроков", "screen": True},
        {"start": "08:30", "end": "09:00", "playlist": "разговоры о важном", "screen": True},
        {"start": "09:00", "end": "09:10", "playlist": "перемена", "screen": True},
    ]
    assert monday["today"][-1] == {"start": "15:30", "end": "24:00", "playlist": None, "screen": False}
    sunday = it_a[0].get(f"/api/rooms/{world.room_a}/schedule?date=2025-11-09").json["schedule"]["today"]
    assert sunday == [{"start": "00:00", "end": "24:00", "playlist": None, "screen": False}]
    for bad in ("2025-13-01", "вчера", "2025-1-1"):
        refused = it_a[0].get(f"/api/rooms/{world.room_a}/schedule?date={bad}")
        assert refused.status_code == 400 and "ГГГГ-ММ-ДД" in refused.json["message"]


def test_a_later_upload_finds_the_schools_stored_bell_file(
    svc: Services, app: Flask, world: World, it_a: Any
) -> None:
    made = materials(svc, world.school_a)
    assert put(it_a, world.room_a, idle_text(made), **{"bells-school.yaml": BELLS}).status_code == 200
    room_2 = svc.db.write(orgs.create_room, world.school_a, "102")
    again = put(it_a, room_2, idle_text(made))  # names bells-school.yaml, sends no bell file
    assert again.status_code == 200, again.json
    assert store.room_schedule(svc.db.read, room_2)["document"]["bells"]["title"].startswith(
        "Расписание звонков"
    )

    # Another school keeps its own bell files: school A's is not there for it.
    it_b = staff(svc, app, "it_b", "school_it", "school", world.school_b)
    elsewhere = put(it_b, world.room_b, LOOP.replace("title: Петля", "bells: bells-school.yaml"))
    assert elsewhere.status_code == 422
    assert elsewhere.json["faults"] == [
        {
            "file": "room.yaml",
            "line": 1,
            "field": "bells",
            "message": "нет файла звонков «bells-school.yaml»: приложите его к расписанию",
        }
    ]


def test_a_broken_file_is_refused_with_every_fault_and_the_schedule_stays(
    svc: Services, world: World, it_a: Any
) -> None:
    assert put(it_a, world.room_a, LOOP).status_code == 200
    before = store.room_schedule(svc.db.read, world.room_a)["revision"]
    broken = LOOP.replace("duration: 10", "duration: пять").replace(
        "  - playlist: петля", "  - playlist: петля\n    colour: red"
    )
    answer = put(it_a, world.room_a, broken, "кабинет.yaml")
    assert answer.status_code == 422
    assert answer.json["error"] == "invalid_schedule" and "ошибок: 2" in answer.json["message"]
    assert [(f["file"], f["line"], f["field"]) for f in answer.json["faults"]] == [
        ("кабинет.yaml", 6, "playlists[0].items[0].duration"),
        ("кабинет.yaml", 9, "rules[0].colour"),
    ]
    assert "пять" in answer.json["faults"][0]["message"]
    assert store.room_schedule(svc.db.read, world.room_a)["revision"] == before


def test_content_the_school_may_not_use_is_a_fault_at_its_line(
    svc: Services, world: World, it_a: Any
) -> None:
    theirs = content.add_content(svc.db, svc.content, PNG + b"b", "Чужое", world.school_b)
    ours = content.add_content(svc.db, svc.content, bundles.good_bundle(), "Урок", world.school_a)
    text = LOOP.replace(
        "      - text: Доброе утро!\n",
        f"      - material: 9999\n      - material: {theirs['id']}\n      - sha256: {theirs['sha256']}\n"
        f"        kind: image\n      - sha256: {ours['sha256']}\n        kind: video\n",
    )
    answer = put(it_a, world.room_a, text)
    assert answer.status_code == 422
    assert [(f["line"], f["field"], f["message"]) for f in answer.json["faults"]] == [
        (5, "playlists[0].items[0].material", "нет материала 9999 среди материалов школы"),
        (6, "playlists[0].items[1].material", f"нет материала {theirs['id']} среди материалов школы"),
        (
            7,
            "playlists[0].items[2].sha256",
            "такого файла нет среди материалов школы: загрузите его в материалы",
        ),
        (10, "playlists[0].items[3].kind", "этот файл — html5, а не video"),
    ]
    fixed = text.replace(f"      - material: 9999\n      - material: {theirs['id']}\n", "").replace(
        f"      - sha256: {theirs['sha256']}\n        kind: image\n", ""
    )
    kept = put(it_a, world.room_a, fixed.replace("kind: video", "kind: html5"))
    assert kept.status_code == 200, kept.json
    bundle = store.room_schedule(svc.db.read, world.room_a)["document"]["playlists"][0]["items"][0]
    assert (bundle["entry"], bundle["mime"], bundle["title"]) == ("index.html", "application/zip", "Урок")


@pytest.mark.parametrize(
    ("files", "answer"),
    [
        ({"file": (b"\xff\xfe\x00t", "room.yaml")}, "не в кодировке UTF-8"),
        ({"file": (b"#" * (256 * 1024 + 1), "room.yaml")}, "больше 256 КиБ"),
        ({}, "Приложите один файл расписания"),
        (
            {"file": (LOOP.encode(), "room.yaml"), "bells": (b"bells: {}", "../bells.txt")},
            "«bells.txt» должно",
        ),
    ],
)
def test_a_file_that_cannot_be_a_schedule_is_refused_plainly(
    world: World, it_a: Any, files: dict[str, tuple[bytes, str]], answer: str
) -> None:
    client, headers = it_a
    data = {field: (io.BytesIO(body), name) for field, (body, name) in files.items()}
    refused = client.put(f"/api/rooms/{world.room_a}/schedule", data=data, headers=headers)
    assert refused.status_code == 400 and answer in refused.json["message"]


def test_bell_files_and_names_are_checked_too(world: World, it_a: Any) -> None:
    lonely = put(it_a, world.room_a, BELLS, "bells-school.yaml")
    assert (
        lonely.status_code == 422
        and "расписание звонков, а не расписание экрана" in lonely.json["faults"][0]["message"]
    )
    escape = put(it_a, world.room_a, LOOP.replace("title: Петля", "bells: ../../secret.yaml"))
    assert escape.status_code == 422 and "без папок" in escape.json["faults"][0]["message"]
    broken_bells = put(it_a, world.room_a, LOOP, **{"bells-new.yaml": "bells:\n  week: []\n"})
    assert [(f["file"], f["field"]) for f in broken_bells.json["faults"]] == [
        ("bells-new.yaml", "bells.week")
    ]


def test_the_panels_state_carries_its_rooms_schedule_wherever_it_is(
    svc: Services, world: World, it_a: Any
) -> None:
    svc.db.write(lambda db: db["school"].update(world.school_a, {"timezone": "Asia/Novosibirsk"}))
    assert desired.get(svc.db.read, world.panel_a)["schedule"] is None
    kept = put(it_a, world.room_a, LOOP).json["schedule"]
    schedule = desired.get(svc.db.read, world.panel_a)["schedule"]
    assert set(schedule) == {"revision", "title", "timezone", "document"}
    assert (schedule["revision"], schedule["title"], schedule["timezone"]) == (
        kept["revision"],
        "Петля",
        "Asia/Novosibirsk",
    )
    assert schedule["document"]["playlists"][0]["items"] == [{"text": "Доброе утро!", "duration": 10}]

    room_2 = svc.db.write(orgs.create_room, world.school_a, "102")
    client, headers = it_a
    assert (
        client.post(
            f"/api/panels/{world.panel_a}/move", json={"room_id": room_2}, headers=headers
        ).status_code
        == 200
    )
    assert desired.get(svc.db.read, world.panel_a)["schedule"] is None
    other = put(it_a, room_2, LOOP.replace("Петля", "Кабинет 102")).json["schedule"]
    assert (
        desired.get(svc.db.read, world.panel_a)["schedule"]["revision"]
        == other["revision"]
        != kept["revision"]
    )


def test_a_removed_schedule_leaves_the_room_without_one_and_is_audited(
    svc: Services, world: World, it_a: Any
) -> None:
    kept = put(it_a, world.room_a, LOOP, "петля.yaml").json["schedule"]
    client, headers = it_a
    assert client.delete(f"/api/rooms/{world.room_a}/schedule", headers=headers).json == {"schedule": None}
    assert client.get(f"/api/rooms/{world.room_a}/schedule").json == {"schedule": None}
    assert desired.get(svc.db.read, world.panel_a)["schedule"] is None
    assert client.get(f"/api/rooms/{world.room_a}/schedule/source").status_code == 404
    events = svc.db.read.execute(
        "SELECT action, object_id, detail FROM audit_event WHERE object_kind = 'schedule' ORDER BY id"
    ).fetchall()
    detail = f'"room_id": {world.room_a}, "file_name": "петля.yaml", "revision": "{kept["revision"]}"'
    assert [(action, object_id) for action, object_id, _ in events] == [
        ("update", world.room_a),
        ("archive", world.room_a),
    ]
    assert all(detail in text and "Доброе" not in text for _, _, text in events)  # metadata, never the text


def test_the_source_downloads_as_it_was_uploaded(world: World, it_a: Any) -> None:
    put(it_a, world.room_a, "\ufeff" + LOOP, "кабинет 101.yaml")
    source = it_a[0].get(f"/api/rooms/{world.room_a}/schedule/source")
    assert source.status_code == 200 and source.get_data(as_text=True) == LOOP
    assert source.headers["Content-Type"] == "text/yaml; charset=utf-8"
    disposition = source.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "UTF-8''%D0%BA%D0%B0%D0%B1" in disposition


def test_who_may_read_and_change_a_rooms_schedule(svc: Services, app: Flask, world: World, it_a: Any) -> None:
    put(it_a, world.room_a, LOOP)
    url = f"/api/rooms/{world.room_a}/schedule"
    teacher = staff(svc, app, "teacher_a2", "teacher", "school", world.school_a)
    assert teacher[0].get(url).status_code == 403 and put(teacher, world.room_a, LOOP).status_code == 403
    it_b = staff(svc, app, "it_b", "school_it", "school", world.school_b)
    client, headers = it_b
    assert [client.get(url).status_code, client.get(url + "/source").status_code] == [404, 404]
    assert put(it_b, world.room_a, LOOP).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    municipality = svc.db.read["school"].get(world.school_a)["municipality_id"]
    coordinator = staff(svc, app, "coord", "municipal", "municipality", municipality)
    assert coordinator[0].get(url).json["schedule"]["title"] == "Петля"
    assert put(coordinator, world.room_a, LOOP).status_code == 403
    assert store.room_schedule(svc.db.read, world.room_a) is not None


def test_a_connected_panel_is_sent_the_new_schedule_at_once(
    app: Flask, svc: Services, world: World, it_a: Any
) -> None:
    panel = _connect(app, svc, world.token_a)
    assert _received(panel, "state")[0]["schedule"] is None  # on connecting
    kept = put(it_a, world.room_a, LOOP).json["schedule"]
    [state] = _received(panel, "state")
    assert state["schedule"]["revision"] == kept["revision"]
    assert state["schedule"]["document"]["rules"] == [{"playlist": "петля"}]
    it_a[0].delete(f"/api/rooms/{world.room_a}/schedule", headers=it_a[1])
    [state] = _received(panel, "state")
    assert state["schedule"] is None


def test_a_file_made_to_wear_the_checker_out_is_refused_plainly(world: World, it_a: Any) -> None:
    # Eight levels of ten aliases each stand for 10⁸ items in 400 bytes; the checks would take hours.
    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 8)]
    bomb = put(it_a, world.room_a, "\n".join(levels))
    assert bomb.status_code == 422 and "повторяют части файла" in bomb.json["faults"][0]["message"]
    deep = put(it_a, world.room_a, "playlists: " + "[" * 5000 + "]" * 5000)
    assert deep.status_code == 422 and "вложены слишком глубоко" in deep.json["faults"][0]["message"]
