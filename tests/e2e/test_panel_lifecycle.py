"""A real panel's life: paired (code on its kiosk page → approved → credentials → telemetry), revoked
(cut off at once, its next batch refused and counted), back on its pairing screen with a new key, and
registered again, its undelivered telemetry delivered then. Real controller, player and agent
processes; the kiosk page in real Chromium."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from classcast.identity import load_identity

from .conftest import WebUser, read_line, serve_controller, wait_for
from .test_pairing import PASSWORD, _count, _get, seed


def _pair(screen: Any, it: WebUser, room: int, name: str, panel_dir: Path, seen: str | None = None) -> int:
    """Approve the code the kiosk page shows (a new one, not `seen`); return the panel's id."""
    code = wait_for(
        lambda: (c := screen.evaluate("document.body.dataset.pairing")) and c != seen and c,
        30,
        "a pairing code on the kiosk page",
    )
    approved = it.post_json("/api/pairings/approve", {"code": code, "room_id": room, "name": name})
    wait_for(lambda: load_identity(panel_dir).enrolled, 20, "the panel to collect its credentials")
    return approved["id"]


def test_a_revoked_panel_is_cut_off_refused_counted_and_pairs_again(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    room = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    db_path = data_dir / "classcast.sqlite"
    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", controller.url,
        "--kiosk-port", "0", env={"CLASSCAST_PLAYER_RETRY_MAX": "2"},
    )  # fmt: skip
    screen = browser.new_page(viewport={"width": 1280, "height": 720})
    screen.goto(read_line(player, "kiosk page: "))
    it = WebUser(controller.url)
    it.sign_in("it", PASSWORD)
    first = _pair(screen, it, room, "Кабинет 12", panel_dir)
    first_key = load_identity(panel_dir).public_key
    wait_for(lambda: _get(controller.url + "/healthz")["panels_connected"] == 1, 20, "the player to connect")
    agent = spawn(
        "agent", "-m", "agent", "--data-dir", str(panel_dir), "--telemetry", controller.telemetry,
        "--heartbeat-interval", "0.3", env={"CLASSCAST_AGENT_BATCH_MAX_WAIT": "0.1"},
    )  # fmt: skip
    events = "SELECT count(*) FROM telemetry_event WHERE panel_id = %d"
    wait_for(lambda: _count(db_path, events % first) >= 2, 20, "telemetry accepted")

    revoked = it.post_json(f"/api/panels/{first}/revoke", {})

    # Cut off during the request: no live connection is left when the answer arrives.
    assert revoked == {"id": first, "state": "revoked"}
    assert _get(controller.url + "/healthz")["panels_connected"] == 0
    stored_at_revocation = _count(db_path, events % first)
    refused = "SELECT coalesce(sum(attempts), 0) FROM contact_attempt WHERE panel_id = %d AND channel = '%s'"
    wait_for(lambda: _count(db_path, refused % (first, "telemetry")) >= 1, 10, "the next batch refused")
    assert _count(db_path, events % first) == stored_at_revocation  # nothing after the revocation counts

    # The device goes back to pairing with a new key, and is registered again as a new panel.
    second = _pair(screen, it, room, "Кабинет 12", panel_dir)
    assert second != first and load_identity(panel_dir).public_key != first_key
    wait_for(lambda: _count(db_path, events % second) >= 2, 30, "telemetry from the re-registered panel")
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        states = dict(db.execute("SELECT id, state FROM panel").fetchall())
        trail = db.execute("SELECT action, outcome FROM audit_event ORDER BY id").fetchall()
    assert states == {first: "revoked", second: "active"}
    assert ("revoke_panel", "ok") in trail
    assert _count(db_path, refused % (first, "socketio")) + _count(db_path, refused % (first, "http")) >= 1
    screen.close()
    for proc in (agent, player, controller.proc):
        assert proc.stop() == 0, proc.log_text()


def test_a_cloned_panel_is_refused_and_flagged_while_the_original_stays(tmp_path: Path, spawn: Any) -> None:
    data_dir, panel_dir, clone_dir = tmp_path / "controller", tmp_path / "panel", tmp_path / "clone"
    room = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    db_path = data_dir / "classcast.sqlite"
    argv = ("-m", "player", "--controller", controller.url, "--kiosk-port", "0")
    player = spawn("player", *argv, "--data-dir", str(panel_dir))
    pending = panel_dir / "identity" / "pairing.json"
    code = wait_for(lambda: pending.exists() and json.loads(pending.read_text())["code"], 20, "a code")
    it = WebUser(controller.url)
    it.sign_in("it", PASSWORD)
    panel = it.post_json("/api/pairings/approve", {"code": code, "room_id": room, "name": "Кабинет 12"})["id"]
    wait_for(lambda: _get(controller.url + "/healthz")["panels_connected"] == 1, 20, "the player to connect")

    # The SD card imaged after pairing: a second device with the same credentials.
    shutil.copytree(panel_dir / "identity", clone_dir / "identity")
    clone = spawn("clone", *argv, "--data-dir", str(clone_dir))

    flagged = "SELECT count(*) FROM incident WHERE panel_id = %d AND kind = 'clone' AND resolved_at IS NULL"
    wait_for(lambda: _count(db_path, flagged % panel) == 1, 30, "the clone to be flagged")
    assert _count(db_path, "SELECT count(*) FROM panel WHERE clone_seen_at IS NOT NULL") == 1
    assert _get(controller.url + "/healthz")["panels_connected"] == 1
    assert load_identity(clone_dir).enrolled  # a refused duplicate keeps its credentials: the token is valid
    # Refused with a valid token: a duplicate (on a loaded machine the two may swap who came first).
    # The refused one logs it once it has asked /api/panel/v1/self, a moment after the controller flagged it.
    refused = "refused, though /api/panel/v1/self answers 200"
    wait_for(lambda: any(refused in proc.log_text() for proc in (clone, player)), 20, "the refusal logged")
    for proc in (clone, player, controller.proc):
        assert proc.stop() == 0, proc.log_text()
