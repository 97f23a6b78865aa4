"""A panel follows its room's schedule while the controller is dead, and catches up when it is back.

All real processes: the controller, the player, the agent, and the kiosk page in Chromium. School IT
uploads the room's schedule (two images, two seconds each, always on); the page shows them in turn.
The controller is killed (SIGKILL: no goodbye). For the test's duration the panel goes on alternating
the images, checked on screenshots' pixels, and the page never shows its idle look. The controller
is started again on the same ports: the panel reconnects, the usage events of the offline time reach
the database, and a new schedule uploaded then reaches the screen. An observer inside the page records
every moment the idle look shows or the item on screen is cleared: there is none from the first
scheduled item to the end, the reconnection included.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page

from classcast.identity import ensure_identity, save_enrollment
from controller.app import create_app
from controller.store import content, orgs, users

from .conftest import (
    Controller,
    WebUser,
    centre_pixel,
    close_to,
    read_line,
    serve_controller,
    solid_png,
    wait_for,
)

PASSWORD = "пароль-администратора"
GREEN, BLUE, RED = (0, 200, 0), (0, 0, 220), (220, 0, 0)
OFFLINE_S = 12.0  # how long the controller stays dead: several turns of the two-image loop
# Marks every moment the page shows its idle look or has no item on screen, once an item was shown.
OBSERVER = """
(() => {
  window.gaps = [];
  const idle = document.getElementById("idle");
  const look = () => {
    const shown = document.body.dataset.shown;
    if (window.seenItem && (!idle.hidden || !shown)) {
      window.gaps.push({at: Date.now(), shown, idle: !idle.hidden});
    }
    if (shown) window.seenItem = true;
  };
  new MutationObserver(look).observe(document.body, {attributes: true, subtree: true, childList: true});
  look();
})()
"""


def schedule(*items: dict[str, Any]) -> str:
    """Return a schedule file (JSON is YAML) playing `items` in a loop, always, the screen always on."""
    document = {
        "version": 1,
        "title": "Кабинет без трансляции",
        "playlists": [{"name": "заставка", "duration": 2, "items": list(items)}],
        "rules": [{"playlist": "заставка"}],
    }
    return json.dumps(document, ensure_ascii=False)


def seed(data_dir: Path) -> dict[str, Any]:
    """Return the ids of a school with one room, its IT administrator and three images as materials."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "66", "Свердловская область")
        municipality = orgs.create_municipality(db, region, "город Екатеринбург")
        school = orgs.create_school(db, municipality, "Школа № 12", "СОШ № 12")
        return school, orgs.create_room(db, school, "Кабинет 12")

    school, room = svc.db.write(build)
    svc.db.write(users.create_user, "it", PASSWORD, "Администратор", "school_it", "school", school)
    ids = {
        name: content.add_content(svc.db, svc.content, solid_png(rgb, (640, 360)), name, school)["id"]
        for name, rgb in (("зелёный", GREEN), ("синий", BLUE), ("красный", RED))
    }
    svc.db.close()
    return {"room": room, "materials": ids}


def upload(user: WebUser, room: int, text: str) -> dict[str, Any]:
    """Upload `text` as the room's schedule, as the page does: a multipart PUT with the CSRF token."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="кабинет.yaml"\r\n'
        f"Content-Type: application/x-yaml\r\n\r\n{text}\r\n--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        user.base_url + f"/api/rooms/{room}/schedule",
        data=body,
        method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRF-Token": user.csrf},
    )
    with user.opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def colour_now(screen: Page) -> tuple[int, int, int] | None:
    """Return which of the three images is on screen now (by the centre pixel), or None."""
    pixel = centre_pixel(screen.screenshot())
    return next((rgb for rgb in (GREEN, BLUE, RED) if close_to(pixel, rgb, tolerance=30)), None)


def watch(screen: Page, seconds: float) -> list[tuple[int, int, int] | None]:
    """Return the colours seen on screenshots over `seconds`, each change once."""
    seen: list[tuple[int, int, int] | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        colour = colour_now(screen)
        if not seen or seen[-1] != colour:
            seen.append(colour)
        time.sleep(0.1)
    return seen


def offline_shown(db_path: Path, since: float, until: float) -> int:
    """Return how many `shown` events of the schedule ended while the controller was dead."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT data FROM telemetry_event WHERE type = 'shown' AND wall_time BETWEEN ? AND ?",
            [since, until],
        ).fetchall()
    return sum(1 for (data,) in rows if json.loads(data).get("source") == "schedule")


def restart(spawn: Any, data_dir: Path, dead: Controller) -> Controller:
    """Start the controller again over the same data, on the same web port and telemetry endpoint."""
    port = str(urlsplit(dead.url).port)
    proc = spawn(
        "controller-again", "-m", "controller", "serve", "--data-dir", str(data_dir), "--port", port,
        "--telemetry-bind", dead.telemetry, env={"CLASSCAST_SECURE_COOKIES": "false"},
    )  # fmt: skip
    return Controller(proc, read_line(proc, "ClassCast controller: "), read_line(proc, "telemetry: "))


def connected(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
            return json.loads(response.read())["panels_connected"]
    except OSError:
        return 0


def test_a_panel_plays_its_schedule_with_the_controller_dead_and_catches_up_when_it_is_back(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    world = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    identity = ensure_identity(panel_dir)
    enrol = spawn(
        "enrol", "-m", "controller", "enroll-panel", "--data-dir", str(data_dir),
        "--room-id", str(world["room"]), "--name", "Панель 12", f"--public-key={identity.public_key}",
    )  # fmt: skip
    assert enrol.popen.wait(30) == 0, enrol.log_text()
    credentials = json.loads(enrol.popen.stdout.read())
    save_enrollment(panel_dir, token=credentials["token"], controller_key=credentials["controller_key"])
    quick = {
        "CLASSCAST_PLAYER_RETRY_MIN": "0.2",
        "CLASSCAST_PLAYER_RETRY_MAX": "1",
        "CLASSCAST_PLAYER_SCREEN_POWER": "noop",
        "CLASSCAST_PLAYER_BROWSER_CHECK_INTERVAL": "0",  # the test's browser is not the player's own
    }
    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", controller.url,
        "--kiosk-port", "0",
        env=quick,
    )  # fmt: skip
    kiosk_url = read_line(player, "kiosk page: ")
    agent = spawn(
        "agent", "-m", "agent", "--data-dir", str(panel_dir), "--telemetry", controller.telemetry,
        env={"CLASSCAST_AGENT_BATCH_MAX_WAIT": "0.2"},
    )  # fmt: skip
    screen = browser.new_page(viewport={"width": 640, "height": 360})
    screen.goto(kiosk_url)
    screen.evaluate(OBSERVER)
    wait_for(lambda: connected(controller.url) == 1, 20, "the player to connect")

    it = WebUser(controller.url)
    it.sign_in("it", PASSWORD)
    green, blue, red = (world["materials"][name] for name in ("зелёный", "синий", "красный"))
    answer = upload(it, world["room"], schedule({"material": green}, {"material": blue}))
    assert answer["schedule"]["panels"] == 1
    wait_for(lambda: colour_now(screen) in (GREEN, BLUE), 20, "the schedule's first image")

    controller.proc.popen.kill()  # no goodbye: the panel finds out by itself
    controller.proc.popen.wait(10)
    died = time.time()
    offline = watch(screen, OFFLINE_S)
    back_at = time.time()

    assert None not in offline, f"something else than the schedule's images was on screen: {offline}"
    assert len(offline) >= 4, f"the images did not alternate while the controller was dead: {offline}"
    assert all(a != b for a, b in zip(offline, offline[1:], strict=False))

    again = restart(spawn, data_dir, controller)
    wait_for(lambda: connected(again.url) == 1, 30, "the player to reconnect")
    wait_for(
        lambda: offline_shown(data_dir / "classcast.sqlite", died, back_at) >= 3,
        30,
        "the usage events of the offline time to reach the controller",
    )
    it = WebUser(again.url)
    it.sign_in("it", PASSWORD)
    upload(it, world["room"], schedule({"material": red}))  # caught up: the panel follows the new one
    wait_for(lambda: colour_now(screen) == RED, 20, "the new schedule on screen")

    assert screen.evaluate("window.gaps") == [], "the idle look showed between scheduled items"
    screen.close()
    for proc in (agent, player, again.proc):
        assert proc.stop() == 0, proc.log_text()
