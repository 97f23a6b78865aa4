"""Pre-provisioning: a municipality uploads its purchased panels by serial; school IT confirms one
waiting with its code in one click."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from controller.app import Services
from controller.store import users

from .conftest import PASSWORD, World, sign_in
from .test_pairing import Panel, school_it

OGRN_A, OGRN_B = "1025401234567", "1025409876543"


def _municipal(app: Flask, svc: Services, world: World) -> tuple[FlaskClient, dict[str, str]]:
    def setup(db: Any) -> None:
        db["school"].update(world.school_a, {"ogrn": OGRN_A})
        db["school"].update(world.school_b, {"ogrn": OGRN_B})

    svc.db.write(setup)
    municipality = svc.db.read["school"].get(world.school_a)["municipality_id"]
    svc.db.write(
        users.create_user, "mo", PASSWORD, "Координатор МО", "municipal", "municipality", municipality
    )
    staff = app.test_client()
    return staff, {"X-CSRF-Token": sign_in(staff, "mo")}


def _upload(staff: FlaskClient, headers: dict[str, str], text: str) -> Any:
    data = {"file": (io.BytesIO(text.encode("utf-8-sig")), "panels.csv")}
    return staff.post("/api/provisions", data=data, headers=headers, content_type="multipart/form-data")


class SerialPanel(Panel):
    def __init__(self, client: FlaskClient, folder: Path, serial: str) -> None:
        super().__init__(client, folder)
        self.serial = serial

    def ask(self) -> dict[str, Any]:
        body = {"public_key": self.public_key, "secret": self.secret, "serial": self.serial}
        answer = self.client.post("/api/panel/v1/pairings", json=body)
        assert answer.status_code == 201, answer.json
        return answer.json


def test_a_list_of_serials_is_loaded_row_by_row(app: Flask, svc: Services, world: World) -> None:
    staff, headers = _municipal(app, svc, world)
    text = (
        "Серийный номер;ОГРН школы;Кабинет;Имя панели\n"
        f"SN-001;{OGRN_A};101;Кабинет 101\n"
        f"SN-002;{OGRN_B};;\n"
        f"SN-001;{OGRN_A};101;дубль\n"
        f"SN-003;1111111111111;101;\n"
        f"SN-004;{OGRN_A};999;\n"
        f";{OGRN_A};101;\n"
    )
    answer = _upload(staff, headers, text)
    assert answer.status_code == 200, answer.json
    assert (answer.json["added"], answer.json["updated"]) == (2, 0)
    assert [(r["row"], r["field"]) for r in answer.json["bad_rows"]] == [
        (4, "serial"),
        (5, "school_ogrn"),
        (6, "room"),
        (7, "serial"),
    ]
    assert "999" in answer.json["bad_rows"][2]["message"]
    again = _upload(staff, headers, f"serial,school_ogrn,room,name\nSN-002,{OGRN_B},201,Каб. 201\n")
    assert (again.json["added"], again.json["updated"]) == (0, 1)
    listed = staff.get("/api/provisions").json["items"]
    assert {(p["serial"], p["room"]) for p in listed} == {("SN-001", "101"), ("SN-002", "201")}


def test_a_file_without_the_serial_column_is_refused_clearly(app: Flask, svc: Services, world: World) -> None:
    staff, headers = _municipal(app, svc, world)
    answer = _upload(staff, headers, "ОГРН школы;Кабинет\n1;2\n")
    assert answer.status_code == 400 and "Серийный номер" in answer.json["message"]


def test_school_it_cannot_load_a_purchase_list(app: Flask, svc: Services, world: World) -> None:
    staff = app.test_client()
    csrf = school_it(svc, staff, "it_a", world.school_a)
    answer = _upload(staff, {"X-CSRF-Token": csrf}, "serial,school_ogrn\nX,1\n")
    assert answer.status_code == 403


def test_a_provisioned_panel_is_confirmed_with_one_click(
    app: Flask, svc: Services, world: World, tmp_path: Path
) -> None:
    staff, headers = _municipal(app, svc, world)
    _upload(staff, headers, f"serial;school_ogrn;room;name\nSN-001;{OGRN_A};101;Кабинет 101, у доски\n")
    device = SerialPanel(app.test_client(), tmp_path / "device", "SN-001")
    asked = device.ask()
    it_a, it_b = app.test_client(), app.test_client()
    headers_a = {"X-CSRF-Token": school_it(svc, it_a, "it_a", world.school_a)}
    headers_b = {"X-CSRF-Token": school_it(svc, it_b, "it_b", world.school_b)}

    waiting = it_a.get("/api/pairings/provisioned").json["items"]
    assert [(w["code"], w["serial"], w["room"], w["conflict"]) for w in waiting] == [
        (asked["code"], "SN-001", "101", False)
    ]
    assert waiting[0]["fingerprint"] == device.fingerprint
    assert it_b.get("/api/pairings/provisioned").json["items"] == []
    refused = it_b.post("/api/pairings/confirm", json={"code": asked["code"]}, headers=headers_b)
    assert refused.status_code == 404

    confirmed = it_a.post("/api/pairings/confirm", json={"code": asked["code"]}, headers=headers_a)

    assert confirmed.status_code == 201, confirmed.json
    panel = svc.db.read["panel"].get(confirmed.json["id"])
    assert (panel["name"], panel["room_id"], panel["serial"]) == (
        "Кабинет 101, у доски",
        world.room_a,
        "SN-001",
    )
    assert device.collect(asked["id"]).json["state"] == "approved"
    assert svc.db.read.execute("SELECT panel_id FROM provision").fetchone()[0] == panel["id"]
    assert it_a.get("/api/pairings/provisioned").json["items"] == []


def test_two_devices_claiming_one_serial_must_be_typed(
    app: Flask, svc: Services, world: World, tmp_path: Path
) -> None:
    staff, headers = _municipal(app, svc, world)
    _upload(staff, headers, f"serial;school_ogrn;room\nSN-001;{OGRN_A};101\n")
    codes = [SerialPanel(app.test_client(), tmp_path / f"d{n}", "SN-001").ask()["code"] for n in range(2)]
    it_a = app.test_client()
    headers_a = {"X-CSRF-Token": school_it(svc, it_a, "it_a", world.school_a)}

    waiting = it_a.get("/api/pairings/provisioned").json["items"]
    assert sorted(w["code"] for w in waiting) == sorted(codes) and all(w["conflict"] for w in waiting)
    answer = it_a.post("/api/pairings/confirm", json={"code": codes[0]}, headers=headers_a)
    assert answer.status_code == 409
    assert svc.db.read.execute("SELECT count(*) FROM panel WHERE serial = 'SN-001'").fetchone()[0] == 0


def test_a_confirmation_without_a_room_in_the_list_asks_for_one(
    app: Flask, svc: Services, world: World, tmp_path: Path
) -> None:
    staff, headers = _municipal(app, svc, world)
    _upload(staff, headers, f"serial;school_ogrn\nSN-009;{OGRN_A}\n")
    asked = SerialPanel(app.test_client(), tmp_path / "d", "SN-009").ask()
    it_a = app.test_client()
    headers_a = {"X-CSRF-Token": school_it(svc, it_a, "it_a", world.school_a)}

    missing = it_a.post("/api/pairings/confirm", json={"code": asked["code"]}, headers=headers_a)
    foreign = it_a.post(
        "/api/pairings/confirm", json={"code": asked["code"], "room_id": world.room_b}, headers=headers_a
    )
    chosen = it_a.post(
        "/api/pairings/confirm", json={"code": asked["code"], "room_id": world.room_a}, headers=headers_a
    )

    assert missing.status_code == 400 and "room_id" in missing.json["fields"]
    assert foreign.status_code == 400
    assert (
        chosen.status_code == 201 and svc.db.read["panel"].get(chosen.json["id"])["name"] == "Панель SN-009"
    )
