"""Single sign-on end to end: the OpenID Connect provider and the controller as real processes, and a
teacher in headless Chromium who clicks «Войти через ЕСИА» on the login page and lands signed in; the
controller then reads the main system's journal (the reference stand-in) with her own SSO token.
"""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from controller.app import create_app
from controller.store import orgs, users
from mainsystem.process import StandIn

from .conftest import read_line, wait_for

PROVIDER_SCRIPT = Path(__file__).resolve().parent.parent / "oidc_provider.py"
ANNA = {"login": "anna", "full_name": "Анна Петрова", "email": "Anna.Petrova@School54.ru", "role": "teacher"}


def seed(data_dir: Path) -> int:
    """Return the id of Anna's account (single sign-on only: no password), written to a real database file."""
    app = create_app({"data_dir": str(data_dir)})
    svc = app.extensions["classcast"]

    def build(db: Any) -> int:
        region = orgs.create_region(db, "54", "Новосибирская область")
        school = orgs.create_school(
            db, orgs.create_municipality(db, region, "Новосибирск"), "Школа № 54", "СОШ 54"
        )
        return users.create_account(db, {**ANNA, "node_type": "school", "node_id": school}, None)["id"]

    anna = svc.db.write(build)
    svc.db.close()
    return anna


def test_a_teacher_signs_in_through_esia_in_a_real_browser(
    tmp_path: Path, spawn: Any, browser: Browser
) -> None:
    data_dir, users_file = tmp_path / "controller", tmp_path / "people.json"
    person = {"sub": "esia-anna", "email": "anna.petrova@school54.ru", "email_verified": True, "name": "Анна"}
    users_file.write_text(json.dumps([person], ensure_ascii=False), encoding="utf-8")
    anna = seed(data_dir)
    provider = spawn("provider", str(PROVIDER_SCRIPT), "--port", "0", "--users", str(users_file))
    issuer = "http://" + read_line(provider, "http://")
    # The main system accepts the tokens the single sign-on gave (it asks the provider's userinfo).
    main_args = ["--port", "0", "--teacher", "esia-anna=101", "--userinfo", issuer + "/userinfo"]
    main = StandIn("service-token-unused", main_args, tmp_path / "main.log")
    controller = spawn(
        "controller", "-m", "controller", "serve", "--data-dir", str(data_dir), "--port", "0",
        "--telemetry-bind", "tcp://127.0.0.1:*",
        env={
            "CLASSCAST_SECURE_COOKIES": "false",
            "CLASSCAST_OIDC_ISSUER": issuer,
            "CLASSCAST_OIDC_CLIENT_ID": "classcast",
            "CLASSCAST_OIDC_CLIENT_SECRET": "classcast-test-secret",
            "CLASSCAST_JOURNAL_URL": main.journal_url,
            "CLASSCAST_LIBRARY_URL": main.library_url,
            "CLASSCAST_MAIN_CREDENTIALS": "user",
        },
    )  # fmt: skip
    base_url = read_line(controller, "ClassCast controller: ")

    page = browser.new_page(locale="ru-RU")  # a Russian browser: the page comes in Russian
    page.set_default_timeout(10_000)
    page.goto(base_url + "/login")
    page.get_by_role("link", name="Войти через ЕСИА").click()
    page.wait_for_url(re.compile(re.escape(issuer + "/authorize")))  # the provider's login screen
    page.get_by_label("Логин").fill(person["email"])
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(base_url + "/")
    expect(page.locator(".who")).to_have_text(ANNA["full_name"])
    # Her page asks for today's timetable: the journal is read with her token, never a service one.
    timetable = "/journal/api/v1/teachers/esia-anna/timetable"
    asked = wait_for(lambda: [r for r in _main_requests(main) if r["path"] == timetable], 20, "the journal")
    assert {(r["auth"], r["subject"]) for r in asked} == {("user", "esia-anna")}
    assert all(r["auth"] == "user" for r in _main_requests(main))
    page.close()
    main.stop()

    for proc in (controller, provider):
        assert proc.stop() == 0, proc.log_text()
    with closing(sqlite3.connect(f"file:{data_dir / 'classcast.sqlite'}?mode=ro", uri=True)) as db:
        assert db.execute("SELECT oidc_subject FROM user WHERE id = ?", [anna]).fetchone() == (
            f"{issuer}|esia-anna",
        )
        events = db.execute(
            "SELECT action, outcome, actor_login, detail FROM audit_event ORDER BY id"
        ).fetchall()
    assert events[:2] == [
        ("update", "ok", "anna", json.dumps({"linked": "oidc", "by_claim": "email"})),
        ("sign_in", "ok", "anna", json.dumps({"method": "oidc"})),
    ]
    assert {(action, outcome, login) for action, outcome, login, _ in events[2:]} == {("proxy", "ok", "anna")}


def _main_requests(main: StandIn) -> list[dict[str, Any]]:
    with urllib.request.urlopen(main.url + "/_stand-in/requests", timeout=10) as answer:
        return json.loads(answer.read())["requests"]
