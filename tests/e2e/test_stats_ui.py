"""The usage statistics page in a real Chromium against a real controller over a seeded region.

`classcast-controller seed` makes a small region with ten weeks of panel use. Its regional specialist
opens «Статистика» and chooses the seeded week with the period's date fields (the address follows);
the municipalities are listed with their numbers, sort by a column (the order the API's values give,
then reversed), and lead down to a municipality's schools and a school's rooms and panels, the period
kept on the way. The weekly trend is drawn: its canvas has the line's pixels. «Скачать XLSX» gives the
report with a sheet per level and the period in its header. A municipal specialist who asks for the
other municipality's page gets the API's refusal, and nothing of that municipality.
"""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from .conftest import close_to, serve_controller, signed_in_page

ROOT = Path(__file__).resolve().parents[2]
CHART_JS = ROOT / "controller/static/vendor/chartjs/chart.umd.min.js"
PASSWORD = "пароль-для-статистики"
# The seeded data end on a Sunday, so that the last week is a whole one; the page is asked for that week.
UNTIL = date(2026, 11, 22)
START, END = "2026-11-16", "2026-11-22"
PERIOD = f"start={START}&end={END}"
TREND_INK = (0x1D, 0x35, 0x57)  # the trend line's colour (static/admin/stats_charts.js)


@pytest.fixture
def seeded(tmp_path: Path, spawn: Any) -> Iterator[tuple[str, Path]]:
    """Return the address of a controller over a seeded region, and its database."""
    assert CHART_JS.is_file(), "Chart.js is not in controller/static/vendor: run `make browser-libs`"
    data_dir = tmp_path / "controller"
    argv = ["seed", "--panels", "120", "--days", "70", "--until", UNTIL.isoformat()]
    argv += ["--password", PASSWORD, "--data-dir", str(data_dir)]
    done = subprocess.run([sys.executable, "-m", "controller", *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    controller = serve_controller(spawn, data_dir)
    yield controller.url, data_dir / "classcast.sqlite"
    assert controller.proc.stop() == 0, controller.proc.log_text()


def sign_in(browser: Browser, base_url: str, login: str) -> tuple[Page, list[str]]:
    return signed_in_page(browser, base_url, "/stats", login, PASSWORD, re.compile(r"/stats/\w+/\d+"))


def rows(page: Page, table: str = "children") -> Any:
    return page.locator(f"#{table}-table tbody tr:not(.empty)")


def names(page: Page, table: str = "children") -> list[str]:
    return [text.strip() for text in rows(page, table).locator("td.title").all_inner_texts()]


def api(page: Page) -> dict[str, Any]:
    """The API's answer for the page on screen, read with the page's own session."""
    return page.request.get(page.url.replace("/stats/", "/api/stats/", 1)).json()


def database(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return list(db.execute(sql, args))


def test_a_regional_specialist_reads_sorts_drills_down_and_downloads(
    seeded: tuple[str, Path], browser: Browser, tmp_path: Path
) -> None:
    base_url, db = seeded
    page, problems = sign_in(browser, base_url, "r99-regional")
    region_id, region = database(db, "SELECT id, name FROM region")[0]
    expect(page.get_by_role("heading", level=1)).to_have_text(region)
    assert page.url.endswith(f"/stats/region/{region_id}")
    expect(page.get_by_role("link", name="Статистика")).to_have_attribute("aria-current", "page")

    # The seeded week, chosen with the date fields: the address and the numbers follow.
    page.get_by_label("С", exact=True).fill(START)
    page.get_by_label("По", exact=True).fill(END)
    page.wait_for_url(f"**/stats/region/{region_id}?{PERIOD}")
    expect(page.locator("#period-line")).to_contain_text("Период: 16.11.2026 — 22.11.2026")

    # The municipalities, each with its numbers: panels counted, shares in percent.
    municipalities = [name for (name,) in database(db, "SELECT name FROM municipality ORDER BY name")]
    expect(page.locator("#children-title")).to_have_text("Муниципалитеты")
    expect(rows(page)).to_have_count(len(municipalities))
    assert sorted(names(page)) == sorted(municipalities)
    for row in rows(page).all():
        expect(row.locator('td[data-label="Зарегистрировано панелей"]')).to_have_text(re.compile(r"^\d+"))
        expect(row.locator('td[data-label="Используются"]')).to_have_text(re.compile(r"\d+(,\d)?\s%"))
    expect(page.locator('.stat-card[data-indicator="in_use"] .value')).to_have_text(re.compile(r"\d\s%"))

    # Sorted by panels registered: the API's values in order, then the other way round (not by name).
    by_name = names(page)
    assert by_name == sorted(municipalities, key=str.casefold)
    answer = api(page)
    by_count = sorted(answer["children"]["rows"], key=lambda row: row["values"]["registered"]["value"])
    assert [row["name"] for row in reversed(by_count)] != by_name
    sort = page.get_by_role("button", name="Зарегистрировано панелей: Сортировать по полю")
    sort.click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Зарегистрировано панелей")
    expect(rows(page).locator("td.title")).to_have_text([row["name"] for row in by_count])
    sort.click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Зарегистрировано панелей")
    expect(rows(page).locator("td.title")).to_have_text([row["name"] for row in reversed(by_count)])

    _trend_is_drawn(page)
    page.get_by_label("Показатель на графиках").select_option(label="Передают данные")
    trend_label = re.compile(r"^График по неделям: Передают данные")
    expect(page.locator("#trend-chart")).to_have_attribute("aria-label", trend_label)
    _download_xlsx(page, tmp_path, region)

    # A quick choice: the last two whole weeks, in the address; the back button brings the week back.
    page.get_by_role("button", name="Две недели").click()
    expect(page.get_by_role("button", name="Две недели")).to_have_attribute("aria-pressed", "true")
    query = parse_qs(urlsplit(page.url).query)
    first, last = (date.fromisoformat(query[name][0]) for name in ("start", "end"))
    assert first.weekday() == 0 and (last - first).days == 13
    page.go_back()
    page.wait_for_url(f"**/stats/region/{region_id}?{PERIOD}")
    expect(page.get_by_role("button", name="Две недели")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_label("С", exact=True)).to_have_value(START)

    # Down to the largest municipality, then to its first school: the period goes along.
    largest = by_count[-1]
    rows(page).first.get_by_role("link", name=largest["name"]).click()
    page.wait_for_url(f"**/stats/municipality/{largest['id']}?{PERIOD}")
    expect(page.get_by_role("heading", level=1)).to_have_text(largest["name"])
    expect(page.locator("#crumbs").get_by_role("link", name=region)).to_be_visible()
    expect(page.locator("#children-title")).to_have_text("Школы")
    expect(rows(page).first).to_be_visible()
    school = names(page)[0]
    rows(page).first.get_by_role("link", name=school).click()
    page.wait_for_url(re.compile(rf"/stats/school/\d+\?{PERIOD}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(school)

    # The school: its rooms, and its panels with the room each hangs in.
    school_id = int(re.search(r"/stats/school/(\d+)", page.url).group(1))
    rooms = database(db, "SELECT name FROM room WHERE school_id = ?", school_id)
    panels = database(
        db,
        "SELECT panel.name, room.name FROM panel JOIN room ON room.id = panel.room_id "
        "WHERE panel.school_id = ? AND panel.state = 'active'",
        school_id,
    )
    expect(page.locator("#children-title")).to_have_text("Кабинеты")
    assert set(names(page)) >= {name for (name,) in rooms}
    expect(page.locator("#panels-title")).to_have_text("Панели")
    expect(rows(page, "panels")).to_have_count(len(panels))
    for name, room in panels:
        panel_row = rows(page, "panels").filter(has=page.locator("td.title", has_text=name))
        expect(panel_row.locator('td[data-label="Кабинет"]')).to_have_text(room)
    _trend_is_drawn(page)
    assert problems == []


def _trend_is_drawn(page: Page) -> None:
    """The trend's canvas shows its line: many pixels of the line's colour, not just the axes."""
    canvas = page.locator("#trend-chart")
    expect(canvas).to_have_attribute("aria-label", re.compile(r"^График по неделям: Используются"))
    page.wait_for_function(
        "() => Chart.getChart(document.getElementById('trend-chart'))"
        "?.data.datasets[0].data.some((v) => v !== null)"
    )
    shot = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    rgb = shot.tobytes()
    line = sum(1 for i in range(0, len(rgb), 3) if close_to(rgb[i : i + 3], TREND_INK, tolerance=30))
    # Twelve weeks across the page, three pixels thick: thousands. Axes and labels are of other colours.
    assert line > 1500, f"{line} pixels of the trend line's colour"
    expect(page.locator("#trend-data tbody tr")).to_have_count(len(api(page)["trend"]["weeks"]))


def _download_xlsx(page: Page, tmp_path: Path, region: str) -> None:
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Скачать XLSX").click()
    saved = tmp_path / "stats.xlsx"
    downloading.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames == ["Регионы", "Муниципалитеты", "Школы", "Кабинеты", "Панели"]
    sheet = book["Муниципалитеты"]
    assert sheet["A1"].value == f"Статистика использования: {region}"
    assert sheet["A2"].value == "Период: 16.11.2026 — 22.11.2026"
    headings = [cell.value for cell in sheet[6]]
    assert headings[:3] == ["Название", "Регион", "Зарегистрировано панелей"]


def test_a_municipal_specialist_is_refused_another_municipality(
    seeded: tuple[str, Path], browser: Browser
) -> None:
    base_url, db = seeded
    (mine, theirs) = database(db, "SELECT id, name FROM municipality ORDER BY id")[:2]
    page, problems = sign_in(browser, base_url, "r99-m1-municipal")
    assert page.url.endswith(f"/stats/municipality/{mine[0]}")
    expect(page.get_by_role("heading", level=1)).to_have_text(mine[1])

    # The page shell is the same for every node; its data is the API's, which refuses: its message shows.
    page.goto(f"{base_url}/stats/municipality/{theirs[0]}?{PERIOD}")
    refusal = page.request.get(f"{base_url}/api/stats/municipality/{theirs[0]}?{PERIOD}")
    assert refusal.status == 404
    expect(page.get_by_role("alert")).to_contain_text(refusal.json()["message"])
    expect(page.locator("#content")).to_be_hidden()
    assert theirs[1] not in page.content()
    assert problems == []
