"""Incidents on the staff pages, in a real Chromium against a real controller, panel and webhook.

A panel of the school has been out of contact for an hour in school hours: the controller's monitor
opens an incident, its notifier posts it to the operator's webhook, and the school's IT administrator
sees it highlighted on the registry page. The real player then connects; the incident is resolved,
the webhook hears «resolved», and at the page's next 30-second refresh the incident reads «решено».
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from classcast.identity import ensure_identity, save_enrollment
from controller.app import create_app
from controller.ingest import server_keys
from controller.store import orgs, panels, users
from controller.timeutil import iso_from_unix

from .conftest import WebUser, read_line, serve_controller, wait_for

PASSWORD = "пароль-администратора"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.events.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def webhook() -> Iterator[ThreadingHTTPServer]:
    """The operator's webhook: an HTTP server on loopback that keeps every event it receives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.events = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _script_error(message: Any) -> bool:
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def seed(data_dir: Path, panel_dir: Path) -> None:
    """Write a school with one room, its IT administrator and a panel last heard of an hour ago."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(
            db, municipality, "Средняя школа № 7", "СОШ № 7", timezone="Asia/Novosibirsk"
        )
        return school, orgs.create_room(db, school, "101")

    school, room = svc.db.write(build)
    svc.db.write(users.create_user, "it7", PASSWORD, "Иван Админов", "school_it", "school", school)
    panel_id, token = svc.db.write(
        panels.enroll_panel, room, "Каб. 101", ensure_identity(panel_dir).public_key
    )
    an_hour_ago = iso_from_unix(time.time() - 3600)
    svc.db.write(lambda db: db["panel"].update(panel_id, {"last_seen_at": an_hour_ago}))
    save_enrollment(panel_dir, token=token, controller_key=server_keys(data_dir)[0])
    svc.db.close()


def test_school_it_sees_an_incident_open_and_then_resolved(
    tmp_path: Path, spawn: Any, browser: Browser, webhook: ThreadingHTTPServer
) -> None:
    data_dir, panel_dir = tmp_path / "controller", tmp_path / "panel"
    seed(data_dir, panel_dir)
    env = {
        # Every hour of every day is a school hour here, so the test does not depend on when it runs.
        "CLASSCAST_SCHOOL_HOURS": "00:00-24:00",
        "CLASSCAST_SCHOOL_DAYS": "1-7",
        "CLASSCAST_MONITOR_INTERVAL_S": "0.2",
        "CLASSCAST_NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{webhook.server_address[1]}/classcast",
    }
    controller = serve_controller(spawn, data_dir, env)
    events: list[dict[str, Any]] = webhook.events  # type: ignore[attr-defined]
    wait_for(lambda: events, 20, "the webhook to hear of the offline panel")
    assert [(e["event"], e["incident"]["kind"], e["panel"]["name"]) for e in events] == [
        ("opened", "offline", "Каб. 101")
    ]

    context = browser.new_context(
        viewport={"width": 390, "height": 800}, locale="ru-RU", timezone_id="Asia/Novosibirsk"
    )
    context.clock.install()  # time runs as usual, and the test may jump it forward
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # The browser's own line for a failed load (its favicon.ico) says nothing the responses do not.
    page.on("console", lambda m: problems.append(m.text) if _script_error(m) else None)
    page.goto(controller.url + "/login?next=/admin/registry")
    page.get_by_label("Логин").fill("it7")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/admin/registry")

    area = page.locator("#incidents")
    expect(area.get_by_role("heading", name="Неполадки панелей")).to_be_visible()
    open_item = area.locator("li.incident.open")
    expect(open_item).to_have_count(1)
    expect(open_item).to_contain_text("Панель «Каб. 101» не на связи")
    expect(open_item).to_contain_text("СОШ № 7 · кабинет 101 · с ")
    expect(open_item.locator(".badge")).to_have_text("не решено")
    expect(area.locator("li.incident.resolved")).to_have_count(0)

    player = spawn(
        "player", "-m", "player", "--data-dir", str(panel_dir), "--controller", controller.url,
        "--kiosk-port", "0",
    )  # fmt: skip
    read_line(player, "kiosk page: ")
    it = WebUser(controller.url)
    it.sign_in("it7", PASSWORD)
    wait_for(
        lambda: it.get_json("/api/notifications")["incidents"][0]["resolved_at"] is not None,
        20,
        "the monitor to resolve the incident once the panel is back",
    )
    wait_for(lambda: len(events) == 2, 20, "the webhook to hear the incident resolved")
    assert events[1]["event"] == "resolved" and events[1]["incident"]["resolved_at"]

    page.clock.fast_forward("00:30")  # the page reads its incidents again every 30 s
    resolved_item = area.locator("li.incident.resolved")
    expect(resolved_item).to_have_count(1)
    expect(resolved_item.locator(".badge")).to_have_text("решено")
    expect(resolved_item).to_contain_text("Панель «Каб. 101» не на связи")
    expect(area.locator("li.incident.open")).to_have_count(0)
    assert problems == []
    assert [e["event"] for e in events] == ["opened", "resolved"]  # once each, however many passes ran
    context.close()
    for proc in (player, controller.proc):
        assert proc.stop() == 0, proc.log_text()
