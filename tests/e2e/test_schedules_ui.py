"""«Расписания экранов» in a real Chromium on a phone-sized screen against a real controller process.

A school's IT administrator opens the page and sees their school's rooms (never the neighbour's),
uploads a broken schedule to a room and reads its faults under it, each with its line and field; then
uploads a good one with its bell file beside it, and the room shows the schedule's title, its file,
who uploaded it, its panel and the day's plan; then removes it after a confirmation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from classcast.identity import ensure_identity
from controller.app import create_app
from controller.store import content, orgs, panels, users

from .conftest import serve_controller, signed_in_page, solid_png

PASSWORD = "пароль-администратора"
OTHER_ROOM = "Кабинет соседей"
BROKEN = """title: Расписание перемен
playlists:
  - name: перемена
    items:
      - text: Доброе утро!
        duration: пять
rules:
  - playlist: перемена
    colour: red
"""
BELLS = """bells:
  week:
    - days: [пн, вт, ср, чт, пт]
      periods:
        - {name: урок 1, start: "08:45", end: "09:30"}
"""
# Clock times only, so the day's plan is the same whatever day the test runs on.
GOOD = """title: Расписание перемен
bells: bells.yaml
playlists:
  - name: перемена
    duration: 10
    items:
      - text: Доброе утро!
      - material: {material}
rules:
  - playlist: перемена
    times: [{{from: "08:00", to: "08:45"}}]
screen:
  hours:
    - times: [{{from: "07:00", to: "18:00"}}]
"""


def seed(data_dir: Path, tmp_path: Path) -> int:
    """Write a school with two rooms (a panel in the first), its IT administrator and a picture; return
    the picture's material id."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(
            db, municipality, "Средняя школа № 7", "СОШ № 7", timezone="Asia/Novosibirsk"
        )
        other = orgs.create_school(db, municipality, "Средняя школа № 9", "СОШ № 9")
        orgs.create_room(db, other, OTHER_ROOM)
        orgs.create_room(db, school, "Кабинет 102")
        return school, orgs.create_room(db, school, "Кабинет 101")

    school, room = svc.db.write(build)
    svc.db.write(panels.enroll_panel, room, "Доска 101", ensure_identity(tmp_path / "panel").public_key)
    svc.db.write(users.create_user, "it7", PASSWORD, "Иван Админов", "school_it", "school", school)
    picture = content.add_content(svc.db, svc.content, solid_png((0, 120, 60)), "Зарядка", school)
    svc.db.close()
    return picture["id"]


@pytest.fixture
def controller(tmp_path: Path, spawn: Any) -> Iterator[tuple[str, int]]:
    data_dir = tmp_path / "controller"
    material = seed(data_dir, tmp_path)
    controller = serve_controller(spawn, data_dir)
    yield controller.url, material
    assert controller.proc.stop() == 0, controller.proc.log_text()


def room_card(page: Page, name: str) -> Any:
    return page.locator(".schedule-room").filter(has=page.get_by_role("heading", name=name, exact=True))


def test_school_it_uploads_a_broken_then_a_good_schedule_and_removes_it(
    controller: tuple[str, int], browser: Browser, tmp_path: Path
) -> None:
    url, material = controller
    page, problems = signed_in_page(
        browser, url, "/admin/schedules", "it7", PASSWORD, "**/admin/schedules",
        viewport={"width": 390, "height": 844}, timezone_id="Asia/Novosibirsk",
    )  # fmt: skip
    expect(page.get_by_role("heading", level=1)).to_have_text("Расписания экранов")
    expect(page.locator(".schedule-room h2")).to_have_text(["Кабинет 101", "Кабинет 102"])
    expect(page.get_by_text(OTHER_ROOM)).to_have_count(0)
    card = room_card(page, "Кабинет 101")
    expect(card).to_contain_text("Расписания нет")

    files = {name: tmp_path / name for name in ("кабинет.yaml", "good.yaml", "bells.yaml")}
    files["кабинет.yaml"].write_text(BROKEN, encoding="utf-8")
    files["good.yaml"].write_text(GOOD.format(material=material), encoding="utf-8")
    files["bells.yaml"].write_text(BELLS, encoding="utf-8")

    card.get_by_label("Файл расписания", exact=True).set_input_files(files["кабинет.yaml"])
    card.get_by_role("button", name="Загрузить").click()
    faults = card.get_by_role("alert")
    expect(faults).to_contain_text("Расписание не принято, ошибок: 2")
    expect(faults.locator("li")).to_have_count(2)
    expect(faults.locator("li").nth(0)).to_contain_text(
        "кабинет.yaml, строка 6, поле playlists[0].items[0].duration:"
    )
    expect(faults.locator("li").nth(1)).to_contain_text(
        "кабинет.yaml, строка 9, поле rules[0].colour: неизвестное поле «colour»"
    )
    expect(card).to_contain_text("Расписания нет")  # nothing kept

    card.get_by_label("Файл расписания", exact=True).set_input_files(files["good.yaml"])
    card.get_by_label("Файлы звонков").set_input_files(files["bells.yaml"])
    card.get_by_role("button", name="Загрузить").click()
    expect(page.locator("#notices")).to_contain_text(
        "Расписание «Расписание перемен» кабинета «Кабинет 101» принято"
    )
    card = room_card(page, "Кабинет 101")
    facts = card.locator(".schedule-facts dd")
    expect(facts.nth(0)).to_have_text("Расписание перемен")
    expect(facts.nth(1)).to_have_text("good.yaml")
    expect(facts.nth(2)).to_contain_text("Иван Админов")
    expect(facts.nth(3)).to_have_text("1")
    expect(card.locator(".day-plan li")).to_have_text(
        [
            "00:00–07:00 экран выключен",
            "07:00–08:00 заставка",
            "08:00–08:45 перемена",
            "08:45–18:00 заставка",
            "18:00–24:00 экран выключен",
        ]
    )
    expect(card.get_by_role("alert")).to_have_count(0)
    download = card.get_by_role("link", name="Скачать файл расписания кабинета «Кабинет 101»")
    source = page.request.get(url + download.get_attribute("href"))
    assert source.ok and source.text() == GOOD.format(material=material)
    expect(page.locator("#summary")).to_have_text("Кабинетов: 2, с расписанием: 1.")

    card.get_by_role("button", name="Удалить расписание кабинета «Кабинет 101»").click()
    confirm = page.locator("dialog[open]")
    expect(confirm).to_contain_text("Панели кабинета «Кабинет 101» вернутся к заставке")
    confirm.get_by_role("button", name="Удалить").click()
    expect(room_card(page, "Кабинет 101")).to_contain_text("Расписания нет")
    expect(page.locator("#summary")).to_have_text("Кабинетов: 2, с расписанием: 0.")
    assert problems == []
