"""A panel's life through the real routes: revoke (cut off, refused, counted), move, replace, desired
state on connect, a cloned identity flagged, and heartbeats kept on the panel's row."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gevent
from flask import Flask
from flask.testing import FlaskClient

from classcast.identity import ensure_identity
from classcast.protocol import FRAME_ACK, FRAME_ERROR, PANEL_NAMESPACE
from controller import schedules
from controller.app import Services
from controller.ingest import TelemetryIngest, server_keys
from controller.store import desired, lifecycle, orgs, panels, telemetry

from .conftest import World
from .test_ingest import _dealer, batch, event, exchange
from .test_pairing import Panel, school_it


def _connect(app: Flask, svc: Services, token: str) -> Any:
    return svc.socketio.test_client(app, namespace=PANEL_NAMESPACE, auth={"token": token})


def _received(panel: Any, name: str) -> list[Any]:
    """Return the payloads of `name` events the test client got (sent from a greenlet: let it run)."""
    deadline = time.monotonic() + 5
    got: list[Any] = []
    while not got and time.monotonic() < deadline:
        gevent.sleep(0.01)
        got += [m["args"][0] for m in panel.get_received(PANEL_NAMESPACE) if m["name"] == name]
    return got


def _staff(app: Flask, svc: Services, world: World, login: str = "it_a") -> tuple[FlaskClient, dict]:
    staff = app.test_client()
    csrf = school_it(svc, staff, login, world.school_a)
    return staff, {"X-CSRF-Token": csrf}


def test_revoking_cuts_the_live_connection_and_refuses_and_counts_later_traffic(
    app: Flask, svc: Services, world: World
) -> None:
    panel = _connect(app, svc, world.token_a)
    assert svc.hub.is_connected(world.panel_a)
    staff, headers = _staff(app, svc, world)

    answer = staff.post(f"/api/panels/{world.panel_a}/revoke", json={}, headers=headers)

    assert answer.status_code == 200 and answer.json == {"id": world.panel_a, "state": "revoked"}
    assert not svc.hub.is_connected(world.panel_a) and not panel.is_connected(PANEL_NAMESPACE)
    row = svc.db.read["panel"].get(world.panel_a)
    assert row["state"] == "revoked" and row["token_hash"] is None and row["curve_public_key"] is None
    for _ in range(3):
        assert not _connect(app, svc, world.token_a).is_connected(PANEL_NAMESPACE)
    me = app.test_client().get("/api/panel/v1/self", headers={"Authorization": f"Bearer {world.token_a}"})
    assert me.status_code == 401 and me.json == {"error": "revoked"}
    assert lifecycle.refused_count(svc.db.read, world.panel_a) == 4
    again = staff.post(f"/api/panels/{world.panel_a}/revoke", json={}, headers=headers)
    assert again.status_code == 409
    audit = svc.db.read.execute("SELECT action FROM audit_event WHERE object_id = ?", [world.panel_a])
    assert ("revoke_panel",) in [tuple(r) for r in audit.fetchall()]


def test_an_unknown_token_is_told_apart_from_a_revoked_one(app: Flask, svc: Services, world: World) -> None:
    me = app.test_client().get("/api/panel/v1/self", headers={"Authorization": "Bearer not-a-token"})
    assert me.status_code == 401 and me.json == {"error": "unauthorized"}
    ok = app.test_client().get("/api/panel/v1/self", headers={"Authorization": f"Bearer {world.token_a}"})
    assert ok.status_code == 200 and ok.json["panel_id"] == world.panel_a and ok.json["room"] == "101"
    unknown = svc.db.read.execute("SELECT count(*) FROM contact_attempt WHERE panel_id IS NULL").fetchone()
    assert unknown[0] == 1


def test_a_revoked_panels_next_batch_is_refused_on_its_open_connection(
    svc: Services, world: World, tmp_path: Path, app: Flask
) -> None:
    _, secret = server_keys(svc.data_dir)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", secret)
    ingest.start()
    identity = ensure_identity(tmp_path / "panel-a")
    sock = _dealer(ingest, identity.public_key, identity.secret_key, server_keys(svc.data_dir)[0])
    try:
        kind, ack = exchange(sock, batch(1, [event(1)]))
        assert kind == FRAME_ACK and ack["stored"] == 1
        staff, headers = _staff(app, svc, world)
        assert staff.post(f"/api/panels/{world.panel_a}/revoke", json={}, headers=headers).status_code == 200

        kind, body = exchange(sock, batch(2, [event(2)]))

        assert kind == FRAME_ERROR and body == {
            "seq": 2,
            "error": "revoked",
            "message": "this panel's credentials were revoked",
        }
        assert telemetry.count_events(svc.db.read) == 1
        assert lifecycle.refused_count(svc.db.read, world.panel_a) == 1
    finally:
        sock.close()
        ingest.stop()


def test_a_revoked_key_is_counted_at_its_next_handshake(svc: Services, world: World, tmp_path: Path) -> None:
    _, secret = server_keys(svc.data_dir)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", secret)
    ingest.start()
    svc.db.write(lifecycle.revoke, world.panel_a)
    identity = ensure_identity(tmp_path / "panel-a")
    sock = _dealer(ingest, identity.public_key, identity.secret_key, server_keys(svc.data_dir)[0])
    try:
        sock.send_multipart(batch(1, [event(1)]))
        deadline = time.monotonic() + 5
        while lifecycle.refused_count(svc.db.read, world.panel_a) == 0 and time.monotonic() < deadline:
            sock.poll(100)  # the handshake is refused by ZAP and counted there
        assert lifecycle.refused_count(svc.db.read, world.panel_a) >= 1
        assert telemetry.count_events(svc.db.read) == 0
    finally:
        sock.close()
        ingest.stop()


def test_a_connection_that_no_longer_answers_is_replaced_not_flagged(
    app: Flask, svc: Services, world: World, monkeypatch: Any
) -> None:
    from controller.web import panels as panels_web

    monkeypatch.setattr(panels_web, "LIVENESS_S", 0.2)
    stale = _connect(app, svc, world.token_a)  # the test client never acknowledges: a dead connection
    back = _connect(app, svc, world.token_a)

    assert back.is_connected(PANEL_NAMESPACE) and not stale.is_connected(PANEL_NAMESPACE)
    assert svc.hub.is_connected(world.panel_a)
    assert svc.db.read["panel"].get(world.panel_a)["clone_seen_at"] is None
    assert svc.db.read.execute("SELECT count(*) FROM incident").fetchone()[0] == 0


def test_one_key_sending_from_two_connections_in_turn_is_flagged(
    svc: Services, world: World, tmp_path: Path
) -> None:
    _, secret = server_keys(svc.data_dir)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", secret)
    ingest.start()
    identity = ensure_identity(tmp_path / "panel-a")
    devices = [
        _dealer(ingest, identity.public_key, identity.secret_key, server_keys(svc.data_dir)[0])
        for _ in range(2)
    ]
    try:
        exchange(devices[0], batch(1, [event(1)]))
        assert svc.db.read["panel"].get(world.panel_a)["clone_seen_at"] is None  # one device: nothing to flag
        exchange(devices[1], batch(1, [event(2)]))
        assert svc.db.read["panel"].get(world.panel_a)["clone_seen_at"] is None  # a reconnect looks like this
        exchange(devices[0], batch(2, [event(3)]))
        row = svc.db.read["panel"].get(world.panel_a)
        assert row["clone_seen_at"] is not None and json.loads(row["clone_detail"])["channel"] == "telemetry"
    finally:
        for sock in devices:
            sock.close()
        ingest.stop()


def test_a_connecting_panel_receives_its_whole_desired_state(app: Flask, svc: Services, world: World) -> None:
    show = {"cast_id": "7", "item": {"kind": "page", "url": "https://example.org/", "title": "Урок"}}
    svc.db.write(desired.update, world.panel_a, {"show": show})
    playlists = "playlists: [{name: перемены, items: [{text: Отдых}]}]"
    loop = f"title: Перемены\n{playlists}\nrules: [{{playlist: перемены}}]"
    upload = schedules.Upload(schedules.SourceFile("r.yaml", loop))
    kept = schedules.accept(svc.db, world.room_a, upload, None)  # the room's schedule, not the panel's

    panel = _connect(app, svc, world.token_a)

    states = _received(panel, "state")
    document = {"title": "Перемены", "playlists": [{"name": "перемены", "items": [{"text": "Отдых"}]}]}
    assert states == [
        {
            "version": 1,
            "show": show,
            "schedule": {
                "revision": kept["revision"],
                "title": "Перемены",
                "timezone": "Europe/Moscow",
                "document": {**document, "rules": [{"playlist": "перемены"}]},
            },
            "alert": None,
            "panel": {"id": world.panel_a, "name": "Панель 101", "room": "101", "school": "СОШ № 1"},
        }
    ]


def test_a_cast_becomes_the_panels_desired_state(app: Flask, svc: Services, world: World) -> None:
    _connect(app, svc, world.token_a)
    teacher = app.test_client()
    from .conftest import sign_in

    csrf = sign_in(teacher, "teacher_a")
    body = {"room_id": world.room_a, "url": "https://example.org/lesson"}
    teacher.post("/api/casts", json=body, headers={"X-CSRF-Token": csrf})
    state = desired.get(svc.db.read, world.panel_a)
    assert state["version"] == 1 and state["show"]["item"]["url"] == "https://example.org/lesson"


def test_a_panel_moves_within_the_school_but_not_into_another(
    app: Flask, svc: Services, world: World
) -> None:
    staff, headers = _staff(app, svc, world)
    other_room = svc.db.write(orgs.create_room, world.school_a, "102")

    moved = staff.post(f"/api/panels/{world.panel_a}/move", json={"room_id": other_room}, headers=headers)
    elsewhere = staff.post(
        f"/api/panels/{world.panel_a}/move", json={"room_id": world.room_b}, headers=headers
    )

    assert moved.status_code == 200 and svc.db.read["panel"].get(world.panel_a)["room_id"] == other_room
    assert elsewhere.status_code == 404
    assert svc.db.read["panel"].get(world.panel_a)["room_id"] == other_room


def test_a_new_device_replaces_a_panel_and_the_history_stays(
    app: Flask, svc: Services, world: World, tmp_path: Path
) -> None:
    svc.db.write(telemetry.store_events, world.panel_a, [event(1)])
    staff, headers = _staff(app, svc, world)
    device = Panel(app.test_client(), tmp_path / "new-device")
    asked = device.ask()

    answer = staff.post(f"/api/panels/{world.panel_a}/replace", json={"code": asked["code"]}, headers=headers)

    assert answer.status_code == 201 and answer.json["replaced"] == world.panel_a
    new_id = answer.json["id"]
    new, old = svc.db.read["panel"].get(new_id), svc.db.read["panel"].get(world.panel_a)
    assert (new["name"], new["room_id"]) == ("Панель 101", world.room_a)
    assert old["state"] == "decommissioned" and old["replaced_by"] == new_id and old["token_hash"] is None
    assert telemetry.count_events(svc.db.read) == 1  # the old panel's history is kept, under its own id
    assert device.collect(asked["id"]).json["state"] == "approved"
    assert panels.panel_by_token(svc.db.read, world.token_a) is None


def test_heartbeats_keep_the_panels_health_on_its_row(svc: Services, world: World) -> None:
    def heartbeat(n: int, wall: float, **data: Any) -> dict[str, Any]:
        return {**event(n), "type": "heartbeat", "wall_time": wall, "data": data}

    now = time.time()
    fresh = heartbeat(
        1,
        now,
        temperature_c=61.5,
        disk_free_bytes=5_000_000_000,
        undervoltage_now=False,
        undervoltage_since_boot=True,
        display_connected=True,
    )
    svc.db.write(telemetry.store_events, world.panel_a, [fresh])
    stale = heartbeat(2, now - 3600, temperature_c=40.0)  # replayed from a spool after an outage
    svc.db.write(telemetry.store_events, world.panel_a, [stale])

    row = svc.db.read["panel"].get(world.panel_a)
    assert row["temperature_c"] == 61.5 and row["disk_free_bytes"] == 5_000_000_000
    assert row["display_connected"] == 1 and row["undervoltage_now"] == 0
    assert row["undervoltage_seen_at"] == now and row["health_at"] == now


def test_status_follows_the_clock(svc: Services, world: World) -> None:
    thresholds = lifecycle.Thresholds(offline_after_s=180, silent_after_s=30 * 86400)
    svc.db.write(panels.mark_connected, world.panel_a, "0.1.0")
    now = time.time()
    assert lifecycle.status_of(svc.db.read, world.panel_a, thresholds, now) == "online"
    assert lifecycle.status_of(svc.db.read, world.panel_a, thresholds, now + 600) == "offline"
    assert lifecycle.status_of(svc.db.read, world.panel_a, thresholds, now + 31 * 86400) == "silent"
    svc.db.write(lifecycle.revoke, world.panel_a)
    assert lifecycle.status_of(svc.db.read, world.panel_a, thresholds, now) == "revoked"


def test_old_contact_attempts_and_actions_are_forgotten(svc: Services, world: World) -> None:
    svc.db.write(lifecycle.record_contact, "socketio", "h" * 64, "10.0.0.9")
    later = time.time() + lifecycle.TRACE_RETENTION_S + 1
    assert svc.db.write(lifecycle.forget_old, time.time()) == 0
    assert svc.db.write(lifecycle.forget_old, later) == 1
    assert svc.db.read.execute("SELECT count(*) FROM contact_attempt").fetchone()[0] == 0


def test_unknown_credentials_cannot_fill_the_disk(svc: Services, world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(lifecycle, "MAX_UNKNOWN_PER_DAY", 3)
    for n in range(5):
        svc.db.write(lifecycle.record_contact, "http", f"{n:064d}", "10.0.0.9")
    svc.db.write(lifecycle.record_contact, "http", f"{0:064d}", "10.0.0.9")  # a known one is still counted
    rows = svc.db.read.execute("SELECT attempts FROM contact_attempt ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [2, 1, 1]
