"""Pairing through the real HTTP routes: a panel asks for a code, school IT approves, the panel collects."""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from classcast.identity import ensure_identity
from controller.app import Services
from controller.store import pairings, users
from tests.controller.conftest import PASSWORD, World, sign_in


class Panel:
    """A panel that has made its key pair and asks the controller for a code."""

    def __init__(self, client: FlaskClient, folder: Path) -> None:
        identity = ensure_identity(folder)
        self.client, self.public_key, self.fingerprint = client, identity.public_key, identity.fingerprint
        self.secret = secrets.token_urlsafe(32)

    def ask(self) -> dict[str, Any]:
        body = {
            "public_key": self.public_key,
            "secret": self.secret,
            "serial": "10000000a1b2c3d4",
            "mac": "dc:a6:32:01:02:03",
            "model": "Raspberry Pi 4 Model B Rev 1.5",
            "os": "Debian GNU/Linux 12 (bookworm)",
            "player_version": "0.1.0",
        }
        response = self.client.post("/api/panel/v1/pairings", json=body)
        assert response.status_code == 201, response.json
        return response.json

    def collect(self, pairing_id: str, secret: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {secret or self.secret}"}
        return self.client.get(f"/api/panel/v1/pairings/{pairing_id}", headers=headers)


def school_it(svc: Services, client: FlaskClient, login: str, school_id: int) -> str:
    svc.db.write(users.create_user, login, PASSWORD, "Администратор ОО", "school_it", "school", school_id)
    return sign_in(client, login)


def test_a_panel_is_paired_once_and_its_token_works(
    app: Any, svc: Services, world: World, tmp_path: Path
) -> None:
    panel = Panel(app.test_client(), tmp_path / "new-panel")
    asked = panel.ask()
    assert len(asked["code"]) == 8 and set(asked["code"]) <= set(pairings.ALPHABET)
    assert asked["expires_in"] == 600
    assert panel.collect(asked["id"]).json["state"] == "waiting"

    staff = app.test_client()
    csrf = school_it(svc, staff, "it_a", world.school_a)
    headers = {"X-CSRF-Token": csrf}
    typed = asked["code"][:4].lower() + "-" + asked["code"][4:]  # as a person types it
    seen = staff.post("/api/pairings/lookup", json={"code": typed}, headers=headers)
    assert seen.status_code == 200
    assert seen.json["fingerprint"] == panel.fingerprint and seen.json["serial"] == "10000000a1b2c3d4"
    assert seen.json["model"].startswith("Raspberry Pi 4")

    body = {"code": typed, "room_id": world.room_a, "name": "Кабинет 101, у доски"}
    approved = staff.post("/api/pairings/approve", json=body, headers=headers)
    assert approved.status_code == 201, approved.json
    assert approved.json["state"] == "pending" and approved.json["room_id"] == world.room_a
    panel_id = approved.json["id"]

    collected = panel.collect(asked["id"])
    assert collected.status_code == 200 and collected.json["state"] == "approved"
    token = collected.json["token"]
    assert collected.json["panel_id"] == panel_id and len(collected.json["controller_key"]) == 40
    row = svc.db.read["panel"].get(panel_id)
    assert row["state"] == "active" and row["curve_public_key"] == panel.public_key
    assert row["token_hash"] != token and token not in json.dumps(row)  # only the hash is kept
    assert row["serial"] == "10000000a1b2c3d4" and row["paired_at"]
    # The token opens the panel API; a second collection gets nothing.
    content = panel.client.get(
        "/api/panel/v1/content/" + "0" * 64, headers={"Authorization": f"Bearer {token}"}
    )
    assert content.status_code == 404  # signed in: the item is missing, not the panel refused
    again = panel.collect(asked["id"])
    assert again.status_code == 410 and "token" not in again.json

    # A spent code never binds twice, and the approval is audited without a secret in it.
    reused = staff.post("/api/pairings/approve", json=body, headers=headers)
    assert reused.status_code == 404 and "устарел" in reused.json["message"]
    events = list(svc.db.read.query("SELECT * FROM audit_event WHERE action = 'enroll_panel' ORDER BY id"))
    assert [(e["outcome"], e["object_id"]) for e in events] == [("ok", panel_id), ("failed", None)]
    assert events[0]["actor_login"] == "it_a" and events[0]["school_id"] == world.school_a
    assert panel.fingerprint in events[0]["detail"] and panel.secret not in events[0]["detail"]
    assert token not in json.dumps([dict(e) for e in svc.db.read.query("SELECT * FROM audit_event")])


def test_school_a_it_cannot_approve_into_a_school_b_room(
    app: Any, svc: Services, world: World, tmp_path: Path
) -> None:
    panel = Panel(app.test_client(), tmp_path / "new-panel")
    asked = panel.ask()
    staff = app.test_client()
    headers = {"X-CSRF-Token": school_it(svc, staff, "it_a", world.school_a)}
    body = {"code": asked["code"], "room_id": world.room_b, "name": "Чужой кабинет"}
    refused = staff.post("/api/pairings/approve", json=body, headers=headers)
    assert refused.status_code == 404 and refused.json["message"] == "Кабинет не найден."
    assert (
        svc.db.read.execute(
            "SELECT count(*) FROM panel WHERE curve_public_key = ?", [panel.public_key]
        ).fetchone()[0]
        == 0
    )
    assert panel.collect(asked["id"]).json["state"] == "waiting"  # the code was not spent by the refusal

    teacher = app.test_client()
    headers = {"X-CSRF-Token": sign_in(teacher, "teacher_a")}
    body["room_id"] = world.room_a
    assert teacher.post("/api/pairings/approve", json=body, headers=headers).status_code == 403
    assert teacher.post("/api/pairings/lookup", json=body, headers=headers).status_code == 403


def test_an_expired_code_and_a_superseded_code_do_not_bind(
    app: Any, svc: Services, world: World, tmp_path: Path
) -> None:
    panel = Panel(app.test_client(), tmp_path / "new-panel")
    first = panel.ask()
    second = panel.ask()  # the panel restarted: the code it showed before stops working
    staff = app.test_client()
    headers = {"X-CSRF-Token": school_it(svc, staff, "it_a", world.school_a)}
    assert (
        staff.post("/api/pairings/lookup", json={"code": first["code"]}, headers=headers).status_code == 404
    )
    assert panel.collect(first["id"]).status_code == 410
    assert (
        staff.post("/api/pairings/lookup", json={"code": second["code"]}, headers=headers).status_code == 200
    )

    svc.db.write(lambda db: db.execute("UPDATE pairing SET expires_at = expires_at - 601"))
    assert (
        staff.post("/api/pairings/lookup", json={"code": second["code"]}, headers=headers).status_code == 404
    )
    assert panel.collect(second["id"]).json == {"state": "expired"}


def test_ten_thousand_guessed_codes_are_throttled_per_person_and_in_all(
    app: Any, svc: Services, world: World, tmp_path: Path
) -> None:
    panel = Panel(app.test_client(), tmp_path / "new-panel")
    real = panel.ask()["code"]
    rng = random.Random(7)
    guesses = ["".join(rng.choice(pairings.ALPHABET) for _ in range(8)) for _ in range(10_000)]
    guesses[9_999] = real  # the attacker hits the right code last: too late
    guessers = []
    for n in range(21):
        client = app.test_client()
        guessers.append((client, {"X-CSRF-Token": school_it(svc, client, f"it_{n}", world.school_a)}))
    answers: dict[int, int] = {}
    for i, code in enumerate(guesses):
        client, headers = guessers[i % len(guessers)]
        status = client.post("/api/pairings/lookup", json={"code": code}, headers=headers).status_code
        answers[status] = answers.get(status, 0) + 1
    # Ten wrong codes lock a person, two hundred lock every guesser: the rest are not even looked up.
    assert answers.get(200, 0) == 0
    assert answers[404] == 200 and answers[429] == 10_000 - 200
    locked = client.post("/api/pairings/lookup", json={"code": real}, headers=headers)
    assert locked.status_code == 429 and "Попробуйте снова через" in locked.json["message"]
    failed = svc.db.read.execute(
        "SELECT count(*) FROM audit_event WHERE action = 'enroll_panel' AND outcome = 'failed'"
    ).fetchone()[0]
    assert failed == 200


def test_bad_requests_get_clear_answers(app: Any, svc: Services, world: World, tmp_path: Path) -> None:
    client = app.test_client()
    bad_key = client.post("/api/panel/v1/pairings", json={"public_key": "short", "secret": "x" * 40})
    assert bad_key.status_code == 400 and "public_key" in bad_key.json["message"]
    no_secret = client.post("/api/panel/v1/pairings", json={"public_key": world.key_a})
    assert no_secret.status_code == 400 and "secret" in no_secret.json["message"]
    assert client.post("/api/panel/v1/pairings", data="not json").status_code == 400
    # The enrolled panel of the world holds this key: it must be revoked before it pairs again.
    taken = client.post("/api/panel/v1/pairings", json={"public_key": world.key_a, "secret": "y" * 40})
    assert taken.status_code == 409 and taken.json["error"] == "already_registered"

    panel = Panel(client, tmp_path / "new-panel")
    asked = panel.ask()
    assert panel.collect(asked["id"], secret="z" * 40).status_code == 404
    assert panel.collect("no-such-pairing").status_code == 404

    staff = app.test_client()
    headers = {"X-CSRF-Token": school_it(svc, staff, "it_a", world.school_a)}
    short = staff.post("/api/pairings/lookup", json={"code": "ABC"}, headers=headers)
    assert short.status_code == 400 and "8 знаков" in short.json["fields"]["code"]
    nameless = staff.post(
        "/api/pairings/approve", json={"code": asked["code"], "room_id": world.room_a}, headers=headers
    )
    assert nameless.status_code == 400 and "имя" in nameless.json["fields"]["name"]
    no_csrf = staff.post("/api/pairings/lookup", json={"code": asked["code"]})
    assert no_csrf.status_code == 400
