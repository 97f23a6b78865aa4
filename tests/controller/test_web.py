"""The controller's web surface through Flask's test client: sign-in, CSRF, casting rules, content, health."""

from __future__ import annotations

import hashlib
import io

from flask.testing import FlaskClient

from controller.app import Services
from controller.store import content

from .conftest import PASSWORD, World, csrf_of, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_home_redirects_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_password_is_refused_in_russian(client: FlaskClient, world: World) -> None:
    token = csrf_of(client)
    response = client.post("/login", data={"login": "teacher_a", "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Неверный логин или пароль." in response.get_data(as_text=True)
    unknown = client.post("/login", data={"login": "nobody", "password": PASSWORD, "csrf_token": token})
    assert unknown.status_code == 401  # the same answer: no hint which logins exist


def test_sign_in_without_csrf_token_is_refused(client: FlaskClient, world: World) -> None:
    response = client.post("/login", data={"login": "teacher_a", "password": PASSWORD})
    assert response.status_code == 400
    assert "Запрос не понят" in response.get_data(as_text=True)


def test_teacher_sees_own_schools_rooms_only(client: FlaskClient, world: World) -> None:
    sign_in(client, "teacher_a")
    assert client.get("/").status_code == 200
    [room] = client.get("/api/cast/rooms").json["rooms"]
    assert room["room_id"] == world.room_a and room["owner"] is None and room["cast"] is None
    assert room["panels"] == [
        {"panel_id": world.panel_a, "name": "Панель 101", "online": False, "status": "offline",
         "shown_at": None, "error": None, "error_text": None}
    ]  # fmt: skip


def test_open_redirect_after_sign_in_is_refused(client: FlaskClient, world: World) -> None:
    token = csrf_of(client)
    data = {"login": "teacher_a", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=//evil.example/", data=data)
    assert response.headers["Location"] == "/"


def test_cast_api_needs_csrf_header(client: FlaskClient, world: World) -> None:
    sign_in(client, "teacher_a")
    response = client.post("/api/casts", json={"room_id": world.room_a, "url": "https://example.org/"})
    assert response.status_code == 400
    assert response.json["message"].startswith("Запрос не понят")


def test_cast_to_another_schools_room_is_not_found(client: FlaskClient, world: World, svc: Services) -> None:
    csrf = sign_in(client, "teacher_a")
    response = client.post(
        "/api/casts",
        json={"room_id": world.room_b, "url": "https://example.org/"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 404
    assert response.json == {"error": "no_such_room", "message": "Кабинет не найден."}
    denied = svc.db.read.execute("SELECT detail FROM audit_event WHERE action = 'denied'").fetchall()
    assert len(denied) == 1 and '"status": 404' in denied[0][0]


def test_cast_of_a_bad_url_is_explained(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "teacher_a")
    for url in ("javascript:alert(1)", "file:///etc/passwd", "https://"):
        response = client.post(
            "/api/casts", json={"room_id": world.room_a, "url": url}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 400, url
        assert response.json["error"] == "bad_url"
        assert "http://" in response.json["message"]


def test_cast_to_an_offline_panel_reports_offline(client: FlaskClient, world: World, svc: Services) -> None:
    csrf = sign_in(client, "teacher_a")
    response = client.post(
        "/api/casts",
        json={"room_id": world.room_a, "url": "https://example.org/lesson", "title": "Урок"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200
    [answer] = response.json["casts"]
    assert answer["ok"] is False and answer["error"] == "offline"
    status = client.get(f"/api/casts/{answer['cast_id']}").json
    assert status["status"] == "failed" and status["error"] == "offline"
    other = FlaskClientFor(client, "teacher_b")
    assert other.get(f"/api/casts/{answer['cast_id']}").status_code == 404
    # The teacher's cast counts once in the week of the usage statistics, reached or not.
    assert svc.db.read.execute("SELECT school_id, casts FROM cast_week").fetchall() == [(world.school_a, 1)]


def FlaskClientFor(client: FlaskClient, login: str) -> FlaskClient:  # noqa: N802 - reads like a constructor
    fresh = client.application.test_client()
    sign_in(fresh, login)
    return fresh


def test_cast_api_rejects_non_json(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "teacher_a")
    response = client.post("/api/casts", data="room_id=1", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400
    assert response.json["message"] == "Выберите кабинет."  # the room is read first, to check access


def test_upload_refuses_a_non_image_named_png(client: FlaskClient, world: World, svc: Services) -> None:
    csrf = sign_in(client, "teacher_a")
    fake = (io.BytesIO(b"<html><script>alert(1)</script></html>"), "slide.png")
    response = client.post("/api/materials", data={"file": fake}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400 and response.json["error"] == "unsupported_type"
    assert "Тип файла не поддерживается" in response.json["message"]
    assert svc.db.read["content"].count == 0 and svc.db.read["material"].count == 0


def test_upload_stores_an_image_once(client: FlaskClient, world: World, svc: Services) -> None:
    csrf = sign_in(client, "teacher_a")
    answers = []
    for _ in range(2):
        data = {"title": "Схема", "file": (io.BytesIO(PNG), "x.bin")}
        answers.append(client.post("/api/materials", data=data, headers={"X-CSRF-Token": csrf}))
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json["id"] == answers[1].json["id"] and answers[0].json["title"] == "Схема"
    sha256 = hashlib.sha256(PNG).hexdigest()
    assert svc.db.read["content"].count == 1 and svc.db.read["material"].count == 1
    listed = client.get("/api/materials").json
    assert [m["sha256"] for m in listed["materials"]] == [sha256] and listed["used"] == len(PNG)
    assert svc.content.path_for(sha256).read_bytes() == PNG
    assert content.get_content(svc.db.read, sha256)["mime"] == "image/png"


def test_panel_content_needs_the_panels_token(client: FlaskClient, world: World, svc: Services) -> None:
    record = content.add_content(svc.db, svc.content, PNG, "Схема", world.school_a)
    url = f"/api/panel/v1/content/{record['sha256']}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    with client.get(url, headers={"Authorization": f"Bearer {world.token_a}"}) as response:
        assert response.status_code == 200
        assert response.data == PNG and response.mimetype == "image/png"
    with client.get(
        url, headers={"Authorization": f"Bearer {world.token_a}", "Range": "bytes=0-7"}
    ) as partial:
        assert partial.status_code == 206 and partial.data == PNG[:8]
    missing = client.get(
        "/api/panel/v1/content/" + "0" * 64, headers={"Authorization": f"Bearer {world.token_a}"}
    )
    assert missing.status_code == 404 and missing.json["message"] == "Не найдено."


def test_healthz_reports_each_part(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"] == {
        "database": "ok",
        "writer": "ok",
        "telemetry": "not started",
        "disk": "ok",
    }
    assert response.json["problems"] == []


def test_security_headers_on_every_page(client: FlaskClient) -> None:
    response = client.get("/login")
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self' only
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_unknown_page_is_a_russian_error_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Не найдено." in response.get_data(as_text=True)


def test_staff_above_the_school_land_on_the_registry(
    client: FlaskClient, svc: Services, world: World
) -> None:
    from controller.store import users

    svc.db.write(users.create_user, "mun", PASSWORD, "МОУО", "municipal", "municipality", 1)
    sign_in(client, "mun")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/registry"
