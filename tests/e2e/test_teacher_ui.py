"""The teacher's page on a phone, against real processes: a controller, a player and its kiosk page.

A teacher signs in on a phone-sized screen, uploads a two-page PDF from the «Показать» dialog and casts
it to the room; pages to page 2 with the remote; the kiosk page's pixels turn from page 1's colour to
page 2's. A second page of the same teacher (another browser context) follows the room live over
Socket.IO, and a title made of markup is shown as text on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from classcast.identity import ensure_identity, save_enrollment
from controller.app import create_app
from controller.ingest import server_keys
from controller.store import orgs, panels, users
from tests.pdfs import solid_pdf

from .conftest import centre_pixel, close_to, read_line, serve_controller, signed_in_page, wait_for
from .test_end_to_end import _get

PASSWORD = "листаем-с-телефона"
RED, BLUE = (200, 30, 30), (30, 60, 200)  # the PDF's page 1 and page 2
MARKUP = '<b>x</b><img src=x onerror="window.__xss = 1">'
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def seed(data_dir: Path, panel_dir: Path) -> None:
    """Write a school with one room and its enrolled panel, and a teacher, to a real database."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(db, municipality, "Школа № 5", "СОШ № 5")
        return school, orgs.create_room(db, school, "Кабинет 5")

    school, room = svc.db.write(build)
    svc.db.write(users.create_user, "teacher", PASSWORD, "Анна Петровна", "teacher", "school", school)
    key = ensure_identity(panel_dir).public_key
    _, token = svc.db.write(panels.enroll_panel, room, "Панель у доски", key)
    save_enrollment(panel_dir, token=token, controller_key=server_keys(svc.data_dir)[0])
    svc.db.close()


def room_card(page: Page) -> Any:
    return page.locator(".room-card", has_text="Кабинет 5")


def test_a_teacher_casts_a_pdf_from_a_phone_and_pages_it_on_the_screen(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    seed(data_dir, panel_dir)
    controller = serve_controller(spawn, data_dir)
    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", controller.url,
        "--kiosk-port", "0",
    )  # fmt: skip
    screen = browser.new_page(viewport={"width": 640, "height": 360})
    screen.goto(read_line(player, "kiosk page: "))
    wait_for(lambda: _get(controller.url + "/healthz")["panels_connected"] == 1, 20, "the player")

    phone, phone_problems = signed_in_page(
        browser, controller.url, "/", "teacher", PASSWORD, controller.url + "/", **PHONE
    )
    card = room_card(phone)
    card.locator(".screen", has_text="Панель у доски").wait_for()

    # Two taps: «Показать» on the room's card, then the file to upload and show.
    card.get_by_role("button", name="Показать: Кабинет 5").click()
    dialog = phone.get_by_role("dialog", name="Показать на экране")
    assert dialog.get_by_role("checkbox", name="Кабинет 5").is_checked()
    dialog.get_by_role("tab", name="Файл").click()
    dialog.get_by_label("Файл для загрузки").set_input_files(
        {"name": "урок.pdf", "mimeType": "application/pdf", "buffer": solid_pdf([RED, BLUE])}
    )
    dialog.get_by_label("Название", exact=True).fill(MARKUP)
    dialog.get_by_role("button", name="Загрузить и показать").click()
    phone.get_by_text("Показано на экранах: 1.").wait_for()
    assert not dialog.is_visible()

    # The kiosk's CSP forbids eval, which wait_for_function needs; poll with evaluate instead.
    wait_for(lambda: screen.evaluate("document.body.dataset.shown"), 10, "the kiosk to show the PDF")
    assert close_to(centre_pixel(screen.screenshot()), RED)
    assert card.locator(".now-details").text_content() == "PDF · стр. 1 из 2"
    assert card.locator(".screen-status").text_content().startswith("показано в ")

    # The same teacher's page on another device follows the room without being reloaded.
    desk, desk_problems = signed_in_page(
        browser, controller.url, "/", "teacher", PASSWORD, controller.url + "/"
    )
    desk_card = room_card(desk)
    desk_card.locator(".now-details", has_text="стр. 1 из 2").wait_for()

    next_page = card.get_by_role("button", name="Вперёд, следующая страница")
    assert next_page.bounding_box()["height"] >= 44  # a thumb's target
    next_page.click()
    wait_for(lambda: screen.evaluate("document.body.dataset.page") == "1", 10, "the kiosk to turn")
    wait_for(lambda: close_to(centre_pixel(screen.screenshot()), BLUE), 5, "page 2 on the screen")
    card.locator(".now-details", has_text="стр. 2 из 2").wait_for()
    desk_card.locator(".now-details", has_text="стр. 2 из 2").wait_for()
    assert desk_card.get_by_label("Страница", exact=True).input_value() == "1"
    assert next_page.is_disabled()  # the last page

    # A title made of markup reads as text, on both pages; nothing of it ran or was built.
    for page, shown in ((phone, card), (desk, desk_card)):
        assert shown.locator(".now-title").text_content() == f"«{MARKUP}»"
        assert shown.locator("img, b").count() == 0
        assert page.evaluate("window.__xss") is None
    # One column on the phone: nothing wider than its screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    assert phone_problems == [] and desk_problems == []
    for page in (phone, desk):
        page.context.close()
    screen.close()
    for proc in (player, controller.proc):
        assert proc.stop() == 0, proc.log_text()
