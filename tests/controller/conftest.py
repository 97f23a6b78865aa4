"""Fixtures of the controller's tests: an app on a real SQLite file under tmp_path, and a small world."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from classcast.identity import ensure_identity
from controller.app import Services, create_app
from controller.store import orgs, panels, users

PASSWORD = "correct horse battery"


@dataclass
class World:
    school_a: int
    school_b: int
    room_a: int
    room_b: int
    panel_a: int
    token_a: str
    key_a: str


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {"data_dir": str(tmp_path / "controller"), "cast_ack_timeout": 0.5, "secure_cookies": False}
    )
    yield app
    app.extensions["classcast"].db.close()


@pytest.fixture
def svc(app: Flask) -> Services:
    return app.extensions["classcast"]


@pytest.fixture
def world(svc: Services, tmp_path: Path) -> World:
    """Two schools of one municipality, a room each, a teacher each, and one enrolled panel in school A."""

    def build(db: Any) -> tuple[int, int, int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school_a = orgs.create_school(db, municipality, "Школа № 1", "СОШ № 1")
        school_b = orgs.create_school(db, municipality, "Школа № 2", "СОШ № 2")
        return (
            school_a,
            school_b,
            orgs.create_room(db, school_a, "101"),
            orgs.create_room(db, school_b, "201"),
        )

    school_a, school_b, room_a, room_b = svc.db.write(build)
    svc.db.write(users.create_user, "teacher_a", PASSWORD, "Учитель А", "teacher", "school", school_a)
    svc.db.write(users.create_user, "teacher_b", PASSWORD, "Учитель Б", "teacher", "school", school_b)
    key = ensure_identity(tmp_path / "panel-a").public_key
    panel_a, token_a = svc.db.write(panels.enroll_panel, room_a, "Панель 101", key)
    return World(school_a, school_b, room_a, room_b, panel_a, token_a, key)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(client: FlaskClient) -> str:
    """Return the CSRF token the login page gives this client's session."""
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client: FlaskClient, login: str, password: str = PASSWORD) -> str:
    """Sign `login` in on this client; return the signed-in session's CSRF token."""
    token = csrf_of(client)
    response = client.post("/login", data={"login": login, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get("/api/session").json["csrf_token"]
