"""The controller watching itself: /metrics (and who may read it), /healthz in words, journal records.

In-process, through Flask's test client, with telemetry over real ZeroMQ on loopback and a panel over
Flask-SocketIO's test client; the journal handler writes to a datagram socket the test binds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import zmq.green as zmq_green
from flask import Flask
from flask.testing import FlaskClient

from classcast.identity import ensure_identity
from classcast.journal import JournalHandler, encode
from classcast.protocol import FRAME_ACK, FRAME_BATCH, PANEL_NAMESPACE, TELEMETRY_PROTOCOL
from controller.app import Services, create_app
from controller.ingest import TelemetryIngest, server_keys
from controller.store import orgs, panels, users

PASSWORD = "урок-начинается"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {"data_dir": str(tmp_path / "controller"), "secure_cookies": False, "cast_ack_timeout": 0.5}
    )
    yield app
    app.extensions["classcast"].db.close()


@pytest.fixture
def room_with_panel(app: Flask, tmp_path: Path) -> dict[str, Any]:
    """A school with a room, its teacher, and one enrolled panel (its token and its key pair)."""
    svc: Services = app.extensions["classcast"]

    def build(db: Any) -> tuple[int, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        school = orgs.create_school(
            db, orgs.create_municipality(db, region, "Бердск"), "Школа № 5", "СОШ № 5"
        )
        return school, orgs.create_room(db, school, "Кабинет 5")

    school, room = svc.db.write(build)
    svc.db.write(users.create_user, "teacher", PASSWORD, "Учитель", "teacher", "school", school)
    identity = ensure_identity(tmp_path / "panel")
    panel_id, token = svc.db.write(panels.enroll_panel, room, "Панель 5", identity.public_key)
    return {"room": room, "panel": panel_id, "token": token, "identity": identity}


def scrape(client: FlaskClient, **headers: str) -> dict[str, float]:
    """Return the samples of /metrics by name-with-labels, having checked the answer is Prometheus's."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")  # the text exposition format
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_answer_loopback_and_the_token_only(tmp_path: Path) -> None:
    app = create_app({"data_dir": str(tmp_path / "c"), "metrics_token": "s3cret-scrape-token"})
    client = app.test_client()
    try:
        assert client.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
        # Through nginx, a request also comes from 127.0.0.1, but says whom it was forwarded for.
        assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
        remote = {"REMOTE_ADDR": "203.0.113.7"}
        assert client.get("/metrics", environ_base=remote).status_code == 403
        wrong = {"Authorization": "Bearer guess"}
        assert client.get("/metrics", environ_base=remote, headers=wrong).status_code == 403
        right = {"Authorization": "Bearer s3cret-scrape-token", "X-Forwarded-For": "203.0.113.7"}
        assert client.get("/metrics", environ_base=remote, headers=right).status_code == 200
    finally:
        app.extensions["classcast"].db.close()


def test_request_latency_is_timed_per_route_endpoint(client: FlaskClient) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page")
    samples = scrape(client)
    ok = 'endpoint="health.healthz",method="GET",status="200"'
    assert samples[f"classcast_http_request_duration_seconds_count{{{ok}}}"] == 2
    assert samples[f"classcast_http_request_duration_seconds_sum{{{ok}}}"] > 0
    # Unmatched paths share one label: a scanner's thousand paths must not make a thousand series.
    missing = 'endpoint="unmatched",method="GET",status="404"'
    assert samples[f"classcast_http_request_duration_seconds_count{{{missing}}}"] == 1


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_casts_and_connected_panels_are_counted(
    app: Flask, client: FlaskClient, room_with_panel: dict[str, Any]
) -> None:
    svc: Services = app.extensions["classcast"]
    assert scrape(client)["classcast_panels_connected"] == 0
    panel = svc.socketio.test_client(app, namespace=PANEL_NAMESPACE, auth={"token": room_with_panel["token"]})
    assert panel.is_connected(PANEL_NAMESPACE)
    assert scrape(client)["classcast_panels_connected"] == 1
    panel.disconnect(namespace=PANEL_NAMESPACE)
    assert scrape(client)["classcast_panels_connected"] == 0

    csrf = _sign_in(client, "teacher")
    body = {"room_id": room_with_panel["room"], "url": "https://example.org/lesson"}
    answer = client.post("/api/casts", json=body, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200 and answer.json["casts"][0]["ok"] is False  # the panel is offline
    samples = scrape(client)
    assert samples['classcast_casts_total{result="failed"}'] == 1
    assert samples['classcast_casts_total{result="ok"}'] == 0


def _sign_in(client: FlaskClient, login: str) -> str:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client.get("/api/session").json["csrf_token"]


def test_ingest_counts_batches_events_lag_and_the_spools_agents_report(
    app: Flask, client: FlaskClient, room_with_panel: dict[str, Any]
) -> None:
    svc: Services = app.extensions["classcast"]
    public, secret = server_keys(svc.data_dir)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", secret, svc.metrics)
    ingest.start()
    identity = room_with_panel["identity"]
    dealer = ingest.context.socket(zmq_green.DEALER)
    dealer.linger = 0
    dealer.curve_publickey, dealer.curve_secretkey = (
        identity.public_key.encode(),
        identity.secret_key.encode(),
    )
    dealer.curve_serverkey = public.encode()
    dealer.connect(ingest.endpoint)
    try:
        now = time.time()
        events = [
            _event("a:1", "heartbeat", now - 30, {"spool_events": 40, "spool_dropped": 2}),
            _event("a:2", "heartbeat", now - 1, {"spool_events": 7, "spool_dropped": 3}),
            _event("a:3", "nonsense", now, {}),
        ]
        assert _send(dealer, 1, events)["stored"] == 2
        assert _send(dealer, 2, events[:1])["duplicates"] == 1  # a resend after a lost ack
    finally:
        dealer.close()
        ingest.stop()
    samples = scrape(client)
    assert samples['classcast_ingest_batches_total{result="acked"}'] == 2
    assert samples['classcast_ingest_events_total{result="stored"}'] == 2
    assert samples['classcast_ingest_events_total{result="duplicate"}'] == 1
    assert samples['classcast_ingest_events_total{result="rejected"}'] == 1
    # One lag a batch that stored clock-synced events: its newest, a:2, 1 s old; the resend stored none.
    assert samples["classcast_ingest_lag_seconds_count"] == 1
    assert samples['classcast_ingest_lag_seconds_bucket{le="5.0"}'] == 1
    # The newest heartbeat of the panel wins: 7 waiting, 3 dropped.
    assert samples["classcast_panel_spool_events"] == 7
    assert samples["classcast_panel_spool_events_max"] == 7
    assert samples["classcast_panel_spool_dropped_events"] == 3
    assert samples["classcast_panels_reporting_spool"] == 1


def _event(event_id: str, kind: str, wall_time: float, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "wall_time": wall_time,
        "mono_time": 1.0,
        "clock_synced": True,
        "data": data,
    }


def _send(dealer: zmq_green.Socket, seq: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    dealer.send_multipart(
        [TELEMETRY_PROTOCOL, FRAME_BATCH, json.dumps({"seq": seq, "events": events}).encode()]
    )
    with gevent.Timeout(5):
        _, kind, body = dealer.recv_multipart()
    assert kind == FRAME_ACK, body
    return json.loads(body)


def test_behind_a_proxy_the_client_address_comes_from_the_proxy_header(tmp_path: Path) -> None:
    """proxy_hops = 1 (nginx): audit and throttling see the client, not 127.0.0.1; 0 trusts no header."""
    for hops, expected in ((1, "203.0.113.9"), (0, "127.0.0.1")):
        app = create_app(
            {"data_dir": str(tmp_path / f"c{hops}"), "secure_cookies": False, "proxy_hops": hops}
        )
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # a forged entry, then nginx's own
        client.post("/login", data={"login": "nobody", "password": "x", "csrf_token": token}, headers=headers)
        db = app.extensions["classcast"].db
        ips = [
            row["ip"] for row in db.read.query("SELECT ip FROM audit_event WHERE action = 'sign_in_failed'")
        ]
        db.close()
        assert ips == [expected]


def test_healthz_names_what_is_wrong(app: Flask, client: FlaskClient) -> None:
    svc: Services = app.extensions["classcast"]
    svc.settings["health_min_free_mb"] = 10**12  # more than any disk: the check must fail, and say so
    svc.ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", server_keys(svc.data_dir)[1])
    svc.ingest.start()
    svc.ingest._stopping = True  # the ROUTER's thread ends, as an unexpected error would end it
    svc.ingest._router_job.wait(2)
    try:
        response = client.get("/healthz")
    finally:
        svc.ingest.stop()
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "failing"
    assert body["checks"]["telemetry"].startswith("stopped: ")
    assert body["checks"]["disk"].startswith("low: ") and "health_min_free_mb" in body["checks"]["disk"]
    assert body["checks"]["database"] == "ok"
    assert [p.split(":")[0] for p in body["problems"]] == ["telemetry", "disk"]


# --- the journal ----------------------------------------------------------------------------------


def test_journal_records_carry_priority_logger_code_and_extra_fields(socket_dir: Path) -> None:
    address = socket_dir / "journal"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as journald:
        journald.bind(str(address))
        journald.settimeout(5)
        handler = JournalHandler("classcast-controller", address)
        log = logging.getLogger("controller.test_journal")
        log.addHandler(handler)
        log.propagate = False
        try:
            log.error("panel %s sent a bad batch", 7, extra={"panel_id": 7, "batch-seq": 12})
            log.warning("two\nlines")
        finally:
            log.removeHandler(handler)
            handler.close()
        first, second = _parse(journald.recv(65536)), _parse(journald.recv(65536))
    assert first["MESSAGE"] == "panel 7 sent a bad batch"
    assert first["PRIORITY"] == "3"
    assert first["SYSLOG_IDENTIFIER"] == "classcast-controller"
    assert first["LOGGER"] == "controller.test_journal"
    assert first["CODE_FILE"].endswith("test_observability.py") and first["CODE_FUNC"].startswith(
        "test_journal"
    )
    assert first["PANEL_ID"] == "7" and first["BATCH_SEQ"] == "12"
    assert second["MESSAGE"] == "two\nlines" and second["PRIORITY"] == "4"


def _parse(datagram: bytes) -> dict[str, str]:
    """Return the fields of one native-protocol datagram (the way journald reads it)."""
    fields, rest = {}, datagram
    while rest:
        line, _, tail = rest.partition(b"\n")
        if b"=" in line:
            name, _, value = line.partition(b"=")
            fields[name.decode()], rest = value.decode(), tail
        else:
            (size,) = struct.unpack("<Q", tail[:8])
            fields[line.decode()], rest = tail[8 : 8 + size].decode(), tail[8 + size + 1 :]
    return fields


def test_encode_round_trips_through_the_parser() -> None:
    fields = {"MESSAGE": "a\nb=c", "X": "y"}
    assert _parse(encode(fields)) == fields


def test_records_go_to_the_journal_only_when_stderr_is_journald_s(tmp_path: Path) -> None:
    """systemd names its stream in $JOURNAL_STREAM; anything else on stderr keeps plain lines."""
    probe = "from classcast.journal import stderr_is_journal; print(stderr_is_journal())"
    stderr_file = tmp_path / "stderr"
    with stderr_file.open("wb") as stderr:
        stat = os.fstat(stderr.fileno())
        for stream, expected in ((f"{stat.st_dev}:{stat.st_ino}", "True"), ("1:2", "False"), ("", "False")):
            env = {**os.environ, "JOURNAL_STREAM": stream}
            out = subprocess.run(
                [sys.executable, "-c", probe], stdout=subprocess.PIPE, stderr=stderr, env=env, check=True
            )
            assert out.stdout.decode().strip() == expected
