"""Export of the school and staff lists in the import's format: a round trip previews no change.

The same two-region world as tests/controller/test_imports.py, on a real SQLite file, through the test
client signed in as its accounts: each list is exported, read back by the import's preview, and must
plan nothing; the scope, the rights and the audit event are checked as the API answers them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from controller.app import Services
from controller.import_columns import ROLE_WORDS, heading_key
from controller.store import orgs

from .test_imports import Region, build_region, ogrn, signed_in, table, upload

UNCHANGED = {"add": 0, "change": 0, "archive": 0, "bad": 0, "municipalities_add": 0}


@pytest.fixture
def region(svc: Services) -> Region:
    """The import tests' world, with values a spreadsheet is apt to mangle."""
    world = svc.db.write(build_region)

    def awkward(db: Any) -> None:
        orgs.create_school(
            db,
            world.novosibirsk,
            '=HYPERLINK("http://example.org";"Школа «Ёлочка»")',  # a formula in a name stays text
            "Школа; «Ёлочка»",  # the CSV delimiter inside a value
            ogrn=ogrn(8),
            address="ул. Мира, 8\nкорпус 2",  # a cell over two lines
        )
        db.execute("UPDATE user SET email = 'it1@school.ru', full_name = '=1+2' WHERE login = 'it1'")
        db.execute("UPDATE user SET full_name = 'Ёжикова Анна' WHERE login = 't1'")

    svc.db.write(awkward)
    return world


def export(client: FlaskClient, kind: str, file_format: str = "csv", **params: Any) -> Any:
    response = client.get(f"/api/exports/{kind}", query_string={"format": file_format, **params})
    response.close()
    return response


def rows_of(response: Any) -> list[list[str]]:
    """Return the rows of an exported file as text, the heading row first."""
    if response.mimetype == "text/csv":
        return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline=""), delimiter=";"))
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    rows = [[cell or "" for cell in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


@pytest.mark.parametrize(
    ("login", "kind", "file_format"),
    [
        ("mun", "schools", "csv"),
        ("mun", "schools", "xlsx"),
        ("reg", "schools", "csv"),
        ("mun", "staff", "csv"),
        ("mun", "staff", "xlsx"),
        ("reg", "staff", "xlsx"),
        ("it1", "staff", "csv"),
    ],
)
def test_an_exported_list_imports_back_as_no_change(
    client: FlaskClient, svc: Services, region: Region, login: str, kind: str, file_format: str
) -> None:
    csrf = signed_in(client, svc, login)
    response = export(client, kind, file_format)
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    preview = upload(client, csrf, kind, response.data, f"list.{file_format}")
    assert preview.status_code == 201, preview.json
    counts = preview.json["counts"]
    assert {name: counts[name] for name in UNCHANGED} == UNCHANGED, preview.json["first"]
    assert counts["unchanged"] == counts["rows"] == len(rows_of(response)) - 1 > 0
    assert preview.json["ignored_columns"] == []


def test_the_files_say_what_a_spreadsheet_shows(client: FlaskClient, svc: Services, region: Region) -> None:
    signed_in(client, svc, "mun")
    as_csv = export(client, "schools")
    assert as_csv.data.startswith("\ufeffМуниципалитет;Название;".encode())  # the BOM Excel needs
    assert as_csv.mimetype == "text/csv" and as_csv.mimetype_params["charset"] == "utf-8"
    disposition = as_csv.headers["Content-Disposition"]
    readable = unquote(disposition.split("filename*=UTF-8''")[1])
    assert readable.startswith("Школы — город Новосибирск ") and readable.endswith(".csv")
    assert 'filename="classcast-schools-' in disposition and disposition.isascii()
    assert as_csv.headers["Cache-Control"] == "no-store"

    as_xlsx = export(client, "schools", "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.data)).worksheets[0]
    formula_named = next(row for row in sheet.iter_rows() if row[3].value == ogrn(8))
    assert formula_named[1].data_type == "s" and formula_named[1].value.startswith("=HYPERLINK")
    assert sheet["D2"].data_type == "s"  # an OGRN stays text, never a number Excel rounds
    assert sheet.freeze_panes == "A2"


def test_staff_rows_name_the_role_and_the_node_as_the_import_reads_them(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    signed_in(client, svc, "mun")
    heading, *rows = rows_of(export(client, "staff"))
    assert heading == ["Логин", "ФИО", "Электронная почта", "Роль", "ОГРН школы", "Муниципалитет"]
    by_login = {row[0]: row for row in rows}
    assert by_login["it1"] == ["it1", "=1+2", "it1@school.ru", "school_it", ogrn(1), ""]
    assert by_login["mun2"] == ["mun2", "Сотрудник mun2", "", "municipal", "", "город Новосибирск"]
    assert {ROLE_WORDS[heading_key(row[3])] for row in rows} == {"teacher", "school_it", "municipal"}
    assert set(by_login) == {"mun", "mun2", "it1", "it1b", "t1", "it2", "t2"}  # not Berdsk's t4


def test_a_municipal_export_holds_only_its_own_active_schools(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    signed_in(client, svc, "mun")
    svc.db.write(
        lambda db: db.execute("UPDATE school SET archived_at = 'x' WHERE id = ?", [region.schools["S3"]])
    )
    ogrns = [row[3] for row in rows_of(export(client, "schools"))[1:]]
    assert sorted(ogrns) == sorted([ogrn(1), ogrn(2), ogrn(8)])  # not S3 (archived), S4, S5
    with_archived = [row[3] for row in rows_of(export(client, "schools", archived="1"))[1:]]
    assert sorted(with_archived) == sorted([ogrn(1), ogrn(2), ogrn(3), ogrn(8)])
    schools_of_a_school = export(client, "schools", school_id=region.schools["S1"])
    assert schools_of_a_school.status_code == 400
    staff_of_a_school = rows_of(export(client, "staff", school_id=region.schools["S2"]))
    assert sorted(row[0] for row in staff_of_a_school[1:]) == ["it2", "t2"]
    # Another municipality, another region: not found, as if they did not exist; the denial audited.
    assert export(client, "schools", municipality_id=region.berdsk).status_code == 404
    assert export(client, "staff", region_id=region.region).status_code == 404
    denied = [e for e in table(svc, "audit_event") if e["action"] == "denied"]
    assert [e["actor_login"] for e in denied] == ["mun", "mun"]


def test_who_may_export_what(app: Flask, svc: Services, region: Region) -> None:
    answers = {}
    for login in ("t1", "it1", "mun", "reg", "op"):
        client = app.test_client()
        signed_in(client, svc, login)
        answers[login] = (export(client, "schools").status_code, export(client, "staff").status_code)
    assert answers == {
        "t1": (403, 403),
        "it1": (403, 200),  # a school's staff, not the list of schools
        "mun": (200, 200),
        "reg": (200, 200),
        "op": (400, 400),  # above every node: must name one
    }
    client = app.test_client()
    signed_in(client, svc, "op")
    assert export(client, "schools", "xlsx", region_id=region.region).status_code == 200
    assert export(client, "schools", "ods", region_id=region.region).status_code == 400
    assert export(client, "schools", region_id="x").status_code == 400


def test_each_export_is_audited_with_counts_and_no_row_contents(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    signed_in(client, svc, "mun")
    export(client, "staff", "xlsx")
    export(client, "schools")
    events = [e for e in table(svc, "audit_event") if e["action"] == "export"]
    assert [(e["actor_login"], e["actor_role"], e["object_kind"], e["outcome"]) for e in events] == [
        ("mun", "municipal", "user", "ok"),
        ("mun", "municipal", "school", "ok"),
    ]
    assert {(e["region_id"], e["municipality_id"], e["school_id"]) for e in events} == {
        (region.region, region.novosibirsk, None)
    }
    details = [json.loads(e["detail"]) for e in events]
    assert details == [
        {
            "kind": "staff",
            "format": "xlsx",
            "rows": 7,
            "level": "municipality",
            "node_id": region.novosibirsk,
        },
        {
            "kind": "schools",
            "format": "csv",
            "rows": 4,
            "level": "municipality",
            "node_id": region.novosibirsk,
        },
    ]
    raw = " ".join(e["detail"] for e in events)
    assert not any(secret in raw for secret in ("Ёжикова", "it1@", "t2", ogrn(1), "Школа"))
    # The exporter finds the events in their own audit log.
    listed = client.get("/api/audit", query_string={"action": "export"}).json["events"]
    assert len(listed) == 2


def test_a_school_of_an_archived_municipality_is_reported_not_archived(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "reg")
    svc.db.write(
        lambda db: db.execute("UPDATE municipality SET archived_at = 'x' WHERE id = ?", [region.berdsk])
    )
    exported = export(client, "schools")
    assert ogrn(4) in [row[3] for row in rows_of(exported)[1:]]  # Berdsk's school is still active
    counts = upload(client, csrf, "schools", exported.data).json["counts"]
    assert (counts["bad"], counts["archive"], counts["change"], counts["add"]) == (1, 0, 0, 0)


def test_a_school_without_an_ogrn_is_reported_on_re_import_never_archived(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    svc.db.write(lambda db: orgs.create_school(db, region.novosibirsk, "Школа-интернат № 5", "ШИ № 5"))
    exported = export(client, "schools")
    assert ["", "Школа-интернат № 5"] in [[row[3], row[1]] for row in rows_of(exported)[1:]]
    preview = upload(client, csrf, "schools", exported.data).json
    counts = preview["counts"]
    assert (counts["bad"], counts["archive"], counts["change"], counts["add"]) == (1, 0, 0, 0)
