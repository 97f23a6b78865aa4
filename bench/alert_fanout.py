"""How long until every screen of a municipality shows an alert: N panels connected, all acknowledged.

A real controller (`classcast-controller serve`) on a seeded data folder (bench/controller_world.py):
one municipality, N panels, all connected over WebSocket as real python-socketio clients speaking the
panel protocol (bench/sim_panels.py, a few worker processes). The municipality's coordinator signs in
once and, `--repeats` times on the same keep-alive connection, sends an alert (`POST /api/alerts`) and
then clears it (`POST /api/alerts/<id>/clear`). Each is timed from the request sent to the last
panel's ack (the panels note their acks' wall times; one clock on this machine), and to the answer.
After each alert the controller's own count is checked (`GET /api/alerts/<id>`: acked = total).
The controller's memory (RSS) is read before any panel connected and with all N connected.

In the same run, the floor: a bare Flask-SocketIO app on gevent (bench/panel_floor.py), the same N
clients connected to it, emitting the alert to each with an ack callback from one HTTP request, timed
the same way to the last ack. Targets (issue 7): all acked ≤ 1 s with 5,000 panels; ≤ 100 KB of
controller memory per connected panel. The last line holds the figures.

    .venv/bin/python bench/alert_fanout.py [--panels 5000] [--repeats 10] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controller_world import (
    MUNICIPAL,
    ControllerProcess,
    StaffSession,
    figures_line,
    percentiles,
    seed,
    settle,
)
from panel_floor import FloorProcess
from sim_panels import Acks, Fleet, raise_open_files

ACK_TIMEOUT_S = 30.0
COUNTED_TIMEOUT_S = 5.0
TARGET_MS = 1000.0
TARGET_KB_PER_PANEL = 100.0


def measure_controller(args: argparse.Namespace, tokens: list[str]) -> dict[str, object]:
    """Return the controller's figures: alert and clear to all acked, to the answer, its CPU; memory."""
    controller = ControllerProcess(args.data_dir)
    url = controller.start()
    coordinator = StaffSession(url)
    fleet = Fleet(url, tokens, args.workers)
    times: dict[str, list[float]] = {}
    try:
        coordinator.sign_in(MUNICIPAL)
        settle()
        bare = controller.rss()
        connect_s = fleet.connect()
        settle()
        connected = controller.rss()
        for n in range(-1, args.repeats):  # the first, -1, warms up
            alert_id = send_and_clear(coordinator, fleet, n, controller.cpu_seconds, times if n >= 0 else {})
        files = controller.open_files_limit()
    finally:
        coordinator.close()
        controller.stop()
        fleet.close()
    figures: dict[str, object] = {}
    counted = times.pop("counted")
    for name, seconds in times.items():
        figures[f"{name}_p50_ms"], figures[f"{name}_p99_ms"] = percentiles(seconds)
    figures |= {
        "counted_all": f"{sum(counted)}/{len(counted)}",
        "controller_rss_mb": bare / 2**20,
        "kb_per_panel": (connected - bare) / 1024 / len(tokens),
        "connect_s": connect_s,
        "controller_nofile": files,
        "last_alert": alert_id,
    }
    return figures


def send_and_clear(
    coordinator: StaffSession, fleet: Fleet, n: int, cpu: Callable[[], float], times: dict[str, list[float]]
) -> int:
    """Return the id of an alert sent and then cleared, each fan-out timed into `times`."""
    body = {"title": "Учебная тревога", "text": f"Проверка оповещения № {n + 1}", "level": "danger"}
    alert = fan_out(
        "alert", lambda: _post(coordinator, "/api/alerts", body, 201), "alert:{id}", fleet, cpu, times
    )
    _add(times, counted=_counted(coordinator, alert["id"], fleet.connected))  # the acks' batched writes
    clear = f"/api/alerts/{alert['id']}/clear"
    fan_out("clear", lambda: _post(coordinator, clear, None, 200), "alert:null", fleet, cpu, times)
    return alert["id"]


def fan_out(
    name: str,
    send: Callable[[], dict[str, Any]],
    key: str,
    fleet: Fleet,
    server_cpu: Callable[[], float],
    times: dict[str, list[float]],
) -> dict[str, Any]:
    """Return the answer of `send()`, timed with the fan-out it starts: until every panel acked `key`.

    Into `times` under `name`: seconds to the last ack, to the answer, and the CPU seconds the server
    and the panels' workers spent meanwhile (`key` may name the answer's fields, e.g. "alert:{id}").
    """
    used, panels_used = server_cpu(), fleet.cpu_seconds()
    sent, started = time.time(), time.perf_counter()
    answer = send()
    answered = time.perf_counter() - started
    acks = _all_acked(fleet, key.format(**answer))
    spent = {f"{name}_cpu": server_cpu() - used, f"{name}_panels_cpu": fleet.cpu_seconds() - panels_used}
    _add(times, **{name: acks.last - sent, f"{name}_answer": answered}, **spent)
    return answer


def _post(staff: StaffSession, path: str, body: Any, expected: int) -> dict[str, Any]:
    status, answer = staff.json("POST", path, body)
    if status != expected:
        sys.exit(f"POST {path}: {status} {json.dumps(answer, ensure_ascii=False)[:300]}")
    return answer


def _add(times: dict[str, list[float]], **seconds: float) -> None:
    for name, value in seconds.items():
        times.setdefault(name, []).append(value)


def _all_acked(fleet: Fleet, key: str) -> Acks:
    acks = fleet.wait(key, ACK_TIMEOUT_S)
    if acks.count != fleet.connected:
        sys.exit(f"{key}: {acks.count} of {fleet.connected} panels acknowledged in {ACK_TIMEOUT_S:.0f} s")
    return acks


def _counted(coordinator: StaffSession, alert_id: int, panels: int) -> bool:
    """Return whether the controller recorded every panel's ack of the alert (it writes them in batches)."""
    deadline = time.monotonic() + COUNTED_TIMEOUT_S
    while time.monotonic() < deadline:
        alert = coordinator.json("GET", f"/api/alerts/{alert_id}")[1]
        if alert["acked"] == alert["total"] == panels:
            return True
        time.sleep(0.1)
    print(f"alert {alert_id}: the controller counts {alert['acked']} of {alert['total']} acked", flush=True)
    return False


def measure_floor(args: argparse.Namespace, tokens: list[str]) -> dict[str, float]:
    """Return the bare app's figures: one request emitting the alert to each client, to all acked."""
    floor = FloorProcess()
    url = floor.start()
    fleet = Fleet(url, tokens, args.workers)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    times: dict[str, list[float]] = {}
    try:
        settle(1)
        bare = floor.rss()
        fleet.connect()
        settle()
        connected = floor.rss()
        for n in range(-1, args.repeats):  # the first, -1, warms up
            body = json.dumps({"id": f"floor-{n}"})
            fan_out(
                "floor",
                functools.partial(_floor_alert, conn, body),
                f"alert:floor-{n}",
                fleet,
                floor.cpu_seconds,
                times if n >= 0 else {},
            )
    finally:
        conn.close()
        floor.stop()
        fleet.close()
    figures = {"floor_kb_per_client": (connected - bare) / 1024 / len(tokens)}
    for name, seconds in times.items():
        figures[f"{name}_p50_ms"], figures[f"{name}_p99_ms"] = percentiles(seconds)
    return figures


def _floor_alert(conn: http.client.HTTPConnection, body: str) -> dict[str, Any]:
    conn.request("POST", "/floor/alert", body, {"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, help="simulated panels connected (default 5000; --quick 100)")
    parser.add_argument("--repeats", type=int, help="alerts timed (default 10; --quick 5)")
    parser.add_argument("--workers", type=int, default=0, help="panel processes (default: 1 per 2,000)")
    parser.add_argument("--data-dir", type=Path, help="the controller's folder (default var/bench/alert-N)")
    parser.add_argument("--quick", action="store_true", help="a small run, to try the bench")
    args = parser.parse_args()
    args.panels = args.panels or (100 if args.quick else 5000)
    args.repeats = args.repeats or (5 if args.quick else 10)
    args.data_dir = args.data_dir or Path("var/bench") / f"alert-{args.panels}"
    raise_open_files()
    load, started = os.getloadavg()[0], time.monotonic()
    tokens = seed(args.data_dir, args.panels).tokens
    figures = measure_controller(args, tokens)
    print(
        f"controller: {args.panels} panels connected in {figures.pop('connect_s'):.1f} s; "
        f"open files allowed {figures.pop('controller_nofile')}; the last alert {figures.pop('last_alert')}; "
        f"log {args.data_dir}/controller.log",
        flush=True,
    )
    figures |= measure_floor(args, tokens)
    met = figures["alert_p99_ms"] <= TARGET_MS and figures["kb_per_panel"] <= TARGET_KB_PER_PANEL
    line = {
        "panels": args.panels,
        "alerts": args.repeats,
        **figures,
        "target_ms": TARGET_MS,
        "target_kb_per_panel": TARGET_KB_PER_PANEL,
        "met": "yes" if met else "no",
        "seconds": time.monotonic() - started,
        "load_before": load,  # other work on this machine meanwhile makes every figure worse
    }
    print(figures_line("alert_fanout", line), flush=True)


if __name__ == "__main__":
    main()
