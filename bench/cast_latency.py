"""How long a teacher waits for a cast: from the request to the panel's acknowledgement, N panels connected.

A real controller (`classcast-controller serve`) on a seeded data folder (bench/controller_world.py),
N simulated panels connected to it over WebSocket as real python-socketio clients speaking the panel
protocol (bench/sim_panels.py). A teacher signs in once and casts a web page to a room with one panel,
`--repeats` times, on one keep-alive HTTP connection as a browser does (`POST /api/casts`, the cookie
and the CSRF header). Each cast is timed from the request sent to the panel's ack (the `shown_at` the
panel put in its ack, which the answer carries; one clock on this machine) and to the answer received.
The controller's memory (RSS) is read before any panel connected and with all N connected.

In the same run, the floor: a bare Flask-SocketIO app on gevent (bench/panel_floor.py), the same N
clients connected to it, emitting `show` to one of them and waiting for the ack, timed in the server;
and the same through an HTTP request on a keep-alive connection. Targets (issue 7): cast p99 ≤ 10 ms
with 1,000 panels connected; ≤ 100 KB of controller memory per connected panel. The last line holds
the figures.

    .venv/bin/python bench/cast_latency.py [--panels 1000] [--repeats 500] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from controller_world import (
    TEACHER,
    ControllerProcess,
    StaffSession,
    World,
    figures_line,
    percentiles,
    seed,
    settle,
)
from panel_floor import FloorProcess
from sim_panels import Fleet, raise_open_files

WARM_UP = 20
TARGET_P99_MS = 10.0
TARGET_KB_PER_PANEL = 100.0


def measure_controller(args: argparse.Namespace, world: World) -> dict[str, float]:
    """Return the controller's figures: cast to ack and to answer (p50, p99 ms), memory per panel."""
    controller = ControllerProcess(args.data_dir)
    url = controller.start()
    teacher = StaffSession(url)
    fleet = Fleet(url, world.tokens, args.workers)
    try:
        teacher.sign_in(TEACHER)
        cast(teacher, world.cast_room, 0)  # the panel is offline: warms the cast's code, no ack
        settle()
        bare = controller.rss()
        connect_s = fleet.connect()
        settle()
        connected = controller.rss()
        for n in range(WARM_UP):
            cast(teacher, world.cast_room, n)
        to_ack, to_answer = [], []
        for n in range(args.repeats):
            sent, started = time.time(), time.perf_counter()
            shown_at = cast(teacher, world.cast_room, n, expect_ok=True)
            to_answer.append(time.perf_counter() - started)
            to_ack.append(shown_at - sent)
        files = controller.open_files_limit()
    finally:
        teacher.close()
        controller.stop()
        fleet.close()
    ack_p50, ack_p99 = percentiles(to_ack)
    answer_p50, answer_p99 = percentiles(to_answer)
    return {
        "cast_ack_p50_ms": ack_p50,
        "cast_ack_p99_ms": ack_p99,
        "cast_answer_p50_ms": answer_p50,
        "cast_answer_p99_ms": answer_p99,
        "controller_rss_mb": bare / 2**20,
        "controller_rss_connected_mb": connected / 2**20,
        "kb_per_panel": (connected - bare) / 1024 / args.panels,
        "connect_s": connect_s,
        "controller_nofile": files,
    }


def cast(teacher: StaffSession, room_id: int, n: int, expect_ok: bool = False) -> float:
    """Return the panel's `shown_at` for one cast of a web page to the room (NaN if it did not show)."""
    body = {"room_id": room_id, "url": f"https://example.org/lesson/{n}", "title": f"Урок {n}"}
    status, answer = teacher.json("POST", "/api/casts", body)
    shown = answer.get("casts", [{}])[0] if status == 200 else {}
    if expect_ok and not shown.get("ok"):
        sys.exit(f"cast {n}: {status} {json.dumps(answer, ensure_ascii=False)[:300]}")
    return shown.get("shown_at", float("nan"))


def measure_floor(args: argparse.Namespace, world: World) -> dict[str, float]:
    """Return the bare app's figures: emit→ack in the server, request→ack and →answer, memory per client.

    The same clients connect (the bare app takes any token), and the cast room's panel is the one asked.
    """
    floor = FloorProcess()
    url = floor.start()
    fleet = Fleet(url, world.tokens, args.workers)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        settle(1)
        bare = floor.rss()
        fleet.connect()
        settle()
        connected = floor.rss()
        conn.request("GET", f"/floor/emit-ack?token={world.cast_token}&repeats={args.repeats + WARM_UP}")
        emit_ack = json.loads(conn.getresponse().read())["times"][WARM_UP:]
        to_ack, to_answer = [], []
        for n in range(args.repeats + WARM_UP):
            body = json.dumps({"token": world.cast_token, "cast_id": f"http-{n}"})
            sent, started = time.time(), time.perf_counter()
            conn.request("POST", "/floor/show", body, {"Content-Type": "application/json"})
            shown_at = json.loads(conn.getresponse().read())["shown_at"]
            if n >= WARM_UP:
                to_answer.append(time.perf_counter() - started)
                to_ack.append(shown_at - sent)
    finally:
        conn.close()
        floor.stop()
        fleet.close()
    emit_p50, emit_p99 = percentiles(emit_ack)
    ack_p50, ack_p99 = percentiles(to_ack)
    answer_p50, answer_p99 = percentiles(to_answer)
    return {
        "floor_emit_ack_p50_ms": emit_p50,
        "floor_emit_ack_p99_ms": emit_p99,
        "floor_http_ack_p50_ms": ack_p50,
        "floor_http_ack_p99_ms": ack_p99,
        "floor_http_answer_p50_ms": answer_p50,
        "floor_http_answer_p99_ms": answer_p99,
        "floor_kb_per_client": (connected - bare) / 1024 / len(world.tokens),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, help="simulated panels connected (default 1000; --quick 50)")
    parser.add_argument("--repeats", type=int, help="casts timed (default 500; --quick 100)")
    parser.add_argument("--workers", type=int, default=0, help="panel processes (default: 1 per 2,000)")
    parser.add_argument("--data-dir", type=Path, help="the controller's folder (default var/bench/cast-N)")
    parser.add_argument("--quick", action="store_true", help="a small run, to try the bench")
    args = parser.parse_args()
    args.panels = args.panels or (50 if args.quick else 1000)
    args.repeats = args.repeats or (100 if args.quick else 500)
    args.data_dir = args.data_dir or Path("var/bench") / f"cast-{args.panels}"
    raise_open_files()
    load, started = os.getloadavg()[0], time.monotonic()
    world = seed(args.data_dir, args.panels)
    figures = measure_controller(args, world)
    print(
        f"controller: {args.panels} panels connected in {figures['connect_s']:.1f} s; RSS "
        f"{figures['controller_rss_mb']:.1f} MB bare, {figures['controller_rss_connected_mb']:.1f} MB "
        f"connected; open files allowed {figures['controller_nofile']}; log {args.data_dir}/controller.log",
        flush=True,
    )
    figures |= measure_floor(args, world)
    met = figures["cast_ack_p99_ms"] <= TARGET_P99_MS and figures["kb_per_panel"] <= TARGET_KB_PER_PANEL
    line = {
        "panels": args.panels,
        "casts": args.repeats,
        **{k: v for k, v in figures.items() if k not in ("controller_rss_connected_mb", "controller_nofile")},
        "target_p99_ms": TARGET_P99_MS,
        "target_kb_per_panel": TARGET_KB_PER_PANEL,
        "met": "yes" if met else "no",
        "seconds": time.monotonic() - started,
        "load_before": load,  # other work on this machine meanwhile makes every figure worse
    }
    print(figures_line("cast_latency", line), flush=True)


if __name__ == "__main__":
    main()
