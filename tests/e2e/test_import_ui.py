"""The import page in a real Chromium against a real controller process.

A municipal coordinator opens the page from the registry, uploads a school list with one bad row,
reads the counts and the bad row's number and reason, and applies it; the registry changed under the
preview once (another session archived a school), so the first apply shows the new plan and says why,
and the second goes through. The registry then holds the new school. The current list downloads in
the import's format. On a phone the page never scrolls sideways, and a broken file is refused in
Russian in the page's notice area.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from controller.app import create_app
from controller.store import orgs, users
from tests.controller.test_imports import ogrn

from .conftest import WebUser, serve_controller
from .test_admin_ui import PASSWORD, signed_in

HEADINGS = ["Муниципалитет", "Название", "Краткое название", "ОГРН"]
WRONG_OGRN = ogrn(7)[:-1] + str((int(ogrn(7)[-1]) + 1) % 10)


def seed(data_dir: Path) -> dict[str, int]:
    """Return the ids of a region whose coordinator's municipality has two schools, and a neighbour."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> dict[str, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        ours = orgs.create_municipality(db, region, "город Новосибирск")
        theirs = orgs.create_municipality(db, region, "город Бердск")
        first = orgs.create_school(db, ours, "Школа № 1", "СОШ № 1", ogrn=ogrn(1))
        second = orgs.create_school(db, ours, "Школа № 2", "СОШ № 2", ogrn=ogrn(2))
        orgs.create_school(db, theirs, "Школа № 3", "СОШ № 3 (Бердск)", ogrn=ogrn(3))
        return {"municipality": ours, "first": first, "second": second}

    ids = svc.db.write(build)
    svc.db.write(
        users.create_user,
        "coord",
        PASSWORD,
        "Мария Координатова",
        "municipal",
        "municipality",
        ids["municipality"],
    )
    svc.db.close()
    return ids


@pytest.fixture
def controller(tmp_path: Path, spawn: Any) -> Iterator[tuple[str, dict[str, int]]]:
    data_dir = tmp_path / "controller"
    ids = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    yield controller.url, ids
    assert controller.proc.stop() == 0, controller.proc.log_text()


def school_list(*rows: list[str]) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows([HEADINGS, *rows])
    return text.getvalue().encode("utf-8-sig")


def choose_file(page: Page, name: str, data: bytes, mime: str = "text/csv") -> None:
    page.get_by_label("Файл", exact=True).set_input_files({"name": name, "mimeType": mime, "buffer": data})


def count(page: Page, name: str) -> Any:
    return page.locator(f"#counts [data-count={name}] .value")


def items(page: Page) -> Any:
    return page.locator("#items tbody tr")


def test_coordinator_previews_applies_and_finds_the_new_school(
    controller: tuple[str, dict[str, int]], browser: Browser
) -> None:
    base_url, ids = controller
    watched = signed_in(browser, base_url, "coord", {"width": 1280, "height": 900})
    page = watched.page
    page.get_by_role("link", name="Импорт из файла").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Импорт списков")
    expect(page.locator("#node-fixed")).to_have_text("Список: город Новосибирск")

    # The current list, in the format the import reads: only this municipality's schools.
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Скачать текущий список в CSV").click()
    download = downloading.value
    assert download.suggested_filename.startswith("Школы — город Новосибирск ")
    exported = Path(download.path()).read_bytes()
    assert exported.startswith("\ufeffМуниципалитет;Название;".encode())
    assert ogrn(1).encode() in exported and ogrn(3).encode() not in exported

    listed = school_list(
        ["город Новосибирск", "Школа № 1", "СОШ № 1", ogrn(1)],
        ["город Новосибирск", "Школа № 2", "СОШ № 2", ogrn(2)],
        ["город Новосибирск", "Лицей № 6", "Лицей № 6", ogrn(6)],
        ["город Новосибирск", "Школа № 7", "СОШ № 7", WRONG_OGRN],  # row 5: a wrong check digit
    )
    page.get_by_label("Школы", exact=True).check()
    choose_file(page, "школы.csv", listed)
    page.get_by_role("button", name="Проверить файл").click()

    # The counts, and the bad row first: its number, its column and the reason, in Russian.
    expect(page.get_by_role("heading", name="Что изменится")).to_be_focused()
    expect(page.locator("#preview-about")).to_contain_text("Файл «школы.csv»: список школ, город Новосибирск")
    for name, value in {"add": "1", "change": "0", "archive": "0", "unchanged": "2", "bad": "1"}.items():
        expect(count(page, name)).to_have_text(value)
    expect(page.get_by_role("tab", name="Ошибки (1)")).to_have_attribute("aria-selected", "true")
    expect(items(page)).to_have_count(1)
    expect(items(page).locator("td")).to_have_text(
        ["5", "ОГРН", "ОГРН — 13 цифр с верной контрольной цифрой."]
    )
    page.get_by_role("tab", name="Добавить (1)").click()
    expect(items(page)).to_have_count(1)
    expect(items(page)).to_contain_text(ogrn(6))
    expect(items(page)).to_contain_text("Лицей № 6")

    # Meanwhile another session archives school № 2: the apply shows the new plan and says why.
    other = WebUser(base_url)
    other.sign_in("coord", PASSWORD)
    other.post_json(f"/api/schools/{ids['second']}/archive", {})
    page.get_by_role("button", name="Применить").click()
    confirm = page.locator("dialog[open]")
    expect(confirm).to_contain_text(
        "Будет добавлено: 1, изменено: 0, перенесено в архив: 0. Строки с ошибками (1) не применяются."
    )
    confirm.get_by_role("button", name="Применить").click()
    expect(page.locator(".notices")).to_contain_text("данные в реестре изменились, и ничего не применено")
    expect(count(page, "change")).to_have_text("1")
    expect(count(page, "unchanged")).to_have_text("1")
    page.get_by_role("tab", name="Изменить (1)").click()
    expect(items(page)).to_contain_text("В архиве: да → нет")

    page.get_by_role("button", name="Применить").click()
    expect(confirm).to_contain_text("Будет добавлено: 1, изменено: 1, перенесено в архив: 0.")
    confirm.get_by_role("button", name="Применить").click()
    expect(page.get_by_role("heading", name="Импорт применён")).to_be_visible()
    expect(page.locator("#result-counts")).to_contain_text("1добавлено")
    expect(page.locator("#result-counts")).to_contain_text("1строк с ошибками пропущено")

    # The registry holds the new school, and school № 2 is back.
    page.get_by_role("link", name="Открыть реестр").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Школы")
    expect(page.locator("#table tbody tr")).to_have_count(3)
    expect(page.get_by_role("link", name="Открыть «Лицей № 6»")).to_be_visible()
    expect(page.get_by_role("link", name="Открыть «СОШ № 2»")).to_be_visible()
    assert watched.problems == []


def _no_sideways_scroll(page: Page, where: str) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{where}: the page is {width[0]} px wide on a {width[1]} px screen"


def test_the_import_page_fits_a_phone_and_explains_a_broken_file(
    controller: tuple[str, dict[str, int]], browser: Browser
) -> None:
    base_url, _ids = controller
    watched = signed_in(browser, base_url, "coord", {"width": 360, "height": 740})
    page = watched.page
    page.goto(base_url + "/admin/imports")
    expect(page.get_by_role("heading", level=1)).to_have_text("Импорт списков")
    # A staff list may be one school's: the choice of node offers the municipality's schools.
    expect(page.get_by_label("Чей это список")).to_be_hidden()
    page.get_by_label("Сотрудники", exact=True).check()
    expect(page.get_by_label("Чей это список")).to_be_visible()
    expect(page.locator("#node option")).to_have_text(
        ["Весь муниципалитет: город Новосибирск", "СОШ № 1", "СОШ № 2"]
    )
    _no_sideways_scroll(page, "the upload form")
    page.get_by_label("Школы", exact=True).check()
    expect(page.get_by_label("Чей это список")).to_be_hidden()

    # A broken workbook: the reason in Russian in the notice area, the form still there.
    choose_file(page, "список.xlsx", b"PK\x03\x04 not really a workbook", "application/octet-stream")
    page.get_by_role("button", name="Проверить файл").click()
    expect(page.get_by_role("alert")).to_contain_text("Не удалось прочитать XLSX")
    assert "Traceback" not in page.content()
    _no_sideways_scroll(page, "the refusal")

    # A preview with long values reads as cards, still within the screen's width.
    long_name = "Муниципальное бюджетное общеобразовательное учреждение города Новосибирска «Лицей № 6»"
    listed = school_list(
        ["город Новосибирск", long_name, "Лицей № 6", ogrn(6)],
        ["город Новосибирск", "Школа № 7", "СОШ № 7", WRONG_OGRN],
        ["Колыванский район", "Школа № 8", "СОШ № 8", ogrn(8)],
    )
    choose_file(page, "школы.csv", listed)
    page.get_by_role("button", name="Проверить файл").click()
    expect(count(page, "bad")).to_have_text("2")
    expect(items(page)).to_have_count(2)
    expect(items(page).nth(1)).to_contain_text("Муниципалитет «Колыванский район» не найден в вашей зоне.")
    _no_sideways_scroll(page, "the bad rows")
    page.get_by_role("tab", name="В архив (2)").click()
    expect(items(page)).to_have_count(2)
    _no_sideways_scroll(page, "the archive section")
    assert watched.problems == []
