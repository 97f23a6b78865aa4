"""How fast the usage statistics answer on a full region: 5,000 panels with a year of figures.

Seeds the region once with `classcast-controller seed --panels 5000 --days 365` into a data folder
(kept under var/bench/, reused by later runs with the same numbers), then times, through the app's
own request path (the Flask test client, a signed-in regional coordinator, JSON encoded):

- the region page's data (`GET /api/stats/region/<id>`, the last complete week, its municipalities,
  the previous week and the 12-week trend), and a school page's;
- the region's XLSX export (five sheets: region, municipalities, schools, rooms, panels).

Beside each, in the same run, the floor of the work: reading the same weeks' rows of `panel_week`
with one bare SQL aggregate (the pages), and XlsxWriter (the export's writer) streaming the same
number of numeric cells with nothing computed (the export). Targets (issue 8): region ≤ 200 ms,
school ≤ 50 ms, region XLSX ≤ 5 s. The last line holds the figures.

    .venv/bin/python bench/stats_bench.py [--panels 5000] [--days 365] [--repeats 15]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import xlsxwriter

from controller.app import create_app
from controller.stats.period import Period

PASSWORD = "bench-пароль-123"


def seed(data_dir: Path, panels: int, days: int) -> None:
    if (data_dir / "seeded").exists():
        return
    command = [sys.executable, "-m", "controller", "seed", "--panels", str(panels), "--days", str(days)]
    command += ["--data-dir", str(data_dir), "--password", PASSWORD, "--log-level", "WARNING"]
    subprocess.run(command, check=True)
    (data_dir / "seeded").write_text("ok\n")


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Return the median seconds of `repeats` calls of `fn` (after a warm-up call), and its last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    data_dir = Path("var/bench") / f"stats-{args.panels}x{args.days}"
    seed(data_dir, args.panels, args.days)

    app = create_app({"data_dir": str(data_dir), "secure_cookies": False, "log_level": "WARNING"})
    svc = app.extensions["classcast"]
    db = svc.db.read
    region_id, login = db.execute(
        "SELECT node_id, login FROM user WHERE role = 'regional' ORDER BY id LIMIT 1"
    ).fetchone()
    school_id = db.execute(
        "SELECT school_id FROM panel GROUP BY school_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 302, "the seeded regional account did not sign in"

    def get(url: str) -> dict:
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        return answer.json if answer.is_json else answer.data

    period = Period.last_week(date.today())
    weeks = [period.start - timedelta(days=7 * n) for n in range(12)]
    region_s, region = timed(lambda: get(f"/api/stats/region/{region_id}"), args.repeats)
    school_s, _ = timed(lambda: get(f"/api/stats/school/{school_id}"), args.repeats)
    floor_s, _ = timed(lambda: _floor_read(db, weeks + [period.previous.start]), args.repeats)
    export_s, data = timed(lambda: get(f"/api/stats/region/{region_id}/export?format=xlsx"), 3)
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = sum(len(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))
    write_floor_s, _ = timed(lambda: _floor_write(cells), 3)

    registered = region["summary"]["registered"]["value"]
    print(
        f"region {registered} panels, {len(region['children']['rows'])} municipalities, "
        f"{args.days} days; week {period.start} – {period.end}"
    )
    print(
        f"stats: region page p50 {region_s * 1000:.1f} ms (target ≤ 200), school page p50 "
        f"{school_s * 1000:.1f} ms (≤ 50), floor (bare SQL read of the weeks) {floor_s * 1000:.1f} ms, "
        f"region/floor {region_s / floor_s:.1f}; region XLSX {export_s:.2f} s (≤ 5) for {cells} cells, "
        f"floor (XlsxWriter, same cells) {write_floor_s:.2f} s, ratio {export_s / write_floor_s:.1f}"
    )
    return 0


def _floor_read(db: Any, weeks: list[date]) -> list:
    """The bare read under the region page: the weeks' rows of every panel, summed in SQL."""
    marks = ",".join("?" for _ in weeks)
    return db.execute(
        "SELECT week, sum(heartbeats > 0), sum(lessons > 0), sum(in_use_s), sum(cast_s), sum(library_s)"
        f" FROM panel_week WHERE week IN ({marks}) GROUP BY week",
        [week.isoformat() for week in weeks],
    ).fetchall()


def _floor_write(cells: int) -> bytes:
    """XlsxWriter (the export's writer) streaming the same number of numbers, nothing computed."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = book.add_worksheet("floor")
    row = [0.5] * 20
    for number in range(cells // len(row)):
        sheet.write_row(number, 0, row)
    book.close()
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
