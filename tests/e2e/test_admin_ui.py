"""The staff pages in a real Chromium against a real controller process: registry, accounts, audit log.

A municipal coordinator signs in through the /login form on a phone-sized screen, drills down to a
school, adds a room, is told in Russian what is wrong with an OGRN, archives the room, creates a
teacher (whose one-time password then works, and who is refused the staff pages) and finds those
actions in the audit log, in local time and page by page; the other municipality never shows. A school
administrator sees only the rooms of their own school, never the municipality above it.
"""

from __future__ import annotations

import io
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from controller.app import create_app
from controller.store import orgs, users

from .conftest import WebUser, close_to, serve_controller

PASSWORD = "пароль-координатора"
HEADER_BLUE = (0x1D, 0x35, 0x57)
OLD_EVENTS = 60  # more than one page of the audit log (50), so "Показать ещё" has something to show
OLD_EVENT_AT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC).timestamp()  # 15:00:00 in Novosibirsk (UTC+7)
OTHER = "Бердск"  # the other municipality: nothing of it may reach the coordinator's pages


def seed(data_dir: Path) -> dict[str, int]:
    """Return the ids of a region with two municipalities, their schools and the staff accounts."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> dict[str, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        ours = orgs.create_municipality(db, region, "город Новосибирск")
        theirs = orgs.create_municipality(db, region, f"город {OTHER}")
        school = orgs.create_school(db, ours, "Средняя школа № 7", "СОШ № 7", timezone="Asia/Novosibirsk")
        orgs.create_school(db, ours, "Гимназия № 1", "Гимназия № 1")
        other_school = orgs.create_school(db, theirs, f"Школа № 3 города {OTHER}а", f"СОШ № 3 ({OTHER})")
        orgs.create_room(db, school, "Кабинет 101")
        orgs.create_room(db, other_school, f"Кабинет {OTHER}")
        # Past events: a page and more of the coordinator's school, and one of the other municipality.
        place = {"region_id": region, "municipality_id": ours, "school_id": school}
        for n in range(OLD_EVENTS):
            db["audit_event"].insert(_event(OLD_EVENT_AT + n, "it7", "school_it", "export", place))
        other_place = {"region_id": region, "municipality_id": theirs, "school_id": other_school}
        db["audit_event"].insert(_event(OLD_EVENT_AT, "berdsk.it", "school_it", "export", other_place))
        return {"municipality": ours, "school": school, "other_school": other_school}

    ids = svc.db.write(build)
    coordinator = ("coord", PASSWORD, "Мария Координатова", "municipal", "municipality", ids["municipality"])
    svc.db.write(users.create_user, *coordinator)
    svc.db.write(users.create_user, "it7", PASSWORD, "Иван Админов", "school_it", "school", ids["school"])
    svc.db.close()
    return ids


def _event(at: float, login: str, role: str, action: str, place: dict[str, int]) -> dict[str, Any]:
    return {
        "at": at,
        "actor_login": login,
        "actor_role": role,
        "action": action,
        "object_kind": "school",
        "object_id": place["school_id"],
        "ip": "10.0.0.7",
        "outcome": "ok",
        **place,
    }


@pytest.fixture
def controller(tmp_path: Path, spawn: Any) -> Iterator[tuple[str, dict[str, int]]]:
    data_dir = tmp_path / "controller"
    ids = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    yield controller.url, ids
    assert controller.proc.stop() == 0, controller.proc.log_text()


class Watched:
    """A page whose script errors and CSP violations are collected, to be asserted absent."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # A refused request (the bad OGRN's 400) is logged by the browser as an error; it is expected.
        if "Content Security Policy" in message.text or (
            message.type == "error" and "status of" not in message.text
        ):
            self.problems.append(f"console: {message.text}")


def signed_in(browser: Browser, base_url: str, login: str, viewport: dict[str, int]) -> Watched:
    """Return a new browser page signed in as `login` through the real form, on the registry page."""
    context = browser.new_context(viewport=viewport, locale="ru-RU", timezone_id="Asia/Novosibirsk")
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Watched(page)
    page.goto(base_url + "/admin/registry")
    assert "/login?next=/admin/registry" in page.url  # signed out: sent to sign in, and back after
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/admin/registry")
    return watched


def dialog(page: Page) -> Any:
    return page.locator("dialog[open]")


def rows(page: Page) -> Any:
    return page.locator("#table tbody tr")


def test_municipal_coordinator_manages_the_registry_and_accounts_on_a_phone(
    controller: tuple[str, dict[str, int]], browser: Browser
) -> None:
    base_url, ids = controller
    watched = signed_in(browser, base_url, "coord", {"width": 360, "height": 740})
    page = watched.page

    # The top of the coordinator's subtree: their municipality's schools, none of the other's.
    expect(page.get_by_role("heading", level=1)).to_have_text("Школы")
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_role("link", name="Открыть «СОШ № 7»")).to_be_visible()
    assert OTHER not in page.content()
    _header_bar_spans_the_top(page)

    # A bad OGRN is explained in Russian beside its field; nothing is created.
    page.get_by_role("button", name="Добавить школу").click()
    dialog(page).get_by_label("Полное название").fill("Лицей № 9")
    dialog(page).get_by_label("Краткое название").fill("Лицей № 9")
    dialog(page).get_by_label("ОГРН").fill("1234567890123")
    dialog(page).get_by_role("button", name="Добавить школу").click()
    ogrn_error = dialog(page).locator("[data-field=ogrn] .field-error")
    expect(ogrn_error).to_have_text("ОГРН — 13 цифр с верной контрольной цифрой.")
    expect(dialog(page).get_by_label("ОГРН")).to_have_attribute("aria-invalid", "true")
    dialog(page).get_by_role("button", name="Отмена").click()
    expect(rows(page)).to_have_count(2)

    # Down to the school's rooms; a room is added and listed.
    page.get_by_role("link", name="Открыть «СОШ № 7»").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Кабинеты")
    assert f"school={ids['school']}" in page.url
    expect(rows(page)).to_have_count(1)
    page.get_by_role("button", name="Добавить кабинет").click()
    dialog(page).get_by_label("Название").fill("Кабинет 204")
    dialog(page).get_by_role("button", name="Добавить кабинет").click()
    expect(page.locator(".notices")).to_contain_text("Добавлено: кабинет «Кабинет 204».")
    expect(rows(page).filter(has_text="Кабинет 204")).to_have_count(1)

    # Archived after a confirmation that names it; hidden, and shown again with the toggle.
    page.get_by_role("button", name="В архив «Кабинет 204»").click()
    expect(dialog(page)).to_contain_text("Кабинет «Кабинет 204» пропадёт из списков")
    dialog(page).get_by_role("button", name="Перенести в архив").click()
    expect(rows(page).filter(has_text="Кабинет 204")).to_have_count(0)
    page.get_by_label("показать архивные").check()
    expect(rows(page).filter(has_text="Кабинет 204")).to_contain_text("в архиве")

    # A teacher's account, and its one-time password shown once.
    page.get_by_role("link", name="Учётные записи").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Учётные записи")
    page.get_by_role("button", name="Добавить учётную запись").click()
    expect(dialog(page).get_by_label("Роль")).to_have_value("teacher")
    dialog(page).get_by_label("ФИО").fill("Ольга Новикова")
    dialog(page).get_by_label("Логин").fill("o.novikova")
    dialog(page).get_by_label("Школа").select_option(label="СОШ № 7")
    dialog(page).get_by_role("button", name="Создать").click()
    expect(dialog(page)).to_contain_text("Пароль показан один раз")
    expect(dialog(page).get_by_role("button", name="Копировать")).to_be_visible()
    initial_password = dialog(page).get_by_label("Временный пароль").input_value()
    assert len(initial_password) >= 12
    dialog(page).get_by_role("button", name="Готово, пароль передан").click()
    expect(dialog(page)).to_have_count(0)
    assert initial_password not in page.content()
    teacher_row = rows(page).filter(has_text="o.novikova")
    expect(teacher_row).to_contain_text("педагог")
    expect(teacher_row).to_contain_text("СОШ № 7")
    assert OTHER not in page.content()
    _teacher_signs_in_and_is_refused_the_staff_pages(base_url, initial_password)

    # The audit log: these actions, the seeded past in local time, page by page; no other municipality.
    page.get_by_role("link", name="Журнал событий").click()
    room_events = rows(page).filter(has_text="кабинет «Кабинет 204»")
    expect(room_events.filter(has_text="перенос в архив")).to_have_count(1)
    expect(room_events.filter(has_text="создание")).to_have_count(1)
    created_account = rows(page).filter(has_text="учётная запись «Ольга Новикова (o.novikova)»")
    expect(created_account).to_contain_text("создание")
    expect(created_account).to_contain_text("coord")
    expect(rows(page)).to_have_count(50)
    page.get_by_role("button", name="Показать ещё").click()
    expect(page.get_by_role("button", name="Показать ещё")).to_be_hidden()
    total = rows(page).count()
    assert total > OLD_EVENTS
    expect(rows(page).last).to_contain_text("01.09.2026, 15:00:00")
    assert "berdsk.it" not in page.content() and OTHER not in page.content()
    page.get_by_label("Действие").select_option(label="перенос в архив")
    expect(rows(page)).to_have_count(1)
    assert watched.problems == []


def _header_bar_spans_the_top(page: Page) -> None:
    """The phone screenshot shows the header bar's blue across the whole top, and only there."""
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    assert shot.size == (360, 740)
    bar_bottom = int(page.locator("header.bar").bounding_box()["height"])
    for x in range(0, 360, 4):
        assert close_to(shot.getpixel((x, 3)), HEADER_BLUE), (x, shot.getpixel((x, 3)))
    assert close_to(shot.getpixel((2, bar_bottom - 3)), HEADER_BLUE)
    assert close_to(shot.getpixel((357, bar_bottom - 3)), HEADER_BLUE)
    assert not close_to(shot.getpixel((180, bar_bottom + 6)), HEADER_BLUE)


def _teacher_signs_in_and_is_refused_the_staff_pages(base_url: str, password: str) -> None:
    teacher = WebUser(base_url)
    teacher.sign_in("o.novikova", password)
    assert teacher.get_json("/api/session")["user"]["role"] == "teacher"
    with pytest.raises(urllib.error.HTTPError) as refused:
        teacher.opener.open(base_url + "/admin/users", timeout=10)
    assert refused.value.code == 403
    assert "Этот раздел — для администраторов" in refused.value.read().decode()


def test_school_administrator_sees_only_their_schools_rooms(
    controller: tuple[str, dict[str, int]], browser: Browser
) -> None:
    base_url, ids = controller
    watched = signed_in(browser, base_url, "it7", {"width": 1280, "height": 800})
    page = watched.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Кабинеты")
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("Кабинет 101")
    expect(page.locator("#crumbs")).to_have_text("СОШ № 7")  # the top of the path is their school
    assert "Новосибирск" not in page.locator("main").inner_text()  # no municipality level above it
    expect(page.locator("#crumbs a")).to_have_count(0)  # nothing above the school to go up to

    # An address naming another school does not take them there: they stay in their own school.
    page.goto(f"{base_url}/admin/registry?school={ids['other_school']}")
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("Кабинет 101")
    assert OTHER not in page.content()
    assert watched.problems == []
