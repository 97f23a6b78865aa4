"""Sessions, throttling, cookies and the audit log: each kind of significant event is recorded."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from controller import housekeeping
from controller.app import Services, create_app
from controller.store import audit, throttle, users

from .conftest import PASSWORD, World, csrf_of, sign_in


def events(svc: Services, **where: Any) -> list[dict[str, Any]]:
    clause = " AND ".join(f"{k} = ?" for k in where) or "1 = 1"
    return list(
        svc.db.read.query(f"SELECT * FROM audit_event WHERE {clause} ORDER BY id", list(where.values()))
    )


def api(client: FlaskClient, csrf: str, method: str, url: str, body: dict | None = None) -> Any:
    response = client.open(url, method=method, json=body or {}, headers={"X-CSRF-Token": csrf})
    response.close()
    return response


@pytest.fixture
def staff(svc: Services, world: World) -> World:
    """Add a school coordinator of school A and a municipal coordinator above both schools."""
    municipality = svc.db.read["school"].get(world.school_a)["municipality_id"]
    svc.db.write(users.create_user, "it_a", PASSWORD, "Координатор А", "school_it", "school", world.school_a)
    svc.db.write(users.create_user, "mun", PASSWORD, "МОУО", "municipal", "municipality", municipality)
    return world


def test_sign_in_and_out_are_audited_and_sign_out_ends_the_session_on_the_server(
    client: FlaskClient, svc: Services, world: World
) -> None:
    csrf = sign_in(client, "teacher_a")
    stolen = client.get_cookie("classcast_session").value  # a copy of the cookie, as a thief would keep
    assert client.get("/api/session").status_code == 200
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/api/session").status_code == 401
    thief = client.application.test_client()
    thief.set_cookie("classcast_session", stolen)
    assert thief.get("/api/session").status_code == 401  # the server forgot the session
    assert [e["action"] for e in events(svc, actor_login="teacher_a")] == ["sign_in", "sign_out"]
    assert svc.db.read["session"].count == 0


def test_a_failed_sign_in_is_audited_without_the_password(
    client: FlaskClient, svc: Services, world: World
) -> None:
    token = csrf_of(client)
    client.post("/login", data={"login": "teacher_a", "password": "секрет-123", "csrf_token": token})
    [event] = events(svc, action="sign_in_failed")
    assert event["outcome"] == "failed" and event["actor_login"] == "teacher_a" and event["ip"] == "127.0.0.1"
    dump = "\n".join(str(row) for row in svc.db.read.query("SELECT * FROM audit_event"))
    assert "секрет-123" not in dump


def test_an_account_without_a_password_is_refused_like_a_wrong_password(
    client: FlaskClient, svc: Services, world: World
) -> None:
    svc.db.write(lambda db: db.execute("UPDATE user SET password_hash = NULL WHERE login = 'teacher_a'"))
    for password in ("", "classcast-no-such-user"):  # the dummy hash's own password opens nothing
        answer = client.post(
            "/login", data={"login": "teacher_a", "password": password, "csrf_token": csrf_of(client)}
        )
        assert answer.status_code == 401 and client.get("/api/session").status_code == 401
    assert len(events(svc, action="sign_in_failed")) == 2


def test_repeated_failures_lock_the_login_with_a_generic_answer(
    client: FlaskClient, svc: Services, world: World
) -> None:
    token = csrf_of(client)
    for _ in range(throttle.LIMITS["login"]):
        client.post("/login", data={"login": "teacher_a", "password": "wrong", "csrf_token": token})
    right = client.post("/login", data={"login": "teacher_a", "password": PASSWORD, "csrf_token": token})
    assert right.status_code == 429
    assert "Слишком много попыток входа" in right.get_data(as_text=True)
    ghost = client.post("/login", data={"login": "no-such-user", "password": "x", "csrf_token": token})
    assert ghost.status_code == 401  # an unknown login is counted the same way, and says nothing more
    reasons = [e["detail"] for e in events(svc, action="sign_in_failed")]
    assert reasons[-2] == '{"reason": "throttled"}'


def test_the_session_cookie_is_httponly_samesite_and_secure_by_default(tmp_path: Any, world: World) -> None:
    app = create_app({"data_dir": str(tmp_path / "secure")})
    try:
        client = app.test_client()
        response = client.get("/login")
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    finally:
        app.extensions["classcast"].db.close()


def test_signing_in_replaces_the_session_it_came_with(client: FlaskClient, world: World) -> None:
    csrf_of(client)
    before = client.get_cookie("classcast_session").value
    sign_in(client, "teacher_a")
    assert client.get_cookie("classcast_session").value != before


def test_registry_and_account_changes_are_audited_with_their_place(
    client: FlaskClient, svc: Services, staff: World
) -> None:
    csrf = sign_in(client, "mun")
    school = api(
        client, csrf, "POST", "/api/schools", {"municipality_id": 1, "name": "Лицей", "short_name": "Л"}
    )
    assert school.status_code == 201, school.json
    school_id = school.json["id"]
    api(client, csrf, "PATCH", f"/api/schools/{school_id}", {"address": "ул. Ленина, 1"})
    api(client, csrf, "POST", f"/api/schools/{school_id}/archive")
    body = {
        "login": "new_t",
        "full_name": "Новый",
        "role": "teacher",
        "node_id": staff.school_a,
        "password": "x" * 12,
    }
    account = api(client, csrf, "POST", "/api/users", body)
    assert account.status_code == 201, account.json
    api(client, csrf, "PATCH", f"/api/users/{account.json['id']}", {"full_name": "Новая фамилия"})
    api(client, csrf, "POST", f"/api/users/{account.json['id']}/archive")
    trail = [(e["action"], e["object_kind"]) for e in events(svc, actor_login="mun")]
    assert trail == [
        ("sign_in", "user"),
        ("create", "school"),
        ("update", "school"),
        ("archive", "school"),
        ("create", "user"),
        ("update", "user"),
        ("archive", "user"),
    ]
    created = events(svc, action="create", object_kind="user")[0]
    assert "password" not in created["detail"] and created["school_id"] == staff.school_a


def test_authorization_failures_are_audited(client: FlaskClient, svc: Services, staff: World) -> None:
    csrf = sign_in(client, "it_a")
    assert api(client, csrf, "GET", f"/api/rooms/{staff.room_b}").status_code == 404
    assert api(client, csrf, "POST", "/api/schools", {"municipality_id": 1, "name": "x"}).status_code == 403
    denied = events(svc, action="denied")
    assert [(e["object_kind"], e["outcome"]) for e in denied] == [("room", "denied"), ("school", "denied")]
    assert '"status": 404' in denied[0]["detail"] and '"status": 403' in denied[1]["detail"]


def test_each_subtree_reads_only_its_own_part_of_the_log(
    client: FlaskClient, svc: Services, staff: World
) -> None:
    for login in ("teacher_a", "teacher_b"):
        other = client.application.test_client()
        sign_in(other, login)
    csrf = sign_in(client, "it_a")
    seen = {e["actor_login"] for e in api(client, csrf, "GET", "/api/audit?action=sign_in").json["events"]}
    assert seen == {"teacher_a", "it_a"}  # school B's teacher signed in elsewhere
    client.post("/logout", data={"csrf_token": csrf})
    csrf = sign_in(client, "mun")
    seen = {e["actor_login"] for e in api(client, csrf, "GET", "/api/audit?action=sign_in").json["events"]}
    assert seen == {"teacher_a", "teacher_b", "it_a", "mun"}
    assert api(client, csrf, "GET", "/api/audit?object_id=x").status_code == 400


def test_the_log_is_append_only_and_kept_for_the_retention_set(svc: Services, world: World) -> None:
    svc.db.write(audit.record, audit.Actor(None, "cli", "operator", None), "create", "ok", "room", 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        svc.db.write(lambda db: db.execute("UPDATE audit_event SET outcome = 'denied'"))
    old = time.time() - 400 * 86400
    svc.db.write(
        lambda db: db.execute(
            "INSERT INTO audit_event (at, action, outcome) VALUES (?, 'create', 'ok')", [old]
        )
    )
    svc.settings["audit_retention_days"] = 365.0
    removed, *_ = housekeeping.tidy(svc)
    assert removed == 1 and svc.db.read["audit_event"].count == 1


def test_an_archived_account_is_signed_out_everywhere(app: Flask, svc: Services, staff: World) -> None:
    teacher = app.test_client()
    sign_in(teacher, "teacher_a")
    manager = app.test_client()
    csrf = sign_in(manager, "it_a")
    teacher_id = next(iter(svc.db.read.query("SELECT id FROM user WHERE login = 'teacher_a'")))["id"]
    assert api(manager, csrf, "POST", f"/api/users/{teacher_id}/archive").status_code == 200
    assert teacher.get("/api/session").status_code == 401
