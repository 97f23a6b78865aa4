"""Pairing a real panel: the code on the kiosk page, approved on school IT's page, then telemetry flows.

Real processes (controller, player, agent) and real Chromium for both screens: the panel's kiosk page
shows the code and its QR code; school IT opens the approval page the way the QR code does, checks
the panel's facts and approves it into a room; the panel collects its credentials, leaves the pairing
screen, connects, and its agent's telemetry is accepted.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from classcast.identity import ensure_identity, load_identity
from controller.app import create_app
from controller.store import orgs, users

from .conftest import WebUser, read_line, serve_controller, wait_for

PASSWORD = "панели-без-лестницы"


def seed(data_dir: Path) -> int:
    """Return the id of a room of a school whose IT administrator is `it`, written to a real database."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Бердск")
        school = orgs.create_school(db, municipality, "Школа № 3", "СОШ № 3")
        return school, orgs.create_room(db, school, "Кабинет 12")

    school, room = svc.db.write(build)
    svc.db.write(users.create_user, "it", PASSWORD, "Администратор ОО", "school_it", "school", school)
    svc.db.close()
    return room


def test_a_new_panel_shows_its_code_is_approved_and_sends_telemetry(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    room = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    base_url, telemetry = controller.url, controller.telemetry
    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", base_url, "--kiosk-port", "0"
    )
    kiosk_url = read_line(player, "kiosk page: ")

    # The panel's screen: the code, the QR code of the approval page, and the facts to check.
    screen = browser.new_page(viewport={"width": 1280, "height": 720})
    screen.goto(kiosk_url)
    code = wait_for(lambda: screen.evaluate("document.body.dataset.pairing"), 20, "the pairing code")
    assert len(code) == 8
    assert screen.locator("#pair-code").text_content() == f"{code[:4]}-{code[4:]}"
    wait_for(lambda: screen.evaluate("document.getElementById('pair-qr').naturalWidth") > 0, 5, "the QR")
    fingerprint = ensure_identity(panel_dir).fingerprint
    assert screen.locator("#pair-fingerprint").text_content() == fingerprint
    assert screen.locator("#pair-controller").text_content() == base_url

    # School IT opens the address the QR code holds, signs in, checks the panel and approves it.
    staff = browser.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")  # a phone
    staff.goto(f"{base_url}/admin/pair?code={code}")
    staff.get_by_label("Логин").fill("it")
    staff.get_by_label("Пароль").fill(PASSWORD)
    staff.get_by_role("button", name="Войти").click()
    staff.wait_for_selector("#found:not([hidden])")
    assert staff.locator("#fact-fingerprint").text_content() == fingerprint
    assert staff.locator("#room option").all_text_contents() == ["Кабинет 12"]
    staff.fill("#name", "Кабинет 12, у доски")
    staff.get_by_role("button", name="Подключить", exact=True).click()
    staff.wait_for_selector("#result:not([hidden])")
    assert "Кабинет 12, у доски" in staff.locator("#result").text_content()

    # The panel collects its credentials, leaves the pairing screen and connects.
    wait_for(lambda: load_identity(panel_dir).enrolled, 20, "the panel to collect its credentials")
    wait_for(lambda: screen.evaluate("!document.body.dataset.pairing"), 10, "the pairing screen to go")
    wait_for(lambda: _get(base_url + "/healthz")["panels_connected"] == 1, 20, "the player to connect")
    agent = spawn(
        "agent", "-m", "agent", "--data-dir", str(panel_dir), "--telemetry", telemetry,
        "--heartbeat-interval", "0.5", env={"CLASSCAST_AGENT_BATCH_MAX_WAIT": "0.2"},
    )  # fmt: skip
    db_path = data_dir / "classcast.sqlite"
    wait_for(lambda: _count(db_path, "SELECT count(*) FROM telemetry_event") >= 2, 20, "telemetry")
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        panel = db.execute("SELECT state, room_id, name, serial FROM panel").fetchone()
        trail = db.execute("SELECT action, outcome, actor_login FROM audit_event ORDER BY id").fetchall()
    assert panel[:3] == ("active", room, "Кабинет 12, у доски") and panel[3]
    assert ("enroll_panel", "ok", "it") in trail
    screen.close()
    staff.close()
    for proc in (agent, player, controller.proc):
        assert proc.stop() == 0, proc.log_text()


def test_a_panel_restarted_while_waiting_keeps_its_code_and_still_collects(
    tmp_path: Path, spawn: Any
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    room = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    base_url = controller.url
    argv = ("-m", "player", "--data-dir", str(panel_dir), "--controller", base_url, "--kiosk-port", "0")
    player = spawn("player", *argv)
    pending = panel_dir / "identity" / "pairing.json"
    code = wait_for(lambda: pending.exists() and json.loads(pending.read_text())["code"], 20, "a code")
    assert pending.stat().st_mode & 0o777 == 0o600  # it holds the secret the credentials are collected with
    assert player.stop() == 0, player.log_text()

    player = spawn("player-again", *argv)
    read_line(player, "kiosk page: ")
    it = WebUser(base_url)
    it.sign_in("it", PASSWORD)
    approved = it.post_json("/api/pairings/approve", {"code": code, "room_id": room, "name": "Панель 12"})
    assert approved["state"] == "pending"
    wait_for(lambda: load_identity(panel_dir).enrolled, 20, "the restarted panel to collect its credentials")
    assert not pending.exists()
    assert player.stop() == 0, player.log_text()
    assert controller.proc.stop() == 0, controller.proc.log_text()


def test_a_panel_that_cannot_reach_the_controller_says_so_on_its_screen(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    player = spawn(
        "player", "-m", "player", "--data-dir", str(tmp_path / "panel"), "--controller", closed,
        "--kiosk-port", "0",
    )  # fmt: skip
    screen = browser.new_page()
    screen.goto(read_line(player, "kiosk page: "))
    status = screen.locator("#pair-status")
    wait_for(lambda: "Нет связи с контроллером" in (status.text_content() or ""), 20, "the offline notice")
    assert screen.locator("#pair-controller").text_content() == closed
    assert (
        screen.locator("#pair-fingerprint").text_content() == ensure_identity(tmp_path / "panel").fingerprint
    )
    screen.close()
    assert player.stop() == 0, player.log_text()


def _count(db_path: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchone()[0]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())
