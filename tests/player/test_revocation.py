"""A revoked panel forgets its credentials, its key pair and its kept state, and pairs again.

The player runs as a real process against a stand-in controller on loopback (tests/player/standin.py).
Only the controller's own 401 on /api/panel/v1/self counts as revoked: a 5xx or a proxy's 401 keeps
the credentials, and the player goes on retrying with them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from classcast.identity import (
    ensure_identity,
    forget_enrollment,
    identity_dir,
    load_identity,
    save_enrollment,
)
from tests.player.conftest import EventStream, sse_data
from tests.player.standin import SELF, WAIT_S, PlayerProcess, StandIn, wait_for

pytestmark = pytest.mark.timeout(90)

KEPT_STATE = {
    "version": 4,
    "show": {"cast_id": "c4", "item": {"kind": "page", "url": "http://127.0.0.1:9/lesson", "title": ""}},
    "schedule": None,
    "panel": {"id": 7, "name": "Панель 7", "room": "Кабинет 7", "school": "№ 1"},
}


def enrolled_panel(data_dir: Path, standin: StandIn) -> str:
    """Return the token of a panel enrolled at the stand-in, with a kept state on disk."""
    ensure_identity(data_dir)
    token = secrets.token_urlsafe(32)
    save_enrollment(data_dir, token=token, controller_key=standin.controller_key)
    standin.tokens[token] = "active"
    (data_dir / "state.json").write_text(json.dumps(KEPT_STATE), encoding="utf-8")
    return token


def test_forget_enrollment_deletes_the_credentials_and_makes_a_new_key_pair(tmp_path: Path) -> None:
    ensure_identity(tmp_path)
    save_enrollment(tmp_path, token="t" * 43, controller_key=zmq.curve_keypair()[0].decode())
    old = load_identity(tmp_path)

    new = forget_enrollment(tmp_path)

    assert old.enrolled and not new.enrolled
    assert new == load_identity(tmp_path)
    assert new.public_key != old.public_key and new.secret_key != old.secret_key
    assert zmq.curve_public(new.secret_key.encode()).decode() == new.public_key  # one pair, not two halves
    assert sorted(p.name for p in identity_dir(tmp_path).iterdir()) == ["curve.public", "curve.secret"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in identity_dir(tmp_path).iterdir())


@pytest.mark.parametrize(
    ("how", "refusal"),
    [("revoked", "unauthorized"), ("unknown", "unauthorized"), ("revoked", None)],
    ids=["revoked", "unknown token", "refused without a reason"],
)
def test_revoked_panel_forgets_everything_shows_a_new_code_and_pairs_again(
    how: str,
    refusal: str | None,
    tmp_path: Path,
    standin: StandIn,
    start_player: Callable[..., PlayerProcess],
) -> None:
    data_dir = tmp_path / "panel"
    standin.refusal = refusal
    old_token = enrolled_panel(data_dir, standin)
    old = load_identity(data_dir)
    player = start_player(data_dir, standin.url)
    kiosk_url = player.kiosk_url()
    wait_for(lambda: standin.session_of(old_token), WAIT_S, "the player to connect")

    standin.revoke(old_token, forget=how == "unknown")

    pairing = wait_for(lambda: standin.pairings, WAIT_S, "the player to ask for a pairing code")[0]
    assert f"Bearer {old_token}" in standin.asked("GET", SELF)  # it asked before forgetting anything
    fresh = load_identity(data_dir)
    assert not fresh.enrolled
    assert fresh.public_key != old.public_key
    assert pairing["public_key"] == fresh.public_key  # the new key is the one offered for pairing
    assert not (data_dir / "state.json").exists()
    stream = EventStream(kiosk_url)
    try:
        assert stream.next_block() == "retry: 1000\n"
        shown = wait_for(lambda: sse_data(stream.next_block(), "pairing"), WAIT_S, "the pairing screen")
    finally:
        stream.close()
    assert shown["code"] == "ABCD2345"
    assert shown["fingerprint"] == fresh.fingerprint

    new_token = standin.approve(pairing)

    wait_for(lambda: standin.session_of(new_token), WAIT_S, "the player to connect with its new token")
    assert load_identity(data_dir).token == new_token
    assert load_identity(data_dir).public_key == fresh.public_key
    assert standin.signed_in.count(old_token) == 1
    assert player.stop() == 0, player.log_text()


@pytest.mark.parametrize(
    "answer",
    [(503, b'{"error": "unavailable"}'), (401, b"<html>proxy login</html>"), (200, b'{"panel_id": 7}')],
    ids=["controller error", "a proxy's 401", "token still valid"],
)
def test_refused_panel_keeps_its_credentials_unless_the_controller_says_revoked(
    answer: tuple[int, bytes], tmp_path: Path, standin: StandIn, start_player: Callable[..., PlayerProcess]
) -> None:
    data_dir = tmp_path / "panel"
    token = enrolled_panel(data_dir, standin)
    before = load_identity(data_dir)
    standin.self_answer = answer
    standin.tokens[token] = "revoked"  # Socket.IO refuses it; SELF gives the answer above
    player = start_player(data_dir, standin.url)
    player.kiosk_url()

    wait_for(lambda: len(standin.asked("GET", SELF)) >= 3, WAIT_S, "the player to retry, asking each time")

    assert load_identity(data_dir) == before
    assert json.loads((data_dir / "state.json").read_text(encoding="utf-8")) == KEPT_STATE
    assert standin.pairings == []
    standin.tokens[token] = "active"
    wait_for(lambda: standin.session_of(token), WAIT_S, "the player to connect with the same token")
    assert player.stop() == 0, player.log_text()
