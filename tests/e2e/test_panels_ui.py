"""The registry of display devices and the reconciliation in a real Chromium against a real controller.

A school's IT administrator signs in and opens «Панели»: their school's panels with their values in
words and units (never the neighbouring school's), filtered by text and by status, sorted by
temperature; the XLSX download follows that sort and opens in openpyxl with the documented columns.
They open a panel's details, send it a remote action (it is not connected: the page says so and the
history records it), move it to another room and revoke it. «Сверка» lists the silent panel, the
unknown device whose serial was bought for the school, the purchased serial not yet paired and the
revoked panel still trying — and nothing of what belongs elsewhere. A municipal coordinator narrows the
list to one school, reads a panel without the buttons that change it, and uploads a purchase list whose
bad row is explained; the new serial then waits in the reconciliation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from controller.app import create_app
from controller.store import lifecycle, orgs, users
from controller.timeutil import iso_from_unix

from .conftest import serve_controller, signed_in_page

PASSWORD = "пароль-администратора"
OGRN_BASE = "102540000007"
OGRN = OGRN_BASE + str(int(OGRN_BASE) % 11 % 10)  # a legal entity's OGRN, its check digit right
GIB = 1024**3
DAY = 86400
OTHER = "Чужая панель"  # a panel of the neighbouring school: it may never reach the page


def _panel(db: Any, school: int, room: int, name: str, seen_ago: float, key: str, **facts: Any) -> int:
    now = time.time()
    row = {
        "school_id": school,
        "room_id": room,
        "name": name,
        "state": "active",
        "created_at": iso_from_unix(now - 90 * DAY),
        "paired_at": iso_from_unix(now - 60 * DAY),
        "last_seen_at": iso_from_unix(now - seen_ago),
        "curve_public_key": key,
        **facts,
    }
    return db["panel"].insert(row).last_pk


def seed(data_dir: Path) -> None:
    """Write a school with four panels in different states, a neighbour with one, and the traffic."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> int:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(
            db, municipality, "Средняя школа № 7", "СОШ № 7", timezone="Asia/Novosibirsk", ogrn=OGRN
        )
        other = orgs.create_school(db, municipality, "Средняя школа № 9", "СОШ № 9")
        room_101, room_102 = (
            orgs.create_room(db, school, "Кабинет 101"),
            orgs.create_room(db, school, "Кабинет 102"),
        )
        _panel(
            db, school, room_101, "Доска 101", 60, "key-board-101".ljust(40, "x"),
            serial="SN-0001", mac="dc:a6:32:00:01:01", model="Raspberry Pi 4 Model B", os="Debian 12",
            player_version="1.10.0", agent_version="1.9.2", temperature_c=54.0,
            disk_free_bytes=int(3.1 * GIB), disk_total_bytes=int(29.7 * GIB), undervoltage_now=0,
            display_connected=1, screen_on=0, screen_reason="schedule", screen_at=time.time() - 120,
        )  # fmt: skip
        _panel(
            db, school, room_102, "Проектор 102", 2 * DAY, "key-projector".ljust(40, "x"), serial="SN-0002",
            temperature_c=71.0, undervoltage_now=1, display_connected=0, screen_reason="fault",
            screen_at=time.time() - 2 * DAY,
        )  # fmt: skip
        _panel(db, school, room_101, "Старая панель", 40 * DAY, "key-old".ljust(40, "x"), serial="SN-0003")
        revoked = _panel(db, school, room_102, "Отозванная", 5 * DAY, "key-revoked".ljust(40, "x"))
        _panel(db, other, orgs.create_room(db, other, "Кабинет 9"), OTHER, 60, "key-other".ljust(40, "x"))
        lifecycle.revoke(db, revoked)
        for _ in range(4):
            lifecycle.record_contact(
                db, "telemetry", lifecycle.key_hash("key-revoked".ljust(40, "x")), "10.7.0.4"
            )
        now = time.time()
        db["provision"].insert({"serial": "PROV-7", "school_id": school, "created_at": now})
        db["provision"].insert({"serial": "PROV-9", "school_id": other, "created_at": now})
        facts = {"serial": "PROV-7", "model": "Raspberry Pi 5", "mac": "2c:cf:67:00:00:07"}
        lifecycle.record_contact(
            db, "pairing", lifecycle.key_hash("key-new".ljust(40, "x")), "10.7.0.9", facts
        )
        stranger = {"serial": "STRANGER-1"}
        lifecycle.record_contact(
            db, "pairing", lifecycle.key_hash("key-x".ljust(40, "x")), "10.9.9.9", stranger
        )
        return school

    school = svc.db.write(build)
    svc.db.write(users.create_user, "it7", PASSWORD, "Иван Админов", "school_it", "school", school)
    municipality = svc.db.read["school"].get(school)["municipality_id"]
    coordinator = ("coord", PASSWORD, "Мария Координатова", "municipal", "municipality", municipality)
    svc.db.write(users.create_user, *coordinator)
    svc.db.close()


@pytest.fixture
def controller_url(tmp_path: Path, spawn: Any) -> Iterator[str]:
    data_dir = tmp_path / "controller"
    seed(data_dir)
    # A day before a panel counts as offline: the one seen a minute ago stays online however slow the run.
    controller = serve_controller(spawn, data_dir, {"CLASSCAST_PANEL_OFFLINE_AFTER_S": str(DAY)})
    yield controller.url
    assert controller.proc.stop() == 0, controller.proc.log_text()


def sign_in(browser: Browser, base_url: str, login: str = "it7") -> tuple[Page, list[str]]:
    page = "/admin/panels"
    return signed_in_page(
        browser, base_url, page, login, PASSWORD, f"**{page}", timezone_id="Asia/Novosibirsk"
    )


def rows(page: Page) -> Any:
    return page.locator("#table tbody tr")


def row(page: Page, name: str) -> Any:
    return rows(page).filter(has=page.locator("td.title", has_text=name))


def test_school_it_reads_filters_sorts_exports_and_manages_the_panels(
    controller_url: str, browser: Browser, tmp_path: Path
) -> None:
    page, problems = sign_in(browser, controller_url)

    # The school's panels, with their values in words and units; nothing of the neighbour's.
    expect(page.get_by_role("heading", level=1)).to_have_text("Реестр панелей")
    expect(rows(page)).to_have_count(4)
    assert OTHER not in page.content()
    board = row(page, "Доска 101")
    for text in ("в сети", "Кабинет 101", "SN-0001", "1.10.0", "54 °C", "3,1 ГБ из 29,7 ГБ", "да"):
        expect(board).to_contain_text(text)
    # Off on purpose is told from broken: the screen as the panel last reported it.
    expect(board.locator('td[data-label="Экран"]')).to_have_text("выключен по расписанию")
    projector = row(page, "Проектор 102")
    for text in ("не в сети", "позавчера", "71 °C", "да, сейчас", "нет"):
        expect(projector).to_contain_text(text)
    expect(projector.locator('td[data-label="Экран"]')).to_have_text("не управляется: неисправность")
    expect(row(page, "Старая панель")).to_contain_text("молчит")
    expect(row(page, "Отозванная")).to_contain_text("отозвана")
    expect(row(page, "Отозванная").locator('td[data-label="Попыток после отзыва"]')).to_have_text("4")

    # Filters: text (any case) and status, each answered by the API.
    page.get_by_label("Поиск").fill("ПРОЕКТОР")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Проектор 102")
    page.get_by_label("Поиск").fill("")
    expect(rows(page)).to_have_count(4)
    status = page.get_by_role("combobox", name="Состояние")
    expect(status.locator("option[value=silent]")).to_have_text("молчит: 1")
    status.select_option("silent")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Старая панель")
    status.select_option("")
    expect(rows(page)).to_have_count(4)

    # Sorting by temperature: by the number, the unknown last; again for the other direction.
    sort_button = page.get_by_role("button", name="Температура: Сортировать по полю")
    sort_button.click()
    expect(rows(page).nth(0)).to_contain_text("Доска 101")
    expect(rows(page).nth(1)).to_contain_text("Проектор 102")
    sort_button.click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Температура")
    expect(rows(page).nth(0)).to_contain_text("Проектор 102")
    expect(rows(page).nth(1)).to_contain_text("Доска 101")

    # The XLSX download: the documented columns, the rows in the order on screen.
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Выгрузить список панелей в XLSX").click()
    download = downloading.value
    assert download.suggested_filename.startswith("Реестр панелей ")
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "panels.xlsx"
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    table = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert table[0][:5] == ["ID панели", "Муниципалитет", "Школа", "Кабинет", "Имя панели"]
    assert len(table[0]) == 24 and "Температура, °C" in table[0]
    assert {line[4]: line[table[0].index("Экран")] for line in table[1:3]} == {
        "Проектор 102": "не управляется: неисправность",
        "Доска 101": "выключен по расписанию",
    }
    assert [line[4] for line in table[1:3]] == ["Проектор 102", "Доска 101"]
    assert len(table) == 5 and OTHER not in {line[4] for line in table}

    _details_action_move_and_revoke(page)
    _reconciliation(page)
    assert problems == []


def _details_action_move_and_revoke(page: Page) -> None:
    page.get_by_role("button", name="Подробнее о панели «Доска 101»").click()
    details = page.locator("dialog.panel-details[open]")
    expect(details.get_by_role("heading", name="Доска 101")).to_be_visible()
    expect(details.locator('[data-fact="serial"]')).to_have_text("SN-0001")
    expect(details).to_contain_text("Действий с панелью ещё не было.")

    # A remote action to a panel that is not connected: said plainly, and recorded.
    details.get_by_role("button", name="Показать имя на экране").click()
    expect(details.locator(".action-result")).to_have_text("Панель не в сети: команда не доставлена.")
    history = details.locator("table.history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Показать имя на экране")
    expect(history.first).to_contain_text("Иван Админов")
    expect(history.first).to_contain_text("не в сети")

    # Moved to the other room of the school.
    details.get_by_role("button", name="Переместить").click()
    form = page.locator("dialog[open]").last
    form.get_by_label("Кабинет").select_option(label="Кабинет 102")
    form.get_by_role("button", name="Переместить").click()
    expect(details.locator(".action-result")).to_have_text(
        "Панель «Доска 101» перемещена в кабинет «Кабинет 102»."
    )
    expect(details.locator('[data-fact="room"]')).to_have_text("Кабинет 102")
    expect(row(page, "Доска 101")).to_contain_text("Кабинет 102")

    # Revoked after a confirmation.
    details.get_by_role("button", name="Отозвать").click()
    confirm = page.locator("dialog[open]").last
    expect(confirm).to_contain_text("Ключи панели будут удалены")
    confirm.get_by_role("button", name="Отозвать").click()
    expect(details.locator(".action-result")).to_have_text("Панель «Доска 101» отозвана.")
    expect(details.get_by_role("button", name="Показать имя на экране")).to_have_count(0)
    details.get_by_role("button", name="Закрыть").click()
    expect(row(page, "Доска 101")).to_contain_text("отозвана")


def _reconciliation(page: Page) -> None:
    page.get_by_role("link", name="Сверка").click()
    page.wait_for_url("**/admin/reconciliation")
    expect(page.get_by_role("heading", level=1)).to_have_text("Сверка реестра панелей")
    silent = page.locator("section#silent")
    expect(silent.get_by_role("heading")).to_contain_text("Панели, которые молчат больше 30 дней")
    expect(silent.locator("[data-count]")).to_have_text("1")
    expect(silent.locator("tbody tr")).to_have_count(1)
    expect(silent.locator("tbody tr")).to_contain_text("Старая панель")

    unknown = page.locator("section#unknown")
    expect(unknown.get_by_role("heading")).to_contain_text(
        "Устройства, пытавшиеся подключиться без регистрации"
    )
    expect(unknown.locator("[data-count]")).to_have_text("1")
    expect(unknown.locator("tbody tr")).to_contain_text("PROV-7")
    expect(unknown.locator("tbody tr")).to_contain_text("запрос кода подключения")
    expect(unknown.locator("tbody tr")).to_contain_text("СОШ № 7")

    unpaired = page.locator("section#unpaired")
    expect(unpaired.locator("[data-count]")).to_have_text("1")
    expect(unpaired.locator("tbody tr")).to_contain_text("PROV-7")

    refused = page.locator("section#refused")
    expect(refused.locator("[data-count]")).to_have_text("1")
    expect(refused.locator("tbody tr")).to_contain_text("Отозванная")
    expect(refused.locator("tbody tr")).to_contain_text("4")
    for elsewhere in ("STRANGER-1", "PROV-9", OTHER):
        assert elsewhere not in page.content()


def test_a_coordinator_narrows_to_a_school_and_uploads_the_purchase_list(
    controller_url: str, browser: Browser, tmp_path: Path
) -> None:
    page, problems = sign_in(browser, controller_url, "coord")

    # Both schools of the municipality; the school choice narrows to one. No buttons that change panels.
    expect(rows(page)).to_have_count(5)
    page.get_by_role("combobox", name="Школа").select_option(label="СОШ № 9")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text(OTHER)
    page.get_by_role("button", name=f"Подробнее о панели «{OTHER}»").click()
    details = page.locator("dialog.panel-details[open]")
    expect(details.locator('[data-fact="school"]')).to_have_text("СОШ № 9")
    expect(details.get_by_role("button", name="Отозвать")).to_have_count(0)
    expect(details.get_by_role("button", name="Показать имя на экране")).to_have_count(0)
    details.get_by_role("button", name="Закрыть").click()

    # The purchase list: a good row kept, a bad one explained with its row number.
    listing = tmp_path / "закупка.csv"
    listing.write_text(
        f"Серийный номер;ОГРН школы;Кабинет\r\nNEW-1;{OGRN};Кабинет 101\r\nNEW-2;{OGRN};Кабинет 999\r\n",
        encoding="utf-8",
    )
    page.get_by_label("Файл списка").set_input_files(listing)
    page.get_by_role("button", name="Загрузить список").click()
    result = page.locator("#provision-result")
    expect(result).to_contain_text("Список загружен: добавлено 1, обновлено 0.")
    expect(result).to_contain_text("Строк с ошибками (не загружены): 1.")
    expect(result.locator(".bad-rows li")).to_have_text(
        "Строка 3, Кабинет: В этой школе нет кабинета «Кабинет 999»."
    )

    # The new serial waits in the reconciliation, beside the municipality's other purchases.
    page.get_by_role("link", name="Сверка").click()
    unpaired = page.locator("section#unpaired")
    expect(unpaired.locator("[data-count]")).to_have_text("3")
    expect(unpaired.locator("tbody tr")).to_have_count(3)
    expect(unpaired.locator("tbody")).to_contain_text("NEW-1")
    expect(unpaired.locator("tbody")).to_contain_text("PROV-9")
    expect(page.locator("section#unknown tbody tr")).to_have_count(1)
    assert "STRANGER-1" not in page.content()
    assert problems == []
