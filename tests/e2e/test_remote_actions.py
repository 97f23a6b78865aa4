"""School IT's remote actions on a real panel: identify, screenshot, resend state, reboot, restart the
player. Real controller and player processes; the kiosk page in a real headless Chromium whose
DevTools the player reaches on loopback, as on a panel. Only the reboot command is a stand-in (it
writes a file instead of rebooting the machine the tests run on)."""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from classcast.identity import load_identity

from .conftest import WebUser, read_line, serve_controller, wait_for
from .test_pairing import PASSWORD, _get, seed

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def kiosk_browser(tmp_path: Path) -> Iterator[Any]:
    """Start Chromium on a URL the way the kiosk unit does, with DevTools on a loopback port."""
    started: list[subprocess.Popen] = []

    def start(url: str, port: int) -> subprocess.Popen:
        argv = [
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1280,720", url,
        ]  # fmt: skip
        started.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return started[-1]

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def _kiosk_attached(kiosk_url: str) -> bool:
    try:
        with urllib.request.urlopen(kiosk_url + "healthz", timeout=2) as answer:
            return answer.read() == b"attached"
    except OSError:
        return False


def _devtools_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
            return any(target.get("type") == "page" for target in json.loads(answer.read()))
    except OSError:
        return False


def test_school_it_identifies_screenshots_resends_reboots_and_restarts_a_panel(
    tmp_path: Path, spawn: Any, kiosk_browser: Any
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    room = seed(data_dir)
    controller = serve_controller(spawn, data_dir)
    devtools, rebooted = _free_port(), tmp_path / "rebooted"
    env = {
        "CLASSCAST_PLAYER_DEVTOOLS_URL": f"http://127.0.0.1:{devtools}",
        "CLASSCAST_PLAYER_REBOOT_COMMAND": f"touch {rebooted}",
        "CLASSCAST_PLAYER_RETRY_MAX": "2",
    }
    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", controller.url,
        "--kiosk-port", str(_free_port()), env=env,
    )  # fmt: skip
    kiosk_url = read_line(player, "kiosk page: ")
    kiosk_browser(kiosk_url, devtools)
    wait_for(lambda: _devtools_ready(devtools), 30, "Chromium's DevTools")
    pending = panel_dir / "identity" / "pairing.json"
    code = wait_for(lambda: pending.exists() and json.loads(pending.read_text())["code"], 20, "a code")
    it = WebUser(controller.url)
    it.sign_in("it", PASSWORD)
    panel = it.post_json("/api/pairings/approve", {"code": code, "room_id": room, "name": "Кабинет 12"})["id"]
    wait_for(lambda: load_identity(panel_dir).enrolled, 20, "the credentials")
    wait_for(lambda: _get(controller.url + "/healthz")["panels_connected"] == 1, 20, "the player to connect")

    def act(action: str) -> dict[str, Any]:
        return it.post_json(f"/api/panels/{panel}/actions/{action}", {})

    identified = act("identify")
    assert (identified["acknowledged"], identified["outcome"]) == (True, "ok"), identified

    shot = act("screenshot")
    assert shot["outcome"] == "ok", shot
    mime, _, data = shot["image"].partition(";base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert mime == "data:image/png" and image.format == "PNG" and image.width >= 640

    resent = act("resend_state")
    assert resent["outcome"] == "ok", resent

    rebooted_answer = act("reboot")
    assert rebooted_answer["outcome"] == "ok", rebooted_answer
    wait_for(rebooted.exists, 10, "the reboot command to run")

    restarted = act("restart_player")
    assert restarted["outcome"] == "ok", restarted
    connected = "connected to the controller"
    wait_for(lambda: player.log_text().count(connected) >= 2, 30, "the restarted player to connect")
    # The kiosk page reattaches to the restarted player's page server (same port, as on a panel).
    wait_for(lambda: _kiosk_attached(kiosk_url), 30, "the kiosk page to reattach")
    assert act("identify")["outcome"] == "ok"

    actions = it.get_json(f"/api/panels/{panel}")["actions"]
    assert [a["action"] for a in actions][:6] == [
        "identify", "restart_player", "reboot", "resend_state", "screenshot", "identify",
    ]  # fmt: skip
    assert all(a["outcome"] == "ok" for a in actions)
    assert player.stop() == 0, player.log_text()
    offline = act("identify")
    assert (offline["acknowledged"], offline["outcome"]) == (False, "offline")
    assert controller.proc.stop() == 0, controller.proc.log_text()
