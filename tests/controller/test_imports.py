"""Bulk import with a preview: school and staff lists as CSV and XLSX, through the API and the CLI.

Everything runs on a real SQLite file; the API through Flask's test client, signed in as real accounts
of a two-region world; the CLI as a real process. The whole region's size (2,000 schools, 60,000
staff) is bench/import_bench.py's job; the largest file here has 2,000 rows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from controller import imports
from controller.app import Services, create_app
from controller.store import imports as store
from controller.store import orgs

from .conftest import PASSWORD, sign_in

ROOT = Path(__file__).resolve().parents[2]


def ogrn(n: int) -> str:
    """Return a legal entity's OGRN with a right check digit."""
    base = f"10254{n:07d}"
    return base + str(int(base) % 11 % 10)


def inn(n: int) -> str:
    """Return a legal entity's INN with a right check digit."""
    base = f"54{n:07d}"
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return base + str(sum(w * int(d) for w, d in zip(weights, base, strict=True)) % 11 % 10)


@dataclass
class Region:
    """Novosibirsk region: the city (S1, S2, S3) and Berdsk (S4); Kemerovo region (S5) beside it."""

    region: int
    novosibirsk: int
    berdsk: int
    schools: dict[str, int]
    accounts: dict[str, int]


# login -> role, node (a school's name or a municipality's key), None for the operator
ACCOUNTS = {
    "op": ("operator", None),
    "reg": ("regional", "R54"),
    "mun": ("municipal", "NSK"),
    "mun2": ("municipal", "NSK"),
    "it1": ("school_it", "S1"),
    "it1b": ("school_it", "S1"),
    "t1": ("teacher", "S1"),
    "it2": ("school_it", "S2"),
    "t2": ("teacher", "S2"),
    "t4": ("teacher", "S4"),
    "t5": ("teacher", "S5"),
}


def build_region(db: Any) -> Region:
    """Write the world of these tests: two regions, three municipalities, five schools, some staff."""
    r54 = orgs.create_region(db, "54", "Новосибирская область")
    r42 = orgs.create_region(db, "42", "Кемеровская область")
    nsk = orgs.create_municipality(db, r54, "город Новосибирск")
    berdsk = orgs.create_municipality(db, r54, "город Бердск")
    kem = orgs.create_municipality(db, r42, "город Кемерово")
    places = {"S1": nsk, "S2": nsk, "S3": nsk, "S4": berdsk, "S5": kem}
    schools = {
        name: orgs.create_school(
            db,
            municipality,
            f"Школа № {name[1]}",
            f"СОШ № {name[1]}",
            ogrn=ogrn(int(name[1])),
            inn=inn(int(name[1])),
            address=f"ул. Ленина, {name[1]}",
            timezone="Asia/Novosibirsk",
        )
        for name, municipality in places.items()
    }
    nodes = {"R54": ("region", r54), "NSK": ("municipality", nsk)}
    nodes.update({name: ("school", school_id) for name, school_id in schools.items()})
    accounts = {}
    for login, (role, node) in ACCOUNTS.items():
        node_type, node_id = nodes[node] if node else (None, None)
        row = {"login": login, "full_name": f"Сотрудник {login}", "role": role, "node_type": node_type}
        row.update(node_id=node_id, created_at="2026-01-01T00:00:00Z")
        accounts[login] = db["user"].insert(row).last_pk
    return Region(r54, nsk, berdsk, schools, accounts)


@pytest.fixture
def region(svc: Services) -> Region:
    return svc.db.write(build_region)


def signed_in(client: FlaskClient, svc: Services, login: str) -> str:
    """Give `login` a password, sign it in on `client`; return the session's CSRF token."""
    hashed = PasswordHasher().hash(PASSWORD)
    svc.db.write(lambda db: db.execute("UPDATE user SET password_hash = ? WHERE login = ?", [hashed, login]))
    return sign_in(client, login)


def csv_bytes(rows: list[list[Any]], delimiter: str = ";", encoding: str = "utf-8-sig") -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(
    client: FlaskClient, csrf: str, kind: str, data: bytes, name: str = "list.csv", **form: Any
) -> Any:
    fields = {"kind": kind, **{k: str(v) for k, v in form.items()}}
    files = {"file": FileStorage(io.BytesIO(data), name)}
    # Encoded here, in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(MultiDict({**fields, **files}))
    content_type = f"multipart/form-data; boundary={boundary}"
    response = client.post(
        "/api/imports", data=body, content_type=content_type, headers={"X-CSRF-Token": csrf}
    )
    response.close()
    return response


def apply(client: FlaskClient, csrf: str, preview_id: str) -> Any:
    return client.post(f"/api/imports/{preview_id}/apply", headers={"X-CSRF-Token": csrf})


def table(svc: Services, name: str) -> list[dict[str, Any]]:
    return list(svc.db.read.query(f"SELECT * FROM {name} ORDER BY id"))


def school(svc: Services, ogrn_value: str) -> dict[str, Any]:
    return next(iter(svc.db.read.query("SELECT * FROM school WHERE ogrn = ?", [ogrn_value])))


def account(svc: Services, login: str) -> dict[str, Any]:
    return next(iter(svc.db.read.query("SELECT * FROM user WHERE login = ?", [login])))


SCHOOL_HEADINGS = [
    "Муниципалитет",
    "Наименование",
    "Краткое наименование",
    "ОГРН",
    "ИНН",
    "Адрес",
    "Часовой пояс",
]


def school_row(n: int, name: str | None = None, municipality: str = "город Новосибирск") -> list[str]:
    return [
        municipality,
        name or f"Школа № {n}",
        f"СОШ № {n}",
        ogrn(n),
        inn(n),
        f"ул. Ленина, {n}",
        "Asia/Novosibirsk",
    ]


def municipal_school_list() -> bytes:
    """A municipality's school list: one change, one same, one new, S3 left out, five bad rows."""
    wrong_digit = ogrn(7)[:-1] + str((int(ogrn(7)[-1]) + 1) % 10)
    return csv_bytes(
        [
            SCHOOL_HEADINGS,
            school_row(1, "Школа № 1 имени А. С. Пушкина"),  # row 2: a new name
            school_row(2),  # row 3: as it is
            school_row(6),  # row 4: a new school
            [*school_row(7)[:3], wrong_digit, *school_row(7)[4:]],  # row 5: a wrong check digit
            ["город Новосибирск", "", "", ogrn(8), "", "", ""],  # row 6: no name
            school_row(1),  # row 7: S1 again
            school_row(9, municipality="Колыванский район"),  # row 8: not this municipality's
            school_row(4),  # row 9: Berdsk's school S4, outside the municipality
        ]
    )


# --- previews of school lists -----------------------------------------------------------------------


def test_school_list_preview_lists_the_plan_and_bad_rows_and_writes_nothing(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    before = {name: table(svc, name) for name in ("school", "municipality", "user")}
    response = upload(client, csrf, "schools", municipal_school_list())
    assert response.status_code == 201, response.json
    preview = response.json
    assert preview["counts"] == {
        "rows": 8,
        "add": 1,
        "change": 1,
        "archive": 1,
        "unchanged": 1,
        "bad": 5,
        "municipalities_add": 0,
    }
    assert preview["scope"] == {
        "level": "municipality",
        "id": region.novosibirsk,
        "name": "город Новосибирск",
    }
    change = preview["first"]["change"][0]
    assert (change["row"], change["before"], change["after"]) == (
        2,
        {"name": "Школа № 1"},
        {"name": "Школа № 1 имени А. С. Пушкина"},
    )
    assert [item["key"] for item in preview["first"]["add"]] == [ogrn(6)]
    assert [item["key"] for item in preview["first"]["archive"]] == [ogrn(3)]
    bad = [
        (entry["row"], entry["field"], entry["column"], entry["reason"]) for entry in preview["first"]["bad"]
    ]
    assert bad == [
        (5, "ogrn", "ОГРН", "ОГРН — 13 цифр с верной контрольной цифрой."),
        (6, "name", "Наименование", "Обязательное поле."),
        (7, "ogrn", "ОГРН", "Повтор: это значение уже было в строке 2."),
        (8, "municipality", "Муниципалитет", "Муниципалитет «Колыванский район» не найден в вашей зоне."),
        (9, "ogrn", "ОГРН", "Школа вне вашей зоны."),
    ]
    assert {name: table(svc, name) for name in ("school", "municipality", "user")} == before
    assert client.get(f"/api/imports/{preview['id']}").json["counts"] == preview["counts"]


def test_apply_makes_exactly_the_previewed_changes_and_audits_counts_only(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    preview = upload(client, csrf, "schools", municipal_school_list()).json
    berdsk_school = school(svc, ogrn(4))
    response = apply(client, csrf, preview["id"])
    assert response.status_code == 200, response.json
    assert response.json["applied"] == preview["counts"]
    assert school(svc, ogrn(1))["name"] == "Школа № 1 имени А. С. Пушкина"
    assert school(svc, ogrn(2))["archived_at"] is None
    added = school(svc, ogrn(6))
    assert (added["municipality_id"], added["short_name"], added["inn"]) == (
        region.novosibirsk,
        "СОШ № 6",
        inn(6),
    )
    assert school(svc, ogrn(3))["archived_at"] is not None  # archived, still there
    assert school(svc, ogrn(4)) == berdsk_school  # outside the scope: untouched
    assert len(table(svc, "school")) == 6
    events = [e for e in table(svc, "audit_event") if e["action"] == "import"]
    assert len(events) == 1
    event = events[0]
    assert (event["outcome"], event["object_kind"], event["municipality_id"]) == (
        "ok",
        "school",
        region.novosibirsk,
    )
    detail = json.loads(event["detail"])
    assert (detail["add"], detail["change"], detail["archive"], detail["bad"]) == (1, 1, 1, 5)
    assert "Пушкин" not in event["detail"] and ogrn(6) not in event["detail"]

    again = upload(client, csrf, "schools", municipal_school_list()).json["counts"]
    assert (again["add"], again["change"], again["archive"], again["unchanged"]) == (0, 0, 0, 3)


def test_a_preview_applies_only_once(client: FlaskClient, svc: Services, region: Region) -> None:
    csrf = signed_in(client, svc, "mun")
    preview = upload(client, csrf, "schools", municipal_school_list()).json
    assert apply(client, csrf, preview["id"]).status_code == 200
    second = apply(client, csrf, preview["id"])
    assert second.status_code == 409
    assert second.json["message"] == "Этот импорт уже применён."
    assert len([e for e in table(svc, "audit_event") if e["action"] == "import"]) == 1


@pytest.mark.parametrize("other", ["mun2", "reg"])
def test_another_user_can_neither_see_nor_apply_a_preview(
    app: Flask, svc: Services, region: Region, other: str
) -> None:
    author = app.test_client()
    preview = upload(author, signed_in(author, svc, "mun"), "schools", municipal_school_list()).json
    intruder = app.test_client()
    csrf = signed_in(intruder, svc, other)
    assert intruder.get(f"/api/imports/{preview['id']}").status_code == 404
    assert intruder.get(f"/api/imports/{preview['id']}?section=add").status_code == 404
    assert apply(intruder, csrf, preview["id"]).status_code == 404
    assert school(svc, ogrn(1))["name"] == "Школа № 1"
    denied = [e for e in table(svc, "audit_event") if e["action"] == "denied"]
    assert denied and denied[-1]["actor_login"] == other


def test_regional_cp1251_tab_file_with_english_headings_adds_a_municipality(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "reg")
    rows = [
        ["municipality", "name", "ogrn"],
        ["Город  НОВОСИБИРСК", "Школа № 1", ogrn(1)],  # the name as matched: any case, any spaces
        ["город Новосибирск", "Школа № 2", ogrn(2)],
        ["город Новосибирск", "Школа № 3", ogrn(3)],
        ["город Бердск", "Школа № 4", ogrn(4)],
        ["Искитимский район", "Школа № 10 «Ёлочка»", ogrn(10)],
        ["Искитимский район", "Школа № 11", ogrn(11)],
        ["город Кемерово", "Школа № 5", ogrn(5)],  # another region's municipality and school
    ]
    preview = upload(client, csrf, "schools", csv_bytes(rows, "\t", "cp1251")).json
    counts = preview["counts"]
    assert (counts["add"], counts["municipalities_add"], counts["unchanged"], counts["archive"]) == (
        2,
        1,
        4,
        0,
    )
    assert [m["name"] for m in preview["first"]["municipalities"]] == ["Искитимский район"]
    assert [(e["row"], e["field"]) for e in preview["first"]["bad"]] == [(8, "ogrn")]
    assert apply(client, csrf, preview["id"]).status_code == 200
    added = school(svc, ogrn(10))
    assert added["name"] == "Школа № 10 «Ёлочка»" and added["short_name"] == "Школа № 10 «Ёлочка»"
    municipality = svc.db.read["municipality"].get(added["municipality_id"])
    assert (municipality["name"], municipality["region_id"]) == ("Искитимский район", region.region)
    assert school(svc, ogrn(11))["municipality_id"] == added["municipality_id"]
    assert school(svc, ogrn(5))["municipality_id"] != added["municipality_id"]


def test_a_bad_row_keeps_its_school_from_being_archived(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    s3_wrong_inn = [*school_row(3)[:4], "5400000000", *school_row(3)[5:]]
    preview = upload(
        client, csrf, "schools", csv_bytes([SCHOOL_HEADINGS, school_row(1), school_row(2), s3_wrong_inn])
    ).json
    assert preview["counts"]["archive"] == 0
    assert [(e["row"], e["field"]) for e in preview["first"]["bad"]] == [(4, "inn")]


# --- previews of staff lists ------------------------------------------------------------------------


def test_xlsx_staff_list_with_formula_and_number_cells(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    rows = [
        ["Логин", "ФИО", "E-mail", "Роль", "ОГРН школы"],
        ["new.teacher", "=1+2", "new@school.ru", "Учитель", int(ogrn(1))],  # a formula; an OGRN as a number
        ["t1", "Учитель Первый", "", "teacher", ogrn(1)],
        ["it1", "Сотрудник it1", None, "администратор ОО", ogrn(1)],
        ["it1b", "Сотрудник it1b", None, "school_it", ogrn(1)],
        ["it2", "Сотрудник it2", None, "school_it", ogrn(2)],
        ["new.mun", "Новый координатор", None, "municipal", None],  # as high as the importer
    ]
    preview = upload(client, csrf, "staff", xlsx_bytes(rows), "staff.xlsx").json
    counts = preview["counts"]
    assert (counts["add"], counts["change"], counts["unchanged"], counts["archive"], counts["bad"]) == (
        1,
        1,
        3,
        1,
        1,
    )
    assert preview["first"]["add"][0]["fields"]["full_name"] == "=1+2"
    assert preview["first"]["change"][0]["after"] == {"full_name": "Учитель Первый"}
    assert [item["key"] for item in preview["first"]["archive"]] == ["t2"]
    assert (
        preview["first"]["bad"][0]["reason"] == "Вы не можете создавать учётные записи с ролью «municipal»."
    )
    assert "без пароля" in preview["notes"][0]
    session_of_t2 = {"id_hash": "x", "user_id": region.accounts["t2"], "created_at": 0, "last_seen_at": 0}
    svc.db.write(lambda db: db["session"].insert({**session_of_t2, "expires_at": 9e9, "method": "password"}))

    assert apply(client, csrf, preview["id"]).status_code == 200
    new = account(svc, "new.teacher")
    assert (new["full_name"], new["password_hash"], new["role"]) == ("=1+2", None, "teacher")
    assert (new["node_type"], new["node_id"]) == ("school", region.schools["S1"])
    assert account(svc, "t1")["full_name"] == "Учитель Первый"
    assert account(svc, "t2")["archived_at"] is not None
    sessions = svc.db.read.execute("SELECT count(*) FROM session WHERE user_id = ?", [region.accounts["t2"]])
    assert sessions.fetchone()[0] == 0
    assert account(svc, "mun")["archived_at"] is None and account(svc, "t4")["archived_at"] is None


def test_school_it_creates_teachers_only_and_keeps_its_peers_and_itself(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "it1")
    rows = [
        ["Логин", "ФИО", "Роль"],  # no school column: the importer's own school
        ["new.t", '=HYPERLINK("http://example.org","x")', "учитель"],
        ["new.it", "Второй администратор", "school_it"],
        ["new.mun", "Координатор", "municipal"],
        ["it1", "Новое имя для себя", "school_it"],
    ]
    preview = upload(client, csrf, "staff", csv_bytes(rows)).json
    bad = [(e["row"], e["field"], e["reason"]) for e in preview["first"]["bad"]]
    assert bad == [
        (3, "role", "Вы не можете создавать учётные записи с ролью «school_it»."),
        (4, "role", "Вы не можете создавать учётные записи с ролью «municipal»."),
        (5, "login", "Свою учётную запись импортом не изменить."),
    ]
    assert [item["key"] for item in preview["first"]["archive"]] == ["t1"]  # not it1b, not it1 itself
    assert apply(client, csrf, preview["id"]).status_code == 200
    created = account(svc, "new.t")
    assert created["full_name"] == '=HYPERLINK("http://example.org","x")'
    assert (created["node_type"], created["node_id"]) == ("school", region.schools["S1"])
    assert account(svc, "it1b")["archived_at"] is None and account(svc, "it1")["archived_at"] is None
    assert not list(svc.db.read.query("SELECT id FROM user WHERE login IN ('new.it', 'new.mun')"))


def test_a_school_outside_the_scope_reads_the_same_whether_it_exists_or_not(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    rows = [
        ["Логин", "ФИО", "Роль", "ОГРН школы"],
        ["x1", "Учитель в Бердске", "teacher", ogrn(4)],  # exists, in another municipality
        ["x2", "Учитель нигде", "teacher", ogrn(42)],  # exists nowhere
        ["t5", "Учитель из Кемерово", "teacher", ogrn(1)],  # a login another region holds
    ]
    bad = upload(client, csrf, "staff", csv_bytes(rows)).json["first"]["bad"]
    assert (
        bad[0]["reason"] == bad[1]["reason"] == "Школа вне вашей зоны: в вашей зоне нет школы с таким ОГРН."
    )
    assert (bad[2]["field"], bad[2]["reason"]) == ("login", "Логин «t5» уже занят.")


# --- applying: a changed world, expiry, large files ------------------------------------------------


def test_a_world_changed_since_the_preview_gives_a_new_preview_instead(
    client: FlaskClient, svc: Services, region: Region
) -> None:
    csrf = signed_in(client, svc, "mun")
    preview = upload(client, csrf, "schools", municipal_school_list()).json
    svc.db.write(lambda db: orgs.create_school(db, region.berdsk, "Школа № 6", "СОШ № 6", ogrn=ogrn(6)))
    response = apply(client, csrf, preview["id"])
    assert response.status_code == 409 and response.json["error"] == "changed"
    fresh = response.json["preview"]
    assert (fresh["counts"]["add"], fresh["counts"]["bad"]) == (0, 6)
    assert school(svc, ogrn(1))["name"] == "Школа № 1"  # nothing applied
    assert apply(client, csrf, fresh["id"]).status_code == 200
    assert school(svc, ogrn(1))["name"] == "Школа № 1 имени А. С. Пушкина"


def test_an_hour_old_preview_is_not_applied(client: FlaskClient, svc: Services, region: Region) -> None:
    csrf = signed_in(client, svc, "mun")
    preview = upload(client, csrf, "schools", municipal_school_list()).json
    sql = "UPDATE import_preview SET created_at = created_at - 3601 WHERE id = ?"
    svc.db.write(lambda db: db.execute(sql, [preview["id"]]))
    response = apply(client, csrf, preview["id"])
    assert response.status_code == 410
    assert "устарел" in response.json["message"]


def test_a_2000_row_staff_list_pages_and_applies_in_chunks(
    client: FlaskClient, svc: Services, region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "CHUNK", 300)
    csrf = signed_in(client, svc, "mun")
    rows = [["login", "full_name", "email", "role", "school_ogrn"]]
    rows += [[f"p{n:04d}", f"Учитель {n}", f"p{n}@s.ru", "teacher", ogrn(1 + n % 2)] for n in range(2000)]
    preview = upload(client, csrf, "staff", csv_bytes(rows, ",", "utf-8")).json
    assert (preview["counts"]["add"], preview["counts"]["archive"]) == (2000, 5)  # it1, it1b, t1, it2, t2
    assert len(preview["first"]["add"]) == store.FIRST
    page = client.get(f"/api/imports/{preview['id']}?section=add&offset=1990&limit=50").json
    assert (page["total"], [item["row"] for item in page["items"]]) == (2000, list(range(1992, 2002)))
    response = apply(client, csrf, preview["id"])
    assert response.status_code == 200
    added = svc.db.read.execute("SELECT count(*) FROM user WHERE login LIKE 'p%' AND archived_at IS NULL")
    assert added.fetchone()[0] == 2000


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Файл пуст."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Формат XLS"),
        (b"PK\x03\x04 not really a workbook", "Не удалось прочитать XLSX"),
        ("Наименование;ИНН\nШкола;1".encode(), "В файле нет столбца «ОГРН» (ogrn)"),
        ("ОГРН;Название;Наименование\n".encode(), "Столбец «Наименование» встречается дважды."),
        ("ОГРН\x00;Название".encode("utf-16"), "Файл не похож на CSV или XLSX"),
    ],
)
def test_a_file_that_is_not_a_list_is_refused_in_russian(
    client: FlaskClient, svc: Services, region: Region, data: bytes, message: str
) -> None:
    csrf = signed_in(client, svc, "mun")
    response = upload(client, csrf, "schools", data)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert table(svc, "import_preview") == []


def test_size_and_row_limits(
    client: FlaskClient, svc: Services, region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = signed_in(client, svc, "mun")
    monkeypatch.setattr(imports, "MAX_ROWS", 5)
    many = csv_bytes([SCHOOL_HEADINGS] + [school_row(n) for n in range(10, 16)])
    assert (
        upload(client, csrf, "schools", many).json["message"] == "В файле больше 5 строк: разделите список."
    )
    monkeypatch.setattr(imports, "MAX_BYTES", 1 << 20)
    big = csv_bytes([SCHOOL_HEADINGS, [*school_row(10), "x" * (1 << 20)]])
    response = upload(client, csrf, "schools", big)
    assert (response.status_code, response.json["message"]) == (
        400,
        "Файл больше 1 МБ: разделите список на части.",
    )


def test_who_may_import_what(client: FlaskClient, svc: Services, region: Region) -> None:
    csrf = signed_in(client, svc, "t1")
    assert upload(client, csrf, "staff", b"login;full_name;role\n").status_code == 403
    csrf = signed_in(client, svc, "it1")
    assert upload(client, csrf, "schools", municipal_school_list()).status_code == 403
    assert upload(client, csrf, "staff", b"x", region_id=region.region).status_code == 404  # above its school
    assert upload(client, csrf, "people", b"x").status_code == 400
    no_file = client.post("/api/imports", data={"kind": "staff"}, headers={"X-CSRF-Token": csrf})
    assert no_file.status_code == 400 and "file" in no_file.json["message"]


def test_rows_are_numbered_as_the_spreadsheet_shows_them() -> None:
    text = "\ufeffОГРН,Название\n\n" + f'{ogrn(1)},"Школа\nв две строки"\n,\n{ogrn(2)},\n'
    parsed = imports.parse("schools", text.encode())
    assert [(row, values["ogrn"]) for row, values in parsed.records] == [(3, ogrn(1))]
    assert [(entry["row"], entry["field"]) for entry in parsed.bad] == [(5, "name")]


# --- the command line ------------------------------------------------------------------------------


def test_the_cli_previews_and_applies_a_small_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "controller"
    app = create_app({"data_dir": str(data_dir), "secure_cookies": False})
    app.extensions["classcast"].db.write(build_region)
    app.extensions["classcast"].db.close()
    good = tmp_path / "schools.csv"
    good.write_bytes(municipal_school_list())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSCAST_")}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "controller", "import", "--data-dir", str(data_dir), *args]
        return subprocess.run(
            command, capture_output=True, text=True, input=stdin, env=env, cwd=ROOT, timeout=120
        )

    declined = run("--kind", "schools", "--as", "mun", str(good), stdin="нет\n")
    assert declined.returncode == 1 and "Не применено." in declined.stdout
    started = time.time()
    result = run("--kind", "schools", "--as", "mun", str(good), "--yes")
    assert result.returncode == 0, result.stderr
    assert "строка 9, «ОГРН»: Школа вне вашей зоны." in result.stdout
    assert "Применено: добавить 1, изменить 1, в архив 1" in result.stdout
    with sqlite3.connect(data_dir / "classcast.sqlite") as db:
        names = dict(db.execute("SELECT ogrn, name FROM school WHERE archived_at IS NULL").fetchall())
        audited = db.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'import' AND at >= ?", [started]
        )
        assert audited.fetchone()[0] == 1
    db.close()
    assert names[ogrn(1)] == "Школа № 1 имени А. С. Пушкина" and ogrn(6) in names and ogrn(3) not in names

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 broken")
    failed = run("--kind", "schools", "--as", "mun", str(broken), "--yes")
    assert failed.returncode == 1
    assert "Не удалось прочитать XLSX" in failed.stderr and "Traceback" not in failed.stderr
    nobody = run("--kind", "staff", "--as", "nobody", str(good), "--yes")
    assert nobody.returncode == 1 and "Traceback" not in nobody.stderr


def test_an_apply_cut_short_by_a_conflict_says_how_far_it_got_and_audits_it(
    client: FlaskClient, svc: Services, region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "CHUNK", 2)
    csrf = signed_in(client, svc, "it1")
    rows = [["Логин", "ФИО", "Роль"], *([f"n{n}", f"Учитель {n}", "teacher"] for n in range(4))]
    rows += [["it1b", "Сотрудник it1b", "school_it"], ["t1", "Сотрудник t1", "teacher"]]
    preview = upload(client, csrf, "staff", csv_bytes(rows)).json
    insert = store._insert

    def racing_insert(db: Any, table_name: str, batch: list[dict[str, Any]]) -> None:
        if batch[0]["login"] == "n2":  # someone else took this login after the plan was checked
            db["user"].insert({"login": "n3", "full_name": "x", "role": "teacher", "created_at": "now"})
        insert(db, table_name, batch)

    monkeypatch.setattr(store, "_insert", racing_insert)
    response = apply(client, csrf, preview["id"])
    assert response.status_code == 409 and response.json["error"] == "interrupted"
    assert "применено 2 из 4" in response.json["message"]
    logins = {row["login"] for row in svc.db.read.query("SELECT login FROM user WHERE login LIKE 'n%'")}
    assert logins == {"n0", "n1"}  # the first chunk stays; the failed one rolled back whole
    event = [e for e in table(svc, "audit_event") if e["action"] == "import"][-1]
    assert event["outcome"] == "failed" and json.loads(event["detail"])["applied_rows"] == 2
