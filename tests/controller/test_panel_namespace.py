"""The `/panel` Socket.IO namespace through Flask-SocketIO's test client (a real connection is in e2e)."""

from __future__ import annotations

from flask import Flask

from classcast.protocol import PANEL_NAMESPACE
from controller.app import Services

from .conftest import World


def _connect(app: Flask, svc: Services, auth: object):
    return svc.socketio.test_client(app, namespace=PANEL_NAMESPACE, auth=auth)


def test_a_panel_without_a_valid_token_is_refused(app: Flask, svc: Services, world: World) -> None:
    for auth in (None, {}, {"token": "guess"}, {"token": 42}, "token"):
        client = _connect(app, svc, auth)
        assert not client.is_connected(PANEL_NAMESPACE), auth
    assert svc.hub.connected_count == 0


def test_a_panel_with_its_token_is_attached_and_detached(app: Flask, svc: Services, world: World) -> None:
    client = _connect(app, svc, {"token": world.token_a, "player_version": "0.1.0"})
    assert client.is_connected(PANEL_NAMESPACE)
    assert svc.hub.is_connected(world.panel_a)
    panel = svc.db.read["panel"].get(world.panel_a)
    assert panel["player_version"] == "0.1.0" and panel["last_seen_at"]
    client.disconnect(PANEL_NAMESPACE)
    assert not svc.hub.is_connected(world.panel_a)


def test_a_revoked_panels_token_no_longer_works(app: Flask, svc: Services, world: World) -> None:
    svc.db.write(lambda db: db["panel"].update(world.panel_a, {"state": "revoked"}))
    client = _connect(app, svc, {"token": world.token_a})
    assert not client.is_connected(PANEL_NAMESPACE)


def test_a_cast_to_a_panel_that_never_answers_times_out(app: Flask, svc: Services, world: World) -> None:
    client = _connect(app, svc, {"token": world.token_a})
    answer = svc.hub.send(
        world.panel_a, "show", {"cast_id": "1", "item": {"kind": "page", "url": "https://x.ru"}}
    )
    assert answer == {"ok": False, "error": "no_answer"}  # the test client does not acknowledge
    [received] = [m for m in client.get_received(PANEL_NAMESPACE) if m["name"] != "state"]
    assert received["name"] == "show" and received["args"][0]["cast_id"] == "1"
