"""Telemetry ingest, end to end: events/s from panels' DEALERs through CURVE and ZAP into SQLite.

The controller's TelemetryIngest runs here on a real database (the controller's migrations, one
enrolled panel per sender). A second process plays the panels, each with its own DEALER and CURVE key
pair, sending batches of 100 heartbeats with up to WINDOW batches awaiting their ack (the agent's
protocol). By default 50 panels: a municipality's controller hears from hundreds, and after an outage
many of them catch up at once. The batches are encoded before the clock starts, and one thread drives
all the panels' sockets, so the figure is the controller's, not the load generator's. Every ack is
checked (all events stored). Meanwhile a greenlet makes a page's small write every 50 ms through
the database's writer, which takes turns with the ingest's transactions: its times, beside the same
write's alone, tell what a flood of telemetry costs the pages.

In the same run, the floor of the work: the same events inserted by sqlite-utils in one transaction
as the rows ingest stores (one row per batch), and, for comparison, as one row per event (what the
walking skeleton stored). The last line holds the figures; issue 6 targets 100,000 events/s end to end.

    .venv/bin/python bench/ingest_bench.py [--panels 50] [--batches 80]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import zmq

from classcast.protocol import FRAME_ACK, FRAME_BATCH, TELEMETRY_PROTOCOL

BATCH = 100
WINDOW = 4  # the agent's default batch_window
BOOT = "0123456789abcdef"


def events(panel: int, batch: int) -> list[dict[str, Any]]:
    now = time.time()
    return [
        {
            "id": f"bench{panel:04d}:{batch * BATCH + n}",
            "type": "heartbeat",
            "wall_time": now,
            "mono_time": 1000.0 + n,
            "clock_synced": True,
            "boot": BOOT,
            "data": {
                "cpu_percent": 3.5,
                "load_1m": 0.2,
                "memory_used_bytes": 512_000_000,
                "temperature_c": 51.0,
            },
        }
        for n in range(BATCH)
    ]


# --- the panels' side (a child process) -----------------------------------------------------------------


def send_all(endpoint: str, server_key: str, keys: list[list[str]], batches: int) -> None:
    """Send `batches` batches from each panel; exit 1 if any ack is short.

    One thread drives every panel's socket through a poller: the panels are other machines, so the
    load generator should spend as little of this machine's CPU as it can (threads would fight over
    the GIL). Encodes every batch first, then says "ready" on stdout and starts when stdin says "go".
    """
    context = zmq.Context()
    bodies = [[_body(index, seq) for seq in range(batches)] for index in range(len(keys))]
    sockets = [_panel_socket(context, endpoint, server_key, *pair) for pair in keys]
    poller = zmq.Poller()
    for sock in sockets:
        poller.register(sock, zmq.POLLIN)
    sent, acked = [0] * len(keys), [0] * len(keys)
    print("ready", flush=True)
    sys.stdin.readline()
    failures = [
        message for index in range(len(keys)) if (message := _fill(sockets, bodies, sent, acked, index))
    ]
    while not failures and sum(acked) < batches * len(keys):
        ready = dict(poller.poll(30_000))
        if not ready:
            failures.append(f"no ack for 30 s; acked {acked}")
        for index, sock in enumerate(sockets):
            if sock not in ready:
                continue
            _protocol, kind, reply = sock.recv_multipart()
            ack = json.loads(reply)
            if kind != FRAME_ACK or ack["stored"] != BATCH:
                failures.append(f"panel {index}: batch {ack.get('seq')}: {kind!r} {ack}")
            acked[index] += 1
            if message := _fill(sockets, bodies, sent, acked, index):
                failures.append(message)
    for sock in sockets:
        sock.close()
    context.term()
    if failures:
        print("\n".join(failures[:10]), file=sys.stderr)
        sys.exit(1)


def _panel_socket(
    context: zmq.Context, endpoint: str, server_key: str, public: str, secret: str
) -> zmq.Socket:
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = (
        public.encode(),
        secret.encode(),
        server_key.encode(),
    )
    sock.connect(endpoint)
    return sock


def _fill(
    sockets: list[zmq.Socket], bodies: list[list[bytes]], sent: list[int], acked: list[int], index: int
) -> str:
    """Send panel `index`'s next batches until WINDOW await their ack; return a failure, if any."""
    while sent[index] < len(bodies[index]) and sent[index] - acked[index] < WINDOW:
        try:
            sockets[index].send_multipart(
                [TELEMETRY_PROTOCOL, FRAME_BATCH, bodies[index][sent[index]]], zmq.NOBLOCK
            )
        except zmq.Again:
            return f"panel {index}: could not send batch {sent[index]}"
        sent[index] += 1
    return ""


def _body(index: int, seq: int) -> bytes:
    batch = {"seq": seq, "sent_at": time.time(), "sent_mono": 2000.0, "boot": BOOT, "clock_synced": True}
    return json.dumps({**batch, "events": events(index, seq)}).encode()


# --- the controller's side ------------------------------------------------------------------------------


def end_to_end(folder: Path, panels: int, batches: int) -> tuple[float, float, list[float], list[float]]:
    """Return events/s from the first send to the last ack, all stored, and the controller's CPU share.

    And the times a page's small write took (seconds): alone, then every 50 ms during the ingest (it
    takes turns with the ingest's transactions on the writer connection).
    """
    from controller.app import create_app
    from controller.ingest import TelemetryIngest, server_keys
    from controller.store import orgs, telemetry
    from controller.store import panels as panel_store

    app = create_app({"data_dir": str(folder / "controller")})
    svc = app.extensions["classcast"]

    def world(db: Any) -> int:
        region = orgs.create_region(db, "54", "Новосибирская область")
        school = orgs.create_school(
            db, orgs.create_municipality(db, region, "Бердск"), "Школа № 1", "СОШ № 1"
        )
        return orgs.create_room(db, school, "101")

    room = svc.db.write(world)
    keys = [[k.decode() for k in zmq.curve_keypair()] for _ in range(panels)]
    for n, (public, _secret) in enumerate(keys):
        svc.db.write(panel_store.enroll_panel, room, f"Панель {n}", public)
    public_key, secret_key = server_keys(svc.data_dir)
    ingest = TelemetryIngest(svc.db, "tcp://127.0.0.1:*", secret_key)
    ingest.start()
    args = json.dumps(
        {"endpoint": ingest.endpoint, "server_key": public_key, "keys": keys, "batches": batches}
    )
    sender = subprocess.Popen(
        [sys.executable, __file__, "--send", args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert sender.stdin is not None and sender.stdout is not None
    if sender.stdout.readline().strip() != "ready":
        sys.exit("ingest bench: the senders did not start")
    alone = [_page_write(svc.db, room) for _ in range(50)]
    during: list[float] = []
    cpu = time.process_time()
    started = time.perf_counter()
    sender.stdin.write("go\n")
    sender.stdin.flush()
    while sender.poll() is None:
        during.append(_page_write(svc.db, room))
        gevent.sleep(0.05)  # the ZAP handler's greenlet runs while we wait
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    ingest.stop()
    stored = telemetry.count_events(svc.db.read)
    svc.db.close()
    if sender.returncode != 0 or stored != panels * batches * BATCH:
        sys.exit(f"ingest bench: senders exited {sender.returncode}, {stored} events stored")
    return stored / elapsed, cpu / elapsed, alone, during


def _page_write(db: Any, room: int) -> float:
    """Return the seconds a small write, as a page makes, took through the database's writer."""
    started = time.perf_counter()
    db.write(lambda conn: conn.execute("UPDATE room SET name = name WHERE id = ?", [room]))
    return time.perf_counter() - started


def _ms(times: list[float], share: float) -> str:
    ordered = sorted(times)
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000:.1f}"


def _floor_db(folder: Path, name: str, panels: int) -> Any:
    from controller import db as controller_db
    from controller.migrations import migrations

    db = controller_db.connect(folder / name)
    migrations.apply(db)
    db["region"].insert({"id": 1, "code": "54", "name": "r"})
    db["municipality"].insert({"id": 1, "region_id": 1, "name": "m"})
    db["school"].insert({"id": 1, "municipality_id": 1, "name": "s", "short_name": "s"})
    db["panel"].insert_all(
        {"id": p + 1, "school_id": 1, "name": f"p{p}", "created_at": "2026-01-01T00:00:00Z"}
        for p in range(panels)
    )
    return db


def floor(folder: Path, panels: int, batches: int) -> tuple[float, float]:
    """Return events/s of the same events inserted with sqlite-utils in one transaction.

    First as the rows ingest stores (one per batch), then as one row per event.
    """
    received = time.time()
    per_batch = [
        {
            "panel_id": p + 1,
            "received_at": received,
            "first_time": received,
            "last_time": received,
            "count": BATCH,
            "events": json.dumps(events(p, b)),
        }
        for p in range(panels)
        for b in range(batches)
    ]
    per_event = [
        {
            "panel_id": p + 1,
            "event_id": event["id"],
            "type": event["type"],
            "wall_time": event["wall_time"],
            "received_at": received,
            "clock_synced": True,
            "data": json.dumps(event["data"]),
        }
        for p in range(panels)
        for b in range(batches)
        for event in events(p, b)
    ]
    db = _floor_db(folder, "floor-batches.sqlite", panels)
    started = time.perf_counter()
    with db.conn:
        db["telemetry_batch"].insert_all(per_batch, batch_size=1000)
    batch_rate = len(per_event) / (time.perf_counter() - started)
    db.close()
    db = _floor_db(folder, "floor-events.sqlite", panels)
    db.execute(
        "CREATE TABLE event_row (panel_id, event_id, type, wall_time, received_at, clock_synced, data,"
        " PRIMARY KEY (panel_id, event_id)) WITHOUT ROWID"
    )
    started = time.perf_counter()
    with db.conn:
        db["event_row"].insert_all(per_event, batch_size=1000)
    event_rate = len(per_event) / (time.perf_counter() - started)
    db.close()
    return batch_rate, event_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=50)
    parser.add_argument("--batches", type=int, default=80, help="batches per panel")
    parser.add_argument("--send", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        job = json.loads(args.send)
        send_all(job["endpoint"], job["server_key"], job["keys"], job["batches"])
        return
    with tempfile.TemporaryDirectory() as tmp:
        rate, cpu, alone, during = end_to_end(Path(tmp), args.panels, args.batches)
        bare, per_event = floor(Path(tmp), args.panels, args.batches)
    total = args.panels * args.batches * BATCH
    print(
        f"ingest: {total} events from {args.panels} panels, batches of {BATCH}, {WINDOW} in flight each: "
        f"end to end {rate:,.0f} events/s (target 100,000: {'met' if rate >= 100_000 else 'NOT met'}), "
        f"the controller busy {cpu:.0%} of the time (all its threads); "
        f"floor (sqlite-utils insert_all in one transaction) {bare:,.0f} events/s as batch rows, "
        f"{per_event:,.0f} as a row per event; ratio to the floor {rate / bare:.2f}; "
        f"a page's write meanwhile p50 {_ms(during, 0.5)} ms, p99 {_ms(during, 0.99)} ms "
        f"({len(during)} writes; alone p50 {_ms(alone, 0.5)} ms, p99 {_ms(alone, 0.99)} ms)",
        flush=True,
    )


if __name__ == "__main__":
    main()
