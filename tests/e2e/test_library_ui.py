"""«Показать на моём уроке» from a phone, against real processes: a controller, the reference main
system, two rooms with a real player each and their kiosk pages.

The timetable puts the teacher's lesson now in room 101. On a phone-sized screen she sees it in the
«Расписание» strip and on the room's card, searches the library for a Russian word, and taps «На моём
уроке» on the result: the kiosk of room 101 shows the item's PDF (its pixels against our own rendering
of the item's media), and the kiosk of room 102 shows nothing of it; once the lesson's screen time
passes its norm (six seconds here), the room's remote says so. With the library stopped, the
same search says so and still finds the item, from the controller's local index.
"""

from __future__ import annotations

import io
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from PIL import Image, ImageChops
from playwright.sync_api import Browser, Page

from classcast.identity import ensure_identity, save_enrollment
from controller.app import create_app
from controller.ingest import server_keys
from controller.store import orgs, panels, users
from mainsystem.process import StandIn

from .conftest import read_line, serve_controller, signed_in_page, wait_for
from .test_end_to_end import _get

PASSWORD = "урок-по-расписанию"
TIMEZONE = "Asia/Novosibirsk"
ROOMS = ("101", "102")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SCREEN = (640, 360)  # the kiosk's size: 16:9, as the stand-in's PDF pages are
GRID = (32, 18)  # the pictures are compared as averages of 20 × 20 pixel cells
CAPTION_ROWS = 3  # the kiosk's caption (title, page) covers the bottom cells


def seed(data_dir: Path, panel_dirs: dict[str, Path]) -> None:
    """Write a school with rooms 101 and 102, an enrolled panel in each, and a teacher."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, dict[str, int]]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Бердск")
        school = orgs.create_school(db, municipality, "Школа № 5", "СОШ № 5", timezone=TIMEZONE)
        return school, {name: orgs.create_room(db, school, name) for name in ROOMS}

    school, rooms = svc.db.write(build)
    svc.db.write(users.create_user, "anna", PASSWORD, "Анна Петровна", "teacher", "school", school)
    for name, panel_dir in panel_dirs.items():
        key = ensure_identity(panel_dir).public_key
        _, token = svc.db.write(panels.enroll_panel, rooms[name], f"Панель {name}", key)
        save_enrollment(panel_dir, token=token, controller_key=server_keys(svc.data_dir)[0])
    svc.db.close()


def media(standin: StandIn, item_id: str) -> bytes:
    """Return the item's media as the library serves it (with the service token, as the controller asks)."""
    request = urllib.request.Request(
        f"{standin.library_url}/api/v1/items/{item_id}/media",
        headers={"Authorization": f"Bearer {standin.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


def first_page(pdf: bytes) -> Image.Image:
    """Return the PDF's first page rendered at the kiosk's size."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        picture = page.render(scale=SCREEN[0] / page.get_width()).to_pil().convert("RGB")
        page.close()
    finally:
        document.close()
    return picture.resize(SCREEN)


def difference(screenshot: bytes, expected: Image.Image) -> int:
    """Return the largest difference of a colour between the two pictures' cells, above the caption."""
    shot = Image.open(io.BytesIO(screenshot)).convert("RGB").resize(GRID, Image.Resampling.BOX)
    diff = ImageChops.difference(shot, expected.resize(GRID, Image.Resampling.BOX))
    diff = diff.crop((0, 0, GRID[0], GRID[1] - CAPTION_ROWS))
    return max(high for _low, high in diff.getextrema())


def kiosk(browser: Browser, player: Any) -> Page:
    screen = browser.new_page(viewport={"width": SCREEN[0], "height": SCREEN[1]})
    screen.goto(read_line(player, "kiosk page: "))
    return screen


def test_a_teacher_casts_a_library_item_to_the_room_of_her_lesson_now(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir = tmp_path / "controller"
    panel_dirs = {name: tmp_path / f"panel-{name}" for name in ROOMS}
    seed(data_dir, panel_dirs)
    token = secrets.token_urlsafe(16)
    # Anna teaches in 101 and 102 today; her lesson now is in 101.
    standin = StandIn(token, ["--port", "0", "--timezone", TIMEZONE, "--teacher", "anna=101,102",
                              "--now-lesson", "anna:101"], tmp_path / "standin.log")  # fmt: skip
    try:
        env = {
            "CLASSCAST_JOURNAL_URL": standin.journal_url,
            "CLASSCAST_LIBRARY_URL": standin.library_url,
            "CLASSCAST_MAIN_TOKEN": token,
            # The lesson now is a 5th grade's: six seconds of screen time a lesson, for the notice to come.
            "CLASSCAST_SCREEN_TIME_NORMS": "5-6:0.1/80 7-11:25/100",
        }
        controller = serve_controller(spawn, data_dir, env)
        argv = ("-m", "player", "--controller", controller.url, "--kiosk-port", "0")
        players = {n: spawn(f"player-{n}", *argv, "--data-dir", str(d)) for n, d in panel_dirs.items()}
        screens = {name: kiosk(browser, player) for name, player in players.items()}
        wait_for(lambda: _get(controller.url + "/healthz")["panels_connected"] == 2, 20, "the players")

        phone, problems = signed_in_page(
            browser, controller.url, "/", "anna", PASSWORD, controller.url + "/", **PHONE
        )
        # The timetable names room 101 for the lesson now, and its card says so.
        strip = phone.locator("#timetable")
        strip.locator(".now-lesson", has_text="кабинет 101").wait_for()
        card = phone.locator(".room-card", has=phone.get_by_role("heading", name="101", exact=True))
        card.locator(".tag.lesson-now", has_text="идёт ваш урок").wait_for()
        assert strip.get_by_role("button", name="Показать на моём уроке…").is_visible()

        # «Показать…», «Библиотека», a word: the results come as she types.
        phone.get_by_role("button", name="Показать…", exact=True).click()
        dialog = phone.get_by_role("dialog", name="Показать на экране")
        dialog.get_by_role("tab", name="Библиотека").click()
        dialog.get_by_label("Найти в библиотеке").fill("дроби")
        result = dialog.locator(".library-results li", has_text="Дроби: числитель и знаменатель")
        result.wait_for()
        assert "Математика" in result.text_content() and "PDF" in result.text_content()
        item_id = result.get_attribute("data-library-id")
        to_lesson = result.get_by_role("button", name="Показать на моём уроке")
        assert to_lesson.bounding_box()["height"] >= 44  # a thumb's target
        to_lesson.click()
        phone.get_by_text("Показано на экранах: 1.").wait_for()
        assert not dialog.is_visible()
        card.locator(".now-title", has_text="Дроби").wait_for()

        # Room 101's screen shows the item's first page; room 102's shows nothing of it.
        expected = first_page(media(standin, item_id))
        shown = screens["101"]
        # The kiosk's CSP forbids eval, which wait_for_function needs; poll with evaluate instead.
        wait_for(lambda: shown.evaluate("document.body.dataset.shown"), 15, "room 101's kiosk to show it")
        wait_for(lambda: difference(shown.screenshot(), expected) <= 24, 5, "the item's page on 101")
        other = screens["102"]
        assert other.evaluate("document.body.dataset.shown") is None
        assert difference(other.screenshot(), expected) > 60

        # Past the lesson's screen-time norm, the remote of the lesson's room says so, gently.
        notice = card.locator(".norm-notice")
        notice.filter(has_text="по СанПиН для 5–6 кл. — не больше 1 мин за урок").wait_for(timeout=30_000)
        assert notice.get_attribute("role") == "status"

        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]

        # With the library out of reach, the search says so and answers from what was seen before.
        standin.stop()
        phone.get_by_role("button", name="Показать…", exact=True).click()
        dialog.get_by_role("tab", name="Библиотека").click()
        dialog.get_by_label("Найти в библиотеке").fill("дроби")
        dialog.get_by_text("Библиотека сейчас недоступна: показаны материалы, найденные раньше.").wait_for()
        assert result.is_visible()
        dialog.get_by_role("button", name="Отмена").click()
        assert problems == []
        phone.context.close()
        for screen in screens.values():
            screen.close()
        for proc in (*players.values(), controller.proc):
            assert proc.stop() == 0, proc.log_text()
    finally:
        standin.stop()
