"""The player daemon's memory while it shows casts, beside a bare gevent + Socket.IO process in one run.

One real panel (`Panel`, shared with bench/cast_visible.py): a real controller (`classcast-controller
serve` on a folder seeded by bench/controller_world.py: one school, one room, its panel), the real
player (`classcast-player`) enrolled as that panel, and Debian's Chromium, headless, full screen at
1920×1080, showing the player's kiosk page as a panel's kiosk browser does, its DevTools on a loopback
port the player is told of, as on a panel (the player takes screenshots and watches the page there).
A teacher signs in and uploads photos (JPEG, 1920×1080, about 650 KB) and three-page PDFs (the
controller renders the pages to PNG), each unlike the others.

Once the page is attached and a first cast shown, the player's memory is read through psutil every
half second for `--seconds` (RSS; USS and PSS from smaps), while the teacher casts a photo, a PDF and
a text card in turn every `--cast-every` seconds (three photos and three PDFs, round after round).
Peak: the highest sample; steady: the median of the window's last third. Chromium is not counted.

The floor, in the same run: a bare Python process that loads what any Socket.IO player on gevent
must load (gevent, monkey-patched, and python-socketio's client with websocket-client), read from
outside the same way. python-engineio also loads requests when it can, and needs it for long-polling;
a player that connects by WebSocket only can keep requests out, so the floor loads requests exactly
when the player does (asked of a fresh process that imports the player; said on the `player:` line).

With `--where`, the lines before the last say where the player's memory goes, in fresh processes:
RSS and the bytes of Python objects (tracemalloc) after each step of the player's imports, and
tracemalloc's top ten files; gevent's monkey-patching patch by patch; what the Socket.IO stack's
parts (requests and its own among them) would add to a patched process, each alone; and the
player's threads while it runs (each has a stack and may have a malloc arena). The last line holds
the figures; issue 5 targets player RSS ≤ 40 MB (Chromium aside), which `met` checks against the peak.

    .venv/bin/python bench/player_memory.py [--seconds 60] [--cast-every 3] [--where]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import requests
from controller_world import MARK, TEACHER, ControllerProcess, StaffSession, figures_line, seed
from PIL import Image, ImageDraw

from classcast.identity import ensure_identity, save_enrollment
from controller.demo_panels import CHROMIUM_FLAGS
from controller.ingest import server_keys

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CLASSCAST_CHROMIUM", "/usr/bin/chromium")
SCREEN = (1920, 1080)  # a classroom panel's
WAIT_S = 30.0
SAMPLE_EVERY = 0.5
MB = 1_000_000  # the target's MB, as bench/agent_footprint.py's: 40 MB is 38.1 MiB
TARGET_RSS_MB = 40.0
DISTINCT = 3  # photos and PDFs the memory bench casts in turn
# What any Socket.IO client on gevent loads: nothing of ClassCast's. It waits until its stdin closes.
# Its argument says whether to keep requests out, as the player may (python-engineio then loads none).
FLOOR_CODE = """
import sys
from gevent import monkey
monkey.patch_all()
if sys.argv[1] == "without-requests":
    sys.modules["requests"] = None
import socketio, websocket
socketio.Client()
print("ready", flush=True)
sys.stdin.read()
"""
# Whether the player, once imported as its daemon starts, has requests loaded.
LOADS_REQUESTS_CODE = """
import sys
import player.__main__
print("yes" if sys.modules.get("requests") is not None else "no")
"""
# RSS (kB, from /proc) and the Python objects' bytes (tracemalloc, when asked: it costs RSS of its own)
# after each step of the player's imports; then tracemalloc's top ten files.
WHERE_CODE = """
import importlib, sys, tracemalloc
def step(name):
    rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
    print("step", name, rss, tracemalloc.get_traced_memory()[0], flush=True)
if sys.argv[1] == "tracemalloc":
    tracemalloc.start()
step("python")
from gevent import monkey
monkey.patch_all()
step("gevent.monkey.patch_all")
if sys.argv[2] == "without-requests":
    sys.modules["requests"] = None
for name in sys.argv[3:]:
    importlib.import_module(name)
    step(name)
if tracemalloc.is_tracing():
    for stat in tracemalloc.take_snapshot().statistics("filename")[:10]:
        print("file", stat.size, stat.traceback[0].filename)
"""
# The player's imports, in steps: the Socket.IO stack, then the player's own dependencies, then its modules.
WHERE_STEPS = [
    *("socketio", "websocket", "zmq.green", "sqlite3"),
    *("classcast.identity", "classcast.events", "classcast.journal", "agent.clock", "classcast.durable"),
    *("player.cache", "player.kiosk", "player.commands", "player.client", "player.usage"),
    *("player.pairing", "player.__main__"),
]
# RSS (kB) after `import gevent.monkey`, then after each of patch_all's patches, in patch_all's order.
PATCHES_CODE = """
from gevent import monkey
def step(name):
    rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
    print(name, rss, flush=True)
step("python+gevent.monkey")
for name in ("os", "thread", "time", "socket", "select", "selectors", "ssl", "subprocess", "builtins",
             "signal", "queue", "contextvars"):
    getattr(monkey, "patch_" + name)()
    step("patch_" + name)
monkey.patch_all()
step("patch_all")
"""
# What a package adds to a gevent-patched process, alone: RSS (kB) before, after. The Socket.IO stack's
# parts, so that a client of another make can be weighed; "socketio" is taken without requests.
ALONE_CODE = """
import importlib, sys
from gevent import monkey
monkey.patch_all()
def rss():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
before = rss()
if sys.argv[1] == "socketio":
    sys.modules["requests"] = None
importlib.import_module(sys.argv[1])
print(before, rss())
"""
ALONE = ("websocket", "socketio", "urllib3", "charset_normalizer", "idna", "certifi", "requests")


# --- one real panel ----------------------------------------------------------------------------------


class Panel:
    """A controller, the player enrolled with it, Chromium showing the kiosk page, a teacher signed in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()  # relative, the controller would serve content from the wrong folder
        self.controller = ControllerProcess(self.folder / "controller")
        self.teacher: StaffSession | None = None
        self.player: subprocess.Popen[bytes] | None = None
        self.chromium: subprocess.Popen[bytes] | None = None
        self.room_id = 0
        self.kiosk_url = ""
        self.devtools_url = ""  # the kiosk browser's, which the player is told as on a panel
        self.photos: list[int] = []  # material ids
        self.pdfs: list[int] = []

    def start(self, distinct: int = 1) -> None:
        """Start everything, upload `distinct` photos and PDFs, and return once a text card is on screen."""
        _fresh(self.folder)
        world = seed(self.folder / "controller", 1)
        self.room_id = world.cast_room
        panel_dir = self.folder / "panel"
        ensure_identity(panel_dir)
        # The seeded panel's CURVE key is not this player's: only the agent's telemetry would notice.
        controller_key, _ = server_keys(self.folder / "controller")
        save_enrollment(panel_dir, token=world.cast_token, controller_key=controller_key)
        url = self.controller.start()
        self.teacher = StaffSession(url)
        self.teacher.sign_in(TEACHER)
        port = _free_port()
        self.devtools_url = f"http://127.0.0.1:{port}"
        self.player, self.kiosk_url = _start_player(panel_dir, url, self.devtools_url, self.folder)
        self.chromium = _start_chromium(self.kiosk_url, self.folder / "chromium", port)
        _wait(lambda: _get(self.kiosk_url + "healthz") == b"attached", "the kiosk page to attach")
        _wait(lambda: _get(self.devtools_url + "/json/version"), "Chromium's DevTools")
        _wait(self._panel_online, "the player to connect to the controller")
        self.photos = [self._upload(photo_jpeg(n), f"photo-{n}.jpg") for n in range(distinct)]
        self.pdfs = [self._upload(slides_pdf(n), f"slides-{n}.pdf") for n in range(distinct)]
        self.cast(text_card(0))

    def _panel_online(self) -> bool:
        assert self.teacher is not None
        rooms = self.teacher.json("GET", "/api/cast/rooms")[1]["rooms"]
        room = next(room for room in rooms if room["room_id"] == self.room_id)
        return all(panel["online"] for panel in room["panels"])

    def _upload(self, data: bytes, name: str) -> int:
        """Return the id of the teacher's new material (multipart, the session's cookie and CSRF token)."""
        assert self.teacher is not None
        answer = requests.post(
            self.controller.url + "/api/materials",
            files={"file": (name, data)},
            data={"title": name},
            cookies=self.teacher.cookies,
            headers={"X-CSRF-Token": self.teacher.csrf},
            timeout=WAIT_S,
        )
        if answer.status_code != 201:
            sys.exit(f"upload of {name}: {answer.status_code} {answer.text[:300]}")
        return answer.json()["id"]

    def cast(self, source: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """Return when the teacher's cast was sent (wall clock, s) and the panel's answer, shown."""
        assert self.teacher is not None
        sent = time.time()
        status, answer = self.teacher.json("POST", "/api/casts", {"room_id": self.room_id, **source})
        shown = answer.get("casts", [{}])[0] if status == 200 else {}
        if not shown.get("ok"):
            sys.exit(f"cast {source}: {status} {str(answer)[:300]}; logs in {self.folder}")
        return sent, shown

    def round(self, n: int) -> list[tuple[str, dict[str, Any]]]:
        """Return the casts of round `n`, by kind: its photo, its PDF, a text card; each unlike the last."""
        photo, pdf = self.photos[n % len(self.photos)], self.pdfs[n % len(self.pdfs)]
        return [("image", {"material": photo}), ("pdf", {"material": pdf}), ("text", text_card(n))]

    def stop(self) -> None:
        if self.teacher is not None:
            self.teacher.close()
        if self.chromium is not None:
            _stop_group(self.chromium)
        if self.player is not None:
            _stop(self.player)
        self.controller.stop()


def _fresh(folder: Path) -> None:
    """Empty the bench's folder (only one a bench made) and mark it as a bench's."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARK).exists():
        sys.exit(f"{folder} holds something a bench did not make; give another --data-dir")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / MARK).write_text("made by a player bench; wiped by the next run\n")


def _free_port() -> int:
    """Return a loopback port free now (Chromium takes it a moment later: a race a bench can afford)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_player(
    panel_dir: Path, url: str, devtools_url: str, folder: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Return the player's process and its kiosk page's address, once it serves the page."""
    # No CLASSCAST_PLAYER_* from this shell: the player runs at its defaults but for its two addresses
    # (its kiosk browser's DevTools, which it watches and takes screenshots through, as on a panel).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSCAST_PLAYER_")}
    env["CLASSCAST_PLAYER_DEVTOOLS_URL"] = devtools_url
    log = folder / "player.log"
    command = [str(Path(sys.executable).parent / "classcast-player"), "--data-dir", str(panel_dir)]
    command += ["--controller", url, "--kiosk-port", "0"]
    with log.open("wb") as stderr:
        player = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
    assert player.stdout is not None
    line = player.stdout.readline().decode()
    if not line.startswith("kiosk page: "):
        sys.exit(f"the player did not start; see {log}")
    return player, line.split(": ", 1)[1].strip()


def _start_chromium(url: str, profile: Path, port: int) -> subprocess.Popen[bytes]:
    flags = [flag for flag in CHROMIUM_FLAGS if not flag.startswith("--window-size")]
    # Headless, a full-screen (--kiosk) window takes the screen's size, which is 800×600 unless told.
    argv = [
        CHROMIUM,
        *flags,
        f"--window-size={SCREEN[0]},{SCREEN[1]}",
        f"--screen-info={{{SCREEN[0]}x{SCREEN[1]}}}",
    ]
    argv.append("--kiosk")
    argv += [f"--remote-debugging-port={port}", f"--user-data-dir={profile}", url]
    # A session of its own: the browser and its helpers are stopped together, by the group's id.
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.read()
    except OSError:
        return b""


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- what the teacher casts ----------------------------------------------------------------------------


def photo_jpeg(n: int) -> bytes:
    """Return photo `n`, a JPEG of the screen's size (gradients, a fractal, grain): about 650 KB."""
    grain = Image.effect_noise(SCREEN, 40)
    red = Image.blend(Image.linear_gradient("L").resize(SCREEN), grain, 0.3)
    green = Image.blend(Image.radial_gradient("L").resize(SCREEN), grain, 0.3)
    blue = Image.effect_mandelbrot(SCREEN, (-2.0 + n / 100, -1.2, 1.0, 1.2), 60)
    photo = Image.merge("RGB", (red, green, blue))
    ImageDraw.Draw(photo).text((60, 40), f"Photo {n}", fill=(255, 255, 255), font_size=72)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


def slides_pdf(n: int, pages: int = 3) -> bytes:
    """Return PDF `n`, of `pages` 16:9 slides: a title, lines of text and a chart's bars each."""
    slides = []
    for page in range(pages):
        slide = Image.new("RGB", (1600, 900), (250, 250, 245))
        draw = ImageDraw.Draw(slide)
        draw.text((80, 60), f"Lesson {n}, slide {page + 1}: fractions", fill=(20, 40, 90), font_size=64)
        for line in range(8):
            draw.text(
                (80, 200 + 60 * line), f"{line + 1}/{page + 9} of the class", fill=(30, 30, 30), font_size=36
            )
        for bar in range(6):
            top = 820 - 90 * ((bar + page + n) % 6 + 1)
            draw.rectangle((900 + 100 * bar, top, 970 + 100 * bar, 820), fill=(40 * bar, 120, 200 - 30 * bar))
        slides.append(slide)
    out = io.BytesIO()
    slides[0].save(out, "PDF", save_all=True, append_images=slides[1:], resolution=96)
    return out.getvalue()


def text_card(n: int) -> dict[str, Any]:
    """Return a text card's cast source: the least a cast can show."""
    return {"title": f"Задание {n}", "text": f"Решите задачи {n}–{n + 3} на странице 42."}


# --- the player's memory ----------------------------------------------------------------------------


class Sample(NamedTuple):
    """A process's memory at one moment, bytes (a tuple: the highest sample is the highest RSS)."""

    rss: int
    uss: int
    pss: int


def sample(pid: int) -> Sample:
    """Return the process's RSS, and its USS and PSS (from smaps_rollup)."""
    info = psutil.Process(pid).memory_full_info()
    return Sample(info.rss, info.uss, info.pss)


def watch_player(panel: Panel, seconds: float, cast_every: float) -> tuple[list[Sample], int]:
    """Return the player's memory samples over `seconds` of casting, and how many casts it showed."""
    assert panel.player is not None
    samples: list[Sample] = []
    casts = 0
    started = time.monotonic()
    next_cast = started
    while (now := time.monotonic()) < started + seconds:
        if now >= next_cast:
            panel.cast(panel.round(casts // 3)[casts % 3][1])  # a photo, a PDF, a text card, again
            casts += 1
            next_cast += cast_every
        samples.append(sample(panel.player.pid))
        time.sleep(SAMPLE_EVERY)
    return samples, casts


def chromium_pss(panel: Panel) -> int:
    """Return the PSS of Chromium's processes, bytes: the panel's other user of memory, not the player's."""
    assert panel.chromium is not None
    root = psutil.Process(panel.chromium.pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except psutil.NoSuchProcess:  # a helper that ended meanwhile
            pass
    return total


def player_loads_requests() -> bool:
    """Return whether the player has requests loaded once imported (python-engineio takes it if it can)."""
    out = subprocess.run(
        [sys.executable, "-c", LOADS_REQUESTS_CODE], capture_output=True, text=True, check=True, cwd=REPO
    )
    return out.stdout.split()[-1] == "yes"


def _stack(requests: bool) -> str:
    return "with-requests" if requests else "without-requests"


def floor_memory(requests: bool) -> Sample:
    """Return the memory of a bare process with gevent patched and the Socket.IO client loaded."""
    floor = subprocess.Popen(
        [sys.executable, "-c", FLOOR_CODE, _stack(requests)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert floor.stdout is not None and floor.stdin is not None
    try:
        if floor.stdout.readline() != b"ready\n":
            sys.exit("the floor process did not start")
        readings = []  # the highest of a second's readings, as the player's peak
        for _ in range(5):
            readings.append(sample(floor.pid))
            time.sleep(0.2)
    finally:
        floor.stdin.close()
        floor.wait(10)
    return max(readings)


def threads(pid: int) -> list[str]:
    """Return the names of a process's threads (each has its stack, and may have a malloc arena)."""
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # a thread that ended meanwhile
            pass
    return sorted(names)


class Step(NamedTuple):
    name: str  # what was imported
    rss_kb: int  # the process's RSS after it
    traced: int  # bytes of Python objects after it (0 without tracemalloc)


def where_memory_goes(requests: bool) -> list[str]:
    """Return lines saying what each import step adds (RSS, Python objects) and the biggest packages."""
    (clean, _), (traced, files) = _run_where("rss", requests), _run_where("tracemalloc", requests)
    lines, rss_before, traced_before = [], 0, 0
    for step, objects in zip(clean, traced, strict=True):
        lines.append(
            f"where: after {step.name}: RSS +{(step.rss_kb - rss_before) / 1000:.1f} MB"
            f" = {step.rss_kb / 1000:.1f} MB; Python objects +{(objects.traced - traced_before) / MB:.1f} MB"
        )
        rss_before, traced_before = step.rss_kb, objects.traced
    lines += [f"where: tracemalloc top: {_short(filename)} {size / MB:.2f} MB" for filename, size in files]
    return lines + _patches() + _alone()


def _run_where(mode: str, requests: bool) -> tuple[list[Step], list[tuple[str, int]]]:
    """Return the child's import steps, and the bytes of Python objects by where they were allocated."""
    command = [sys.executable, "-c", WHERE_CODE, mode, _stack(requests), *WHERE_STEPS]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
    steps, files = [], []
    for line in out.stdout.splitlines():
        kind, rest = line.split(" ", 1)
        if kind == "step":
            name, rss_kb, traced = rest.split(" ")
            steps.append(Step(name, int(rss_kb), int(traced)))
        else:
            size, filename = rest.split(" ", 1)
            files.append((filename, int(size)))
    return steps, files


def _patches() -> list[str]:
    """Return a line saying what each of gevent's patches adds to RSS, in patch_all's order."""
    out = subprocess.run([sys.executable, "-c", PATCHES_CODE], capture_output=True, text=True, check=True)
    steps = [(name, int(rss_kb)) for name, rss_kb in (line.split() for line in out.stdout.splitlines())]
    added = [f"{name} +{(rss - before) / 1000:.1f}" for (_, before), (name, rss) in itertools.pairwise(steps)]
    return [
        f"where: gevent, patch by patch (RSS MB): {steps[0][0]} {steps[0][1] / 1000:.1f}; " + ", ".join(added)
    ]


def _alone() -> list[str]:
    """Return a line saying what the Socket.IO stack's parts would add, each alone, to a patched process."""
    added = []
    for name in ALONE:
        out = subprocess.run(
            [sys.executable, "-c", ALONE_CODE, name], capture_output=True, text=True, check=True
        )
        before, after = (int(kb) for kb in out.stdout.split())
        added.append(
            f"{name}{' (without requests)' if name == 'socketio' else ''} +{(after - before) / 1000:.1f}"
        )
    return ["where: alone in a patched process (RSS MB): " + ", ".join(added)]


def _short(filename: str) -> str:
    """Return a source file's path from its package on (after site-packages, the repo or lib/python3.x)."""
    parts = Path(filename).parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "site-packages" or parts[i].startswith("python3.") or parts[i] == REPO.name:
            return "/".join(parts[i + 1 :])
    return filename


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window, casting")
    parser.add_argument("--cast-every", type=float, default=3.0, help="seconds between two casts")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the first cast, unmeasured")
    parser.add_argument("--where", action="store_true", help="also say where the player's memory goes")
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench/player-memory"))
    args = parser.parse_args()
    load, started = os.getloadavg()[0], time.monotonic()
    requests = player_loads_requests()
    floor = floor_memory(requests)
    panel = Panel(args.data_dir)
    try:
        panel.start(distinct=DISTINCT)
        time.sleep(args.settle)
        samples, casts = watch_player(panel, args.seconds, args.cast_every)
        browser = chromium_pss(panel)
        assert panel.player is not None
        running = threads(panel.player.pid)
    finally:
        panel.stop()
    print(
        f"player: {casts} casts shown; requests loaded, by the player and so by the floor: "
        f"{'yes' if requests else 'no'}; Chromium's processes, not counted: PSS {browser / MB:.0f} MB; "
        f"logs in {panel.folder}",
        flush=True,
    )
    if args.where:
        print(f"where: the player's threads, casting: {len(running)} ({', '.join(running)})", flush=True)
        for line in where_memory_goes(requests):
            print(line, flush=True)
    print_figures(samples, casts, floor, load, time.monotonic() - started)


def print_figures(samples: list[Sample], casts: int, floor: Sample, load: float, seconds: float) -> None:
    steady = samples[len(samples) - max(1, len(samples) // 3) :]
    peak = max(samples)
    rss_steady = statistics.median(s.rss for s in steady)
    line = {
        "casts": casts,
        "samples": len(samples),
        "player_rss_peak_mb": peak.rss / MB,
        "player_rss_steady_mb": rss_steady / MB,
        "player_uss_steady_mb": statistics.median(s.uss for s in steady) / MB,
        "player_pss_steady_mb": statistics.median(s.pss for s in steady) / MB,
        "floor_rss_mb": floor.rss / MB,
        "floor_uss_mb": floor.uss / MB,
        "rss_ratio": peak.rss / floor.rss,
        "target_rss_mb": TARGET_RSS_MB,
        "met": "yes" if peak.rss / MB <= TARGET_RSS_MB else "no",
        "seconds": seconds,
        "load_before": load,  # other work on this machine meanwhile makes the casts slower, not the memory
    }
    print(figures_line("player_memory", line), flush=True)


if __name__ == "__main__":
    main()
