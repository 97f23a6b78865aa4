"""The whole chain as real processes: controller, player, agent, and the kiosk page in Chromium.

A teacher signs in over HTTP and casts an image; the panel's kiosk page shows it (checked on the
screenshot's pixels) and the cast comes back acknowledged; the agent's heartbeat lands in the database.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from classcast.identity import ensure_identity, save_enrollment
from controller.app import create_app
from controller.store import content, orgs, users

from .conftest import WebUser, centre_pixel, close_to, read_line, serve_controller, solid_png, wait_for

ORANGE = (255, 140, 0)
PASSWORD = "урок-начинается"


def seed(data_dir: Path) -> dict[str, Any]:
    """Return the ids of a school with one room, a teacher and one image, written to a real database file."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(db, municipality, "Школа № 7", "СОШ № 7")
        return school, orgs.create_room(db, school, "Кабинет 7")

    school, room = svc.db.write(build)
    svc.db.write(users.create_user, "teacher", PASSWORD, "Учитель", "teacher", "school", school)
    image = content.add_content(svc.db, svc.content, solid_png(ORANGE), "Оранжевый слайд", school)
    svc.db.close()
    return {"room": room, "sha256": image["sha256"]}


def heartbeats(db_path: Path) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM telemetry_event WHERE type = 'heartbeat'").fetchone()[0]


def test_cast_reaches_the_screen_and_telemetry_reaches_the_database(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    world = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    base_url, telemetry = controller.url, controller.telemetry

    # School IT enrols the panel (pairing on the screen comes with the panels issue).
    identity = ensure_identity(panel_dir)
    # --public-key=…: a Z85 key may begin with "-", which argparse would take for an option
    enrol = spawn(
        "enrol", "-m", "controller", "enroll-panel", "--data-dir", str(data_dir),
        "--room-id", str(world["room"]), "--name", "Панель 7", f"--public-key={identity.public_key}",
    )  # fmt: skip
    assert enrol.popen.wait(30) == 0, enrol.log_text()
    credentials = json.loads(enrol.popen.stdout.read())
    save_enrollment(panel_dir, token=credentials["token"], controller_key=credentials["controller_key"])

    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", base_url, "--kiosk-port", "0"
    )
    kiosk_url = read_line(player, "kiosk page: ")
    agent = spawn(
        "agent", "-m", "agent", "--data-dir", str(panel_dir), "--telemetry", telemetry,
        "--heartbeat-interval", "0.5", env={"CLASSCAST_AGENT_BATCH_MAX_WAIT": "0.2"},
    )  # fmt: skip
    screen = browser.new_page(viewport={"width": 640, "height": 360})
    screen.goto(kiosk_url)
    wait_for(lambda: _get(base_url + "/healthz")["panels_connected"] == 1, 20, "the player to connect")

    teacher = WebUser(base_url)
    teacher.sign_in("teacher", PASSWORD)
    started = time.monotonic()
    [answer] = teacher.post_json("/api/casts", {"room_id": world["room"], "content": world["sha256"]})[
        "casts"
    ]
    took = time.monotonic() - started
    assert answer["ok"] is True, answer
    assert abs(answer["shown_at"] - time.time()) < 30
    assert took < 10

    # The kiosk's CSP forbids eval, which wait_for_function needs; poll with evaluate instead.
    wait_for(lambda: screen.evaluate("document.body.dataset.shown"), 5, "the kiosk page to show the item")
    assert close_to(centre_pixel(screen.screenshot()), ORANGE)
    assert screen.locator("#caption").text_content() == "Оранжевый слайд"
    assert teacher.get_json(f"/api/casts/{answer['cast_id']}")["status"] == "shown"

    wait_for(lambda: heartbeats(data_dir / "classcast.sqlite") >= 2, 20, "the agent's heartbeats")
    with sqlite3.connect(f"file:{data_dir / 'classcast.sqlite'}?mode=ro", uri=True) as db:
        trail = db.execute("SELECT action, object_kind, actor_login FROM audit_event ORDER BY id").fetchall()
    assert trail == [("enroll_panel", "panel", "cli"), ("sign_in", "user", "teacher")]
    screen.close()
    for proc in (agent, player, controller.proc):
        assert proc.stop() == 0, proc.log_text()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())
