"""Backup while telemetry flows, and restore: every acknowledged event is in, the copy is whole.

A real controller process ingests batches that the test sends over real ZeroMQ (CURVE, with the key
of a panel enrolled by the real `enroll-panel` command), one after another, each waiting for its ack.
While they flow, `classcast-controller backup` runs as its own process. Every event acked before the
backup started must be in the copy; the copy must pass integrity_check; `restore` must refuse while
the controller runs, then put the copy in place, and a controller started on it must be healthy.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from classcast.identity import PanelIdentity, ensure_identity
from classcast.protocol import FRAME_ACK, FRAME_BATCH, TELEMETRY_PROTOCOL
from controller.backup import BackupError, backup, restore

from .conftest import Proc, enroll, get_json, python, seed_room

EVENTS_PER_BATCH = 50


class Panel:
    """A panel's telemetry end: a DEALER with the panel's enrolled key, one batch in flight at a time."""

    def __init__(self, endpoint: str, identity: PanelIdentity, controller_key: str) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.rcvtimeo = 10_000
        self.socket.curve_publickey = identity.public_key.encode()
        self.socket.curve_secretkey = identity.secret_key.encode()
        self.socket.curve_serverkey = controller_key.encode()
        self.socket.connect(endpoint)
        self.seq = 0
        self.acked: list[str] = []

    def send_batch(self) -> None:
        """Send one batch and wait for its ack; its events then count as acknowledged."""
        self.seq += 1
        ids = [f"backup-test:{self.seq}:{n}" for n in range(EVENTS_PER_BATCH)]
        events = [
            {"id": i, "type": "heartbeat", "wall_time": time.time(), "mono_time": float(self.seq),
             "clock_synced": True, "data": {"load_1m": 0.5, "spool_events": 0}}
            for i in ids
        ]  # fmt: skip
        body = json.dumps({"seq": self.seq, "events": events}).encode()
        self.socket.send_multipart([TELEMETRY_PROTOCOL, FRAME_BATCH, body])
        _, kind, answer = self.socket.recv_multipart()
        assert kind == FRAME_ACK, answer
        assert json.loads(answer)["stored"] == EVENTS_PER_BATCH
        self.acked += ids

    def close(self) -> None:
        self.socket.close()
        self.context.term()


def event_ids(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
        return {row[0] for row in db.execute("SELECT event_id FROM telemetry_event")}


def integrity(database: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("PRAGMA integrity_check")]


def start_controller(spawn: Callable[..., Proc], data_dir: Path, name: str) -> tuple[Proc, str, str]:
    controller = spawn(
        name, *python("controller"), "serve", "--data-dir", data_dir,
        "--port", "0", "--telemetry-bind", "tcp://127.0.0.1:*",
    )  # fmt: skip
    return controller, controller.read_line("ClassCast controller: "), controller.read_line("telemetry: ")


def test_a_backup_taken_while_telemetry_flows_holds_every_acked_event_and_restores(
    tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    data_dir, copy = tmp_path / "controller", tmp_path / "backups" / "classcast.sqlite"
    room = seed_room(data_dir)
    controller, url, telemetry = start_controller(spawn, data_dir, "controller")
    identity = ensure_identity(tmp_path / "panel")
    credentials = enroll(spawn, data_dir, room, identity.public_key)
    panel = Panel(telemetry, identity, credentials["controller_key"])
    try:
        for _ in range(20):  # a database with some history before the backup
            panel.send_batch()
        acked_before = list(panel.acked)
        backup_proc = spawn("backup", *python("controller"), "backup", "--data-dir", data_dir, "--to", copy)
        during = 0
        while backup_proc.popen.poll() is None:  # the telemetry goes on while the copy is made
            panel.send_batch()
            during += 1
        for _ in range(5):
            panel.send_batch()
    finally:
        panel.close()
    assert backup_proc.popen.wait() == 0, backup_proc.log_text()
    summary = json.loads(backup_proc.popen.stdout.read())
    assert during > 0, "no batch was acked while the backup ran: the test proved nothing"

    in_copy = event_ids(copy)
    assert integrity(copy) == ["ok"]
    assert set(acked_before) <= in_copy, "an event acked before the backup is missing from it"
    assert in_copy <= set(panel.acked)  # nothing the panel did not send
    assert summary["telemetry_events"] == len(in_copy)
    assert copy.stat().st_mode & 0o777 == 0o600  # it holds password hashes and panel keys
    assert not list(copy.parent.glob(".*partial"))

    # A restore never replaces the database under a running controller.
    refused = spawn(
        "restore-refused", *python("controller"), "restore", "--data-dir", data_dir, "--from", copy
    )
    assert refused.popen.wait(60) == 1
    assert "stop it first" in refused.log_text()

    assert controller.stop() == 0
    live_before = event_ids(data_dir / "classcast.sqlite")
    assert live_before == set(panel.acked)
    restored = spawn("restore", *python("controller"), "restore", "--data-dir", data_dir, "--from", copy)
    assert restored.popen.wait(60) == 0, restored.log_text()
    result = json.loads(restored.popen.stdout.read())
    assert event_ids(data_dir / "classcast.sqlite") == in_copy
    assert integrity(data_dir / "classcast.sqlite") == ["ok"]
    # What the restore replaced is kept whole, its last commits merged in from the WAL.
    assert event_ids(Path(result["kept"])) == live_before

    _, url, _ = start_controller(spawn, data_dir, "controller-restored")
    status, health = get_json(url + "/healthz")
    assert status == 200 and health["status"] == "ok", health


def test_a_restore_refuses_what_is_not_a_whole_classcast_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "controller"
    seed_room(data_dir)
    good = tmp_path / "good.sqlite"
    backup(data_dir, good)

    not_ours = tmp_path / "other.sqlite"
    with contextlib.closing(sqlite3.connect(not_ours)) as db:
        db.execute("CREATE TABLE t (x)")
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(good.read_bytes())
    data[4096 : 4096 * 3] = b"\xff" * (4096 * 2)  # overwrite pages past the header: tables torn
    damaged.write_bytes(bytes(data))
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all " * 100)

    for source, reason in (
        (not_ours, "is not a ClassCast controller database"),
        (damaged, "damaged|cannot be read"),
        (text, "cannot be read as a database"),
        (tmp_path / "missing.sqlite", "no backup at"),
    ):
        with pytest.raises(BackupError, match=reason):
            restore(source, data_dir)
    assert integrity(data_dir / "classcast.sqlite") == ["ok"]  # the live database was never touched
    restore(good, data_dir)
