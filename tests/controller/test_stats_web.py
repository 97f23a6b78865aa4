"""The statistics API through the app: scope by the caller's node, clear refusals, audited exports."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl
from flask.testing import FlaskClient

from controller.app import Services
from controller.store import users

from .conftest import PASSWORD, World, sign_in

TODAY = f"start={date.today()}&end={date.today()}"  # the world's panel was enrolled today


def _staff(svc: Services, world: World) -> dict[str, int]:
    def nodes(db: Any) -> tuple[int, int, int]:
        municipality = db.execute(
            "SELECT municipality_id FROM school WHERE id = ?", [world.school_a]
        ).fetchone()[0]
        region = db.execute("SELECT region_id FROM municipality WHERE id = ?", [municipality]).fetchone()[0]
        other = db["municipality"].insert({"region_id": region, "name": "Соседний район"}).last_pk
        return region, municipality, other

    region, municipality, other = svc.db.write(nodes)
    svc.db.write(users.create_user, "mun", PASSWORD, "Координатор", "municipal", "municipality", municipality)
    svc.db.write(users.create_user, "reg", PASSWORD, "Регион", "regional", "region", region)
    return {"region": region, "municipality": municipality, "other": other}


def test_municipal_staff_see_their_municipality_and_nothing_beside_it(
    svc: Services, world: World, client: FlaskClient
) -> None:
    nodes = _staff(svc, world)
    sign_in(client, "mun")
    mine = client.get(f"/api/stats/municipality/{nodes['municipality']}?{TODAY}")
    assert mine.status_code == 200
    body = mine.json
    assert body["summary"]["registered"]["value"] == 1  # the world's one enrolled panel
    assert [row["name"] for row in body["children"]["rows"]] == ["СОШ № 1", "СОШ № 2"]
    assert [crumb["level"] for crumb in body["path"]] == ["municipality"]  # nothing above their own node
    assert "format=xlsx" in body["export"]["xlsx"]
    beside = client.get(f"/api/stats/municipality/{nodes['other']}")
    assert beside.status_code == 404 and beside.json["message"] == "Муниципалитет не найден."
    above = client.get(f"/api/stats/region/{nodes['region']}")
    assert above.status_code == 404
    assert client.get("/api/stats/all/0").status_code == 404
    assert client.get("/stats").headers["Location"].endswith(f"/stats/municipality/{nodes['municipality']}")


def test_a_teacher_is_refused_and_a_bad_period_is_explained(
    svc: Services, world: World, client: FlaskClient
) -> None:
    nodes = _staff(svc, world)
    sign_in(client, "teacher_a")
    refused = client.get(f"/api/stats/school/{world.school_a}")
    assert refused.status_code == 403 and refused.json["message"] == "Недостаточно прав."
    client.post("/logout", data={"csrf_token": client.get("/api/session").json["csrf_token"]})
    sign_in(client, "reg")
    bad = client.get(f"/api/stats/region/{nodes['region']}?start=2026-11-08&end=2026-11-01")
    assert bad.status_code == 400 and bad.json["message"] == "Конец периода раньше его начала."
    assert client.get(f"/api/stats/region/{nodes['region']}?start=вчера").status_code == 400


def test_the_regional_xlsx_export_is_a_file_and_an_audit_event(
    svc: Services, world: World, client: FlaskClient
) -> None:
    nodes = _staff(svc, world)
    sign_in(client, "reg")
    answer = client.get(f"/api/stats/region/{nodes['region']}/export?format=xlsx&{TODAY}")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["Регионы", "Муниципалитеты", "Школы", "Кабинеты", "Панели"]
    assert book["Панели"]["A7"].value == "Панель 101"
    event = svc.db.read.execute(
        "SELECT action, object_kind, detail FROM audit_event WHERE action = 'export' ORDER BY id DESC"
    ).fetchone()
    assert event[:2] == ("export", "stats") and '"level": "region"' in event[2]
    csv_answer = client.get(f"/api/stats/region/{nodes['region']}/export?format=csv&{TODAY}")
    assert csv_answer.status_code == 200 and csv_answer.data.decode("utf-8-sig").count("\r\n") == 8
    assert client.get(f"/api/stats/region/{nodes['region']}/export?format=pdf").status_code == 400
