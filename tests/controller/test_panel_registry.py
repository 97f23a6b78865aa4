"""The registry of display devices and the reconciliation, through the real routes on a real SQLite file.

A two-region world with panels in every state, written straight into the database (their health as
the ingest keeps it), revoked panels and unknown devices recorded by controller.store.lifecycle as the
panel routes do, and purchase lists. Each account reads the listing, one panel, the exports and the
reconciliation; what it gets must be exactly its subtree's. The export is opened with openpyxl (and
the csv module) and its headings compared with the table in docs/ui.md.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from controller.app import Services, create_app
from controller.store import lifecycle, orgs, users
from controller.timeutil import iso_from_unix

from .conftest import PASSWORD, sign_in

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ui.md"
NOW = time.time()
DAY = 86400
GIB = 1024**3


@dataclass
class Fleet:
    ids: dict[str, int] = field(default_factory=dict)  # name -> id (schools, rooms, panels, accounts)
    keys: dict[str, str] = field(default_factory=dict)  # panel name -> its CURVE public key

    def __getitem__(self, name: str) -> int:
        return self.ids[name]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    # An hour before a panel is offline: a panel seen a minute ago stays online however slow the run.
    app = create_app(
        {
            "data_dir": str(tmp_path / "controller"),
            "secure_cookies": False,
            "panel_offline_after_s": 3600.0,
            "panel_silent_after_days": 30.0,
        }
    )
    yield app
    app.extensions["classcast"].db.close()


def _panel(db: Any, school: int, room: int | None, name: str, seen_ago: float | None, **facts: Any) -> int:
    row = {
        "school_id": school,
        "room_id": room,
        "name": name,
        "state": "active",
        "created_at": iso_from_unix(NOW - 90 * DAY),
        "paired_at": iso_from_unix(NOW - 60 * DAY),
        "last_seen_at": None if seen_ago is None else iso_from_unix(NOW - seen_ago),
        **facts,
    }
    return db["panel"].insert(row).last_pk


def _key(n: int) -> str:
    return f"curve-public-key-{n:02d}".ljust(40, "x")


def build_fleet(db: Any) -> Fleet:
    """R1 → M1 (schools A, B) and M2 (C); R2 → M3 (D). Panels of every state, mostly in school A."""
    fleet = Fleet()
    ids = fleet.ids
    r1 = orgs.create_region(db, "54", "Новосибирская область")
    r2 = orgs.create_region(db, "55", "Омская область")
    m1 = orgs.create_municipality(db, r1, "город Новосибирск")
    m2 = orgs.create_municipality(db, r1, "город Бердск")
    m3 = orgs.create_municipality(db, r2, "город Омск")
    ids |= {"r1": r1, "r2": r2, "m1": m1, "m2": m2, "m3": m3}
    for name, municipality in (("A", m1), ("B", m1), ("C", m2), ("D", m3)):
        ids[name] = orgs.create_school(
            db, municipality, f"Школа {name}", f"СОШ {name}", timezone="Asia/Novosibirsk"
        )
        ids[f"{name}101"] = orgs.create_room(db, ids[name], f"Кабинет {name}101")
    ids["A102"] = orgs.create_room(db, ids["A"], "Кабинет A102")
    fleet.keys = {name: _key(n) for n, name in enumerate(("a1", "a2", "a5", "b1"))}
    ids["a1"] = _panel(
        db, ids["A"], ids["A101"], "Панель у доски", 60,
        serial="=1+1", mac="dc:a6:32:01:02:03", model="Raspberry Pi 4 Model B Rev 1.4",
        os="Debian GNU/Linux 12 (bookworm)", player_version="1.10.0", agent_version="1.9.2",
        temperature_c=54.2, disk_free_bytes=int(3.1 * GIB), disk_total_bytes=int(29.7 * GIB),
        undervoltage_now=0, undervoltage_seen_at=NOW - 3 * DAY, display_connected=1,
        curve_public_key=fleet.keys["a1"], token_hash="a1-token-hash",
    )  # fmt: skip
    ids["a2"] = _panel(
        db, ids["A"], ids["A102"], "Ёлочка", 2 * 3600, serial="SN-A2", model="@Pi", temperature_c=71.0,
        player_version="1.9.0", clone_seen_at=NOW - 100, curve_public_key=fleet.keys["a2"],
    )  # fmt: skip
    ids["a3"] = _panel(db, ids["A"], ids["A101"], "-старая у окна", 40 * DAY, serial="SN-A3")
    ids["a4"] = _panel(db, ids["A"], ids["A101"], "Новая", None, state="pending", paired_at=None)
    ids["a5"] = _panel(db, ids["A"], ids["A102"], "Отозванная", 5 * DAY, curve_public_key=fleet.keys["a5"])
    ids["b1"] = _panel(
        db, ids["B"], ids["B101"], "Панель Б", 30, temperature_c=80.5, curve_public_key=fleet.keys["b1"]
    )
    ids["c1"] = _panel(db, ids["C"], ids["C101"], "Панель В", 30, serial="SN-C1")
    ids["d1"] = _panel(db, ids["D"], ids["D101"], "Панель Г", 30, serial="SN-D1")
    ids["d2"] = _panel(db, ids["D"], ids["D101"], "Молчащая в Омске", 45 * DAY)
    return fleet


def _provision(db: Any, serial: str, school: int, panel_id: int | None = None) -> None:
    db["provision"].insert(
        {"serial": serial, "school_id": school, "created_at": NOW - 20 * DAY, "panel_id": panel_id}
    )


def record_traffic(db: Any, fleet: Fleet) -> None:
    """Purchase lists, a revoked panel still trying, and devices nobody registered."""
    _provision(db, "PROV-A", fleet["A"])
    _provision(db, "PROV-B", fleet["B"])
    _provision(db, "PROV-D", fleet["D"])
    _provision(db, "=1+1", fleet["A"], panel_id=fleet["a1"])  # paired: in no list
    lifecycle.revoke(db, fleet["a5"])
    for _ in range(3):
        lifecycle.record_contact(db, "telemetry", lifecycle.key_hash(fleet.keys["a5"]), "10.0.5.5")
    pairing = "pairing"
    device = {"model": "Raspberry Pi 5", "mac": "2c:cf:67:00:00:01"}
    lifecycle.record_contact(
        db, pairing, lifecycle.key_hash(_key(50)), "10.0.0.50", {"serial": "PROV-A"} | device
    )
    lifecycle.record_contact(db, pairing, lifecycle.key_hash(_key(51)), "10.0.0.51", {"serial": "STRANGER"})
    lifecycle.record_contact(db, pairing, lifecycle.key_hash(_key(52)), "10.0.0.52", {"serial": "PROV-D"})
    lifecycle.record_contact(db, "socketio", "token-hash-nobody-has", "10.0.0.53")
    # Asked for a code, then was approved: its key is panel a1's now, so it is not unknown.
    lifecycle.record_contact(
        db, pairing, lifecycle.key_hash(fleet.keys["a1"]), "10.0.0.1", {"serial": "=1+1"}
    )
    # The same for a token an active panel holds.
    lifecycle.record_contact(db, "socketio", "a1-token-hash", "10.0.0.1")
    # Too long ago for this month's check.
    lifecycle.record_contact(db, pairing, lifecycle.key_hash(_key(53)), "10.0.0.54", {"serial": "OLD"})
    db.execute(
        "UPDATE contact_attempt SET first_at = ?, last_at = ? WHERE address = '10.0.0.54'",
        [NOW - 40 * DAY] * 2,
    )


@pytest.fixture
def fleet(svc: Services) -> Fleet:
    fleet = svc.db.write(build_fleet)
    svc.db.write(record_traffic, fleet)
    accounts = {
        "it_a": ("school_it", "school", fleet["A"]),
        "teacher_a": ("teacher", "school", fleet["A"]),
        "coord": ("municipal", "municipality", fleet["m1"]),
        "coord2": ("municipal", "municipality", fleet["m2"]),
        "reg1": ("regional", "region", fleet["r1"]),
        "reg2": ("regional", "region", fleet["r2"]),
        "op": ("operator", None, None),
    }
    for login, (role, node_type, node_id) in accounts.items():
        fleet.ids[login] = svc.db.write(users.create_user, login, PASSWORD, login, role, node_type, node_id)
    return fleet


def as_user(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, login)
    return client


def listed(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get("/api/panels", query_string=query)
    assert response.status_code == 200, response.json
    assert response.json["total"] == len(response.json["panels"])
    return response.json["panels"]


def ids_of(rows: list[dict[str, Any]]) -> set[int]:
    return {row["id"] for row in rows}


def names(fleet: Fleet, *keys: str) -> set[int]:
    return {fleet[key] for key in keys}


# --- the listing ---------------------------------------------------------------------------------------


def test_each_account_lists_exactly_its_subtrees_panels(app: Flask, fleet: Fleet) -> None:
    school_a = names(fleet, "a1", "a2", "a3", "a4", "a5")
    expected = {
        "it_a": school_a,
        "coord": school_a | names(fleet, "b1"),
        "coord2": names(fleet, "c1"),
        "reg1": school_a | names(fleet, "b1", "c1"),
        "reg2": names(fleet, "d1", "d2"),
        "op": school_a | names(fleet, "b1", "c1", "d1", "d2"),
    }
    for login, panels in expected.items():
        assert ids_of(listed(as_user(app, login))) == panels, login


def test_a_school_admin_never_sees_another_schools_panel(app: Flask, fleet: Fleet) -> None:
    it_a = as_user(app, "it_a")
    assert listed(it_a, school_id=fleet["B"]) == []
    assert listed(it_a, q="Панель Б") == []
    assert it_a.get(f"/api/panels/{fleet['b1']}").status_code == 404
    assert it_a.get(f"/api/panels/{fleet['a1']}").status_code == 200
    exported = it_a.get("/api/exports/panels", query_string={"format": "csv"}).data.decode("utf-8-sig")
    assert "Панель у доски" in exported and "Панель Б" not in exported and "СОШ B" not in exported
    # A teacher's role reads no panels at all, whatever the school.
    teacher = as_user(app, "teacher_a")
    assert teacher.get("/api/panels").status_code == 403
    assert teacher.get(f"/api/panels/{fleet['a1']}").status_code == 403
    assert teacher.get("/api/exports/panels").status_code == 403
    assert teacher.get("/api/reconciliation").status_code == 403


def test_a_row_carries_every_fact_of_the_panel(app: Flask, fleet: Fleet) -> None:
    rows = {row["id"]: row for row in listed(as_user(app, "reg1"))}
    board = rows[fleet["a1"]]
    assert {k: board[k] for k in ("school", "municipality", "room", "name", "status")} == {
        "school": "СОШ A",
        "municipality": "город Новосибирск",
        "room": "Кабинет A101",
        "name": "Панель у доски",
        "status": "online",
    }
    assert board["serial"] == "=1+1" and board["mac"] == "dc:a6:32:01:02:03"
    assert board["model"] == "Raspberry Pi 4 Model B Rev 1.4" and board["os"].startswith("Debian")
    assert (board["player_version"], board["agent_version"]) == ("1.10.0", "1.9.2")
    assert board["paired_at"] == iso_from_unix(NOW - 60 * DAY)
    assert board["last_seen_at"] == iso_from_unix(NOW - 60)
    assert board["temperature_c"] == 54.2 and board["disk_free_bytes"] == int(3.1 * GIB)
    assert board["disk_total_bytes"] == int(29.7 * GIB)
    assert board["undervoltage_now"] == 0 and board["undervoltage_seen_at"] == pytest.approx(NOW - 3 * DAY)
    assert board["display_connected"] == 1
    assert board["clone"] is False and rows[fleet["a2"]]["clone"] is True
    assert board["refused"] == 0 and rows[fleet["a5"]]["refused"] == 3


def test_status_is_computed_from_the_state_and_the_last_contact(app: Flask, fleet: Fleet) -> None:
    response = as_user(app, "reg1").get("/api/panels")
    status = {row["id"]: row["status"] for row in response.json["panels"]}
    assert status[fleet["a1"]] == "online"  # a minute ago
    assert status[fleet["a2"]] == "offline"  # two hours ago, past the hour
    assert status[fleet["a3"]] == "silent"  # forty days ago, past thirty
    assert status[fleet["a4"]] == "pending"
    assert status[fleet["a5"]] == "revoked"  # seen five days ago, but revoked
    assert response.json["counts"] == {
        "pending": 1,
        "online": 3,
        "offline": 1,
        "silent": 1,
        "revoked": 1,
        "decommissioned": 0,
    }


def test_filters_narrow_the_listing_and_keep_the_counts(app: Flask, fleet: Fleet) -> None:
    coord = as_user(app, "coord")
    assert ids_of(listed(coord, status="silent")) == names(fleet, "a3")
    assert ids_of(listed(coord, school_id=fleet["B"])) == names(fleet, "b1")
    assert ids_of(listed(coord, room_id=fleet["A102"])) == names(fleet, "a2", "a5")
    # Text: any case, «ё» as «е», over name, serial, MAC, room and school.
    assert ids_of(listed(coord, q="ЕЛОЧКА")) == names(fleet, "a2")
    assert ids_of(listed(coord, q="DC:A6:32")) == names(fleet, "a1")
    assert ids_of(listed(coord, q="sn-a3")) == names(fleet, "a3")
    assert ids_of(listed(coord, q="сош b")) == names(fleet, "b1")
    answer = coord.get("/api/panels", query_string={"status": "online", "school_id": fleet["A"]}).json
    assert ids_of(answer["panels"]) == names(fleet, "a1")
    assert answer["counts"]["online"] == 1 and answer["counts"]["offline"] == 1  # school A's, any status
    limited = coord.get("/api/panels", query_string={"limit": 2}).json
    assert len(limited["panels"]) == 2 and limited["total"] == 6


def test_sorting_by_a_whitelisted_column_puts_the_unknown_last(app: Flask, fleet: Fleet) -> None:
    coord = as_user(app, "coord")
    hottest = [row["id"] for row in listed(coord, sort="temperature_c", order="desc")]
    assert hottest[:3] == [fleet["b1"], fleet["a2"], fleet["a1"]]  # 80.5, 71.0, 54.2, then the unknown
    coolest = [row["id"] for row in listed(coord, sort="temperature_c")]
    assert coolest[:3] == [fleet["a1"], fleet["a2"], fleet["b1"]]
    by_name = [row["name"] for row in listed(coord, sort="name")]
    assert by_name == ["-старая у окна", "Ёлочка", "Новая", "Отозванная", "Панель Б", "Панель у доски"]
    versions = [row["player_version"] for row in listed(coord, sort="player_version")]
    assert versions[:2] == ["1.9.0", "1.10.0"]  # as versions, not as text
    for bad in ({"sort": "token_hash"}, {"order": "sideways"}, {"status": "lost"}, {"school_id": "x"}):
        response = coord.get("/api/panels", query_string=bad)
        assert response.status_code == 400 and set(response.json["fields"]) == set(bad)


def test_one_panel_comes_with_its_last_twenty_actions(app: Flask, svc: Services, fleet: Fleet) -> None:
    def act(db: Any) -> None:
        for n in range(25):
            outcome = "ok" if n % 2 else "no_answer"
            db["panel_action"].insert(
                {
                    "panel_id": fleet["a1"],
                    "action": "identify",
                    "user_id": fleet["it_a"],
                    "requested_at": NOW - 1000 + n,
                    "answered_at": NOW - 999 + n,
                    "outcome": outcome,
                }
            )

    svc.db.write(act)
    panel = as_user(app, "coord").get(f"/api/panels/{fleet['a1']}").json
    assert panel["name"] == "Панель у доски" and panel["status"] == "online"
    assert len(panel["actions"]) == 20
    assert [a["requested_at"] for a in panel["actions"]] == [NOW - 1000 + n for n in range(24, 4, -1)]
    assert panel["actions"][0]["user_login"] == "it_a" and panel["actions"][0]["outcome"] == "no_answer"


# --- the export ----------------------------------------------------------------------------------------


def documented_columns() -> list[str]:
    """Return the headings of the table under «The export's columns» in docs/ui.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### The export's columns", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (.+?) \| .+ \| .+ \|$", section, re.MULTILINE)
    return [row for row in rows if row not in ("heading", "---")]


def xlsx_of(response: Any) -> openpyxl.Workbook:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def test_the_xlsx_export_has_the_documented_columns_and_keeps_formulas_as_text(
    app: Flask, svc: Services, fleet: Fleet
) -> None:
    columns = documented_columns()
    assert len(columns) == 24 and columns[0] == "ID панели" and "Температура, °C" in columns
    response = as_user(app, "it_a").get("/api/exports/panels", query_string={"format": "xlsx"})
    sheet = xlsx_of(response).active
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]] == columns
    assert "attachment;" in response.headers["Content-Disposition"]
    by_id = {row[0].value: {columns[n]: cell for n, cell in enumerate(row)} for row in rows[1:]}
    assert set(by_id) == names(fleet, "a1", "a2", "a3", "a4", "a5")
    board = by_id[fleet["a1"]]
    assert board["Серийный номер"].value == "=1+1" and board["Серийный номер"].data_type == "s"
    assert by_id[fleet["a3"]]["Имя панели"].value == "-старая у окна"
    assert by_id[fleet["a2"]]["Модель"].value == "@Pi" and by_id[fleet["a2"]]["Модель"].data_type == "s"
    assert board["Температура, °C"].value == 54.2 and board["Температура, °C"].data_type == "n"
    assert board["Свободно на диске, ГБ"].value == 3.1 and board["Объём диска, ГБ"].value == 29.7
    assert board["Состояние"].value == "в сети" and by_id[fleet["a3"]]["Состояние"].value == "молчит"
    assert board["Дисплей подключён"].value == "да" and board["Пониженное напряжение сейчас"].value == "нет"
    assert board["Экран"].value is None  # no `screen` event from it yet: unknown, not "off"
    school_time = datetime.fromtimestamp(NOW - 60, ZoneInfo("Asia/Novosibirsk")).replace(tzinfo=None)
    assert board["Последняя связь"].is_date
    assert board["Последняя связь"].value == school_time.replace(microsecond=0)
    assert by_id[fleet["a5"]]["Попыток связи после отзыва"].value == 3
    assert board["Попыток связи после отзыва"].value is None
    assert by_id[fleet["a2"]]["Клон замечен"].is_date
    # Audited: who exported what, never a row of it.
    events = list(svc.db.read.query("SELECT * FROM audit_event WHERE action = 'export'"))
    assert [(e["object_kind"], e["actor_login"], e["school_id"]) for e in events] == [
        ("panel", "it_a", fleet["A"])
    ]
    assert '"rows": 5' in events[0]["detail"] and '"format": "xlsx"' in events[0]["detail"]


def test_the_csv_export_neutralises_what_a_spreadsheet_would_run(app: Flask, fleet: Fleet) -> None:
    response = as_user(app, "coord").get(
        "/api/exports/panels", query_string={"format": "csv", "sort": "temperature_c", "order": "desc"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert table[0] == documented_columns()
    rows = {int(row[0]): dict(zip(table[0], row, strict=True)) for row in table[1:]}
    assert [int(row[0]) for row in table[1:4]] == [fleet["b1"], fleet["a2"], fleet["a1"]]  # the sort
    assert rows[fleet["a1"]]["Серийный номер"] == "'=1+1"
    assert rows[fleet["a3"]]["Имя панели"] == "'-старая у окна"
    assert rows[fleet["a2"]]["Модель"] == "'@Pi"
    assert rows[fleet["a1"]]["Температура, °C"] == "54,2"
    assert rows[fleet["a1"]]["Свободно на диске, ГБ"] == "3,1"
    school_time = datetime.fromtimestamp(NOW - 60, ZoneInfo("Asia/Novosibirsk"))
    assert rows[fleet["a1"]]["Последняя связь"] == school_time.strftime("%d.%m.%Y %H:%M")
    assert rows[fleet["a1"]]["Состояние"] == "в сети"
    filtered = as_user(app, "coord").get("/api/exports/panels", query_string={"status": "silent"})
    assert filtered.data.decode("utf-8-sig").count("\r\n") == 2  # the headings and the one silent panel
    assert as_user(app, "coord").get("/api/exports/panels?format=pdf").status_code == 400


# --- the reconciliation ----------------------------------------------------------------------------


def reconciled(app: Flask, login: str) -> dict[str, Any]:
    response = as_user(app, login).get("/api/reconciliation")
    assert response.status_code == 200, response.json
    answer = response.json
    for name in ("silent", "unknown", "unpaired", "refused"):
        assert answer["counts"][name] == len(answer[name])
    return answer


def test_reconciliation_lists_the_four_kinds_each_scoped(app: Flask, fleet: Fleet) -> None:
    serials = {
        login: {
            "silent": {row["id"] for row in answer["silent"]},
            "unknown": {row["serial"] for row in answer["unknown"]},
            "unpaired": {row["serial"] for row in answer["unpaired"]},
            "refused": {row["id"] for row in answer["refused"]},
        }
        for login in ("it_a", "coord", "coord2", "reg1", "reg2", "op")
        for answer in [reconciled(app, login)]
    }
    assert serials["it_a"] == {
        "silent": {fleet["a3"]},
        "unknown": {"PROV-A"},  # bought for school A: its staff may know the device
        "unpaired": {"PROV-A"},
        "refused": {fleet["a5"]},
    }
    assert serials["coord"] == {
        "silent": {fleet["a3"]},
        "unknown": {"PROV-A"},
        "unpaired": {"PROV-A", "PROV-B"},
        "refused": {fleet["a5"]},
    }
    assert serials["coord2"] == {"silent": set(), "unknown": set(), "unpaired": set(), "refused": set()}
    assert serials["reg1"] == {
        "silent": {fleet["a3"]},
        "unknown": {"PROV-A", "STRANGER", None},  # a token with no serial is no region's either
        "unpaired": {"PROV-A", "PROV-B"},
        "refused": {fleet["a5"]},
    }
    assert serials["reg2"] == {
        "silent": {fleet["d2"]},
        "unknown": {"PROV-D", "STRANGER", None},
        "unpaired": {"PROV-D"},
        "refused": set(),
    }
    assert serials["op"]["unknown"] == {"PROV-A", "PROV-D", "STRANGER", None}  # never "=1+1", never "OLD"


def test_reconciliation_rows_say_what_the_coordinator_needs(app: Flask, fleet: Fleet) -> None:
    answer = reconciled(app, "coord")
    (device,) = answer["unknown"]
    assert device == {
        "id": device["id"],
        "channel": "pairing",
        "serial": "PROV-A",
        "mac": "2c:cf:67:00:00:01",
        "model": "Raspberry Pi 5",
        "address": "10.0.0.50",
        "first_at": device["first_at"],
        "last_at": device["last_at"],
        "attempts": 1,
        "provision_school": "СОШ A",
    }
    assert NOW - 60 < device["last_at"] < time.time() + 1
    (refused,) = answer["refused"]
    assert (refused["name"], refused["state"], refused["attempts"]) == ("Отозванная", "revoked", 3)
    assert refused["channels"] == ["telemetry"] and refused["address"] == "10.0.5.5"
    unpaired = {row["serial"]: row for row in answer["unpaired"]}
    assert unpaired["PROV-A"]["asking_at"] == device["last_at"]  # showing its code lately
    assert unpaired["PROV-B"]["asking_at"] is None and unpaired["PROV-B"]["school"] == "СОШ B"
    (silent,) = answer["silent"]
    assert silent["name"] == "-старая у окна" and silent["last_seen_at"] == iso_from_unix(NOW - 40 * DAY)
    assert answer["thresholds"]["silent_after_days"] == 30 and answer["window_days"] == 35


def test_a_device_leaves_the_unknown_list_once_registered(app: Flask, svc: Services, fleet: Fleet) -> None:
    assert "STRANGER" in {row["serial"] for row in reconciled(app, "op")["unknown"]}
    svc.db.write(
        lambda db: _panel(db, fleet["C"], fleet["C101"], "Бывший незнакомец", 10, curve_public_key=_key(51))
    )
    assert "STRANGER" not in {row["serial"] for row in reconciled(app, "op")["unknown"]}


def test_the_reconciliation_exports_one_sheet_per_list(app: Flask, fleet: Fleet) -> None:
    coord = as_user(app, "coord")
    book = xlsx_of(coord.get("/api/reconciliation", query_string={"format": "xlsx"}))
    assert book.sheetnames == [
        "Молчат",
        "Без регистрации",
        "Закуплены, не подключены",
        "Отозваны, но на связи",
    ]
    silent = [[cell.value for cell in row] for row in book["Молчат"].iter_rows()]
    assert silent[0][:5] == ["Муниципалитет", "Школа", "Кабинет", "Имя панели", "Серийный номер"]
    assert silent[1][:5] == ["город Новосибирск", "СОШ A", "Кабинет A101", "-старая у окна", "SN-A3"]
    assert silent[1][-1] == 40  # days without contact
    assert book["Без регистрации"]["A2"].value == "PROV-A"
    refused = [[cell.value for cell in row] for row in book["Отозваны, но на связи"].iter_rows()]
    assert refused[1][3] == "Отозванная" and 3 in refused[1]
    text = coord.get("/api/reconciliation", query_string={"format": "csv"}).data.decode("utf-8-sig")
    assert text.startswith("Молчат\r\n") and "'-старая у окна" in text and "PROV-B" in text
    assert coord.get("/api/reconciliation", query_string={"format": "ods"}).status_code == 400


# --- the pages -----------------------------------------------------------------------------------------


def test_the_pages_are_shells_for_staff_and_linked_from_every_staff_page(app: Flask, fleet: Fleet) -> None:
    it_a = as_user(app, "it_a")
    for path, script in (
        ("/admin/panels", "admin/panels.js"),
        ("/admin/reconciliation", "admin/reconciliation.js"),
    ):
        page = it_a.get(path)
        assert page.status_code == 200 and script in page.get_data(as_text=True)
        assert "Панель у доски" not in page.get_data(as_text=True)  # the data comes from the API only
    nav = it_a.get("/admin/registry").get_data(as_text=True)
    assert 'href="/admin/panels">Панели</a>' in nav and 'href="/admin/reconciliation">Сверка</a>' in nav
    # The purchase-list form only for those who may upload one.
    assert 'id="provision-form"' not in it_a.get("/admin/panels").get_data(as_text=True)
    assert 'id="provision-form"' in as_user(app, "coord").get("/admin/panels").get_data(as_text=True)
    assert as_user(app, "teacher_a").get("/admin/panels").status_code == 403
    signed_out = app.test_client().get("/admin/reconciliation")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
