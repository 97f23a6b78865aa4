"""Every frame the kiosk page shows while the player follows a two-image schedule: none black, none idle.

A real player (`python -m player`) on a fresh data folder, enrolled, its controller a small content
server of the bench's own on loopback (`GET /api/panel/v1/content/<sha256>` with the panel's Bearer
token, nothing else: no Socket.IO, so the player never connects and follows its kept schedule
offline, as a panel does when the controller is out of reach). The schedule is written where the
player keeps it (`<data_dir>/schedule.json`) before it starts: one playlist of two full-screen
images of solid colours (green, then magenta, PNGs of the window's size), `--duration` seconds each,
one rule with no condition (always), no screen hours (always on); in UTC, so the loop started at
midnight and item k starts at a whole multiple of the duration. Debian's Chromium (headless, full
screen at `--size`) shows the kiosk page, its DevTools on loopback, told to the player as on a panel.

Once the first item is on screen the bench records the page's frames through DevTools for
`--seconds`: `Page.startScreencast` (JPEG at quality 100, every frame), each frame acknowledged as it
arrives. The screencast sends a frame only when the compositor draws one, so the bench first puts a
4-pixel square turning in the page's corner (a compositor animation, outside the sampled pixels):
the compositor then draws every frame (60 a second) and each is sent, the frames of a swap among
them. A grid of 16×9 pixels classifies each frame: all the first colour, all the second, or other:
black, the idle look (#10243e, the clock screen), or mixed (half drawn, anything else). Counted: the
transitions (a frame of one colour after one of the other), the other frames after the first item
was on screen, how late each item came on screen (the frame's own timestamp against the item's start
by the schedule), and the swaps seen whole: no more than one frame interval (×1.5) between any two
frames from the old item's last to the new one's first, so no frame drawn there went unseen (on a
loaded machine the screencast skips frames). Other frames are saved beside the logs, for a look.

The floor, in the same run, the same way: a fresh player and Chromium following a one-image
schedule (the image all day: nothing changes but the ticker) recorded for the same seconds: the
frames per second the screencast delivers, and the other frames the classifier finds among them (its
own false positives; 0 expected). Target (issue): zero black (or other) frames between two scheduled
images. The last line holds the figures; `met` says whether the target was met (exit code 0 either
way).

    .venv/bin/python bench/schedule_frames.py [--seconds 30] [--duration 1] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import websocket
import zmq
from controller_world import figures_line
from PIL import Image
from player_memory import CHROMIUM, _free_port, _fresh, _get, _stop, _stop_group, _wait

from classcast.identity import ensure_identity, save_enrollment
from classcast.playlist import Schedule
from controller.demo_panels import CHROMIUM_FLAGS
from player.devtools import DevTools, DevToolsError

REPO = Path(__file__).resolve().parents[1]
CONTENT_PATH = "/api/panel/v1/content/"
FIRST, SECOND = (0, 255, 0), (255, 0, 255)  # far from each other, from black and from the idle blue
LOOKS = {"first": FIRST, "second": SECOND, "black": (0, 0, 0), "idle": (0x10, 0x24, 0x3E)}
TOLERANCE = 24  # per channel: JPEG at quality 100 keeps a flat colour within a few levels
GRID = (16, 9)
TARGET_OTHER = 0
FLOOR_SECONDS = 86_400.0  # the floor's one image stays all day: nothing on screen changes
KEPT_OTHER = 40  # other frames saved for a look; past these, only counted
WAIT_S = 30.0
SHOWN = "document.body.dataset.shown"
# Beside the stage, which the page never empties; at 0..6 px, where the grid samples no pixel. Web
# Animations, not a <style>: the page's Content-Security-Policy refuses inline style sheets.
TICKER = """
(() => {
  const ticker = document.createElement("div");
  ticker.style.cssText = "position: fixed; left: 0; top: 0; width: 4px; height: 4px; z-index: 99; "
    + "background: #808080";
  document.body.append(ticker);
  ticker.animate([{ transform: "rotate(0)" }, { transform: "rotate(360deg)" }],
    { duration: 1000, iterations: Infinity });
  return true;
})()
"""


# --- the panel's controller: content only -------------------------------------------------------------


@dataclass
class ContentServer:
    """The files the player may fetch, served to its Bearer token on loopback."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    files: dict[str, bytes] = field(default_factory=dict)
    url: str = ""

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, data: bytes) -> str:
        """Return the SHA-256 of `data`, now served."""
        sha256 = hashlib.sha256(data).hexdigest()
        self.files[sha256] = data
        return sha256

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(server: ContentServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = server.files.get(self.path.removeprefix(CONTENT_PATH))
            if not self.path.startswith(CONTENT_PATH) or data is None:
                self._answer(404, b"not found", "text/plain")
            elif self.headers.get("Authorization") != f"Bearer {server.token}":
                self._answer(401, b"unauthorized", "text/plain")
            else:
                self._answer(200, data, "image/png")

        def _answer(self, status: int, body: bytes, mime: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the player's Socket.IO attempts (404) would fill the bench's output

    return Handler


def solid_png(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def schedule(images: list[str], duration: float) -> dict[str, Any]:
    """Return the schedule as the player keeps it: `images` (sha256) looped all day, always on."""
    items = [
        {"sha256": sha256, "kind": "image", "mime": "image/png", "title": "", "duration": duration}
        for sha256 in images
    ]
    document = {
        "version": 1,
        "title": "bench",
        "playlists": [{"name": "bench", "duration": duration, "items": items}],
        "rules": [{"playlist": "bench"}],
    }
    Schedule.from_dict(document, "bench")  # raises, in Russian, what the player would refuse
    return {"revision": "bench", "title": "bench", "timezone": "UTC", "document": document}


# --- one panel: the player and its kiosk browser ----------------------------------------------------------


class Panel:
    """The player following `kept` (its schedule) offline, and Chromium showing its kiosk page."""

    def __init__(self, folder: Path, server: ContentServer, kept: dict[str, Any], size: tuple[int, int]):
        self.folder, self.size = folder, size
        self.data_dir = folder / "panel"
        ensure_identity(self.data_dir)
        save_enrollment(self.data_dir, token=server.token, controller_key=zmq.curve_keypair()[0].decode())
        (self.data_dir / "schedule.json").write_text(json.dumps(kept), encoding="utf-8")
        port = _free_port()
        self.devtools_url = f"http://127.0.0.1:{port}"
        self.player, self.kiosk_url = self._start_player(server.url)
        self.chromium = self._start_chromium(port)
        self.devtools = DevTools(self.devtools_url, self.kiosk_url)

    def _start_player(self, controller_url: str) -> tuple[subprocess.Popen[bytes], str]:
        # Defaults but for these: its browser's DevTools (as on a panel), no display power to switch,
        # and no systemctl to restart a browser it misses.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSCAST_PLAYER_")}
        env |= {"CLASSCAST_PLAYER_DEVTOOLS_URL": self.devtools_url, "CLASSCAST_PLAYER_SCREEN_POWER": "noop"}
        env["CLASSCAST_PLAYER_BROWSER_RESTART_COMMAND"] = ""
        command = [sys.executable, "-m", "player", "--data-dir", str(self.data_dir)]
        command += ["--controller", controller_url, "--kiosk-port", "0"]
        with (self.folder / "player.log").open("wb") as log:
            player = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO)
        assert player.stdout is not None
        line = player.stdout.readline().decode()
        if not line.startswith("kiosk page: "):
            sys.exit(f"the player did not start; see {self.folder / 'player.log'}")
        return player, line.split(": ", 1)[1].strip()

    def _start_chromium(self, port: int) -> subprocess.Popen[bytes]:
        width, height = self.size
        flags = [flag for flag in CHROMIUM_FLAGS if not flag.startswith("--window-size")]
        # Headless, a full-screen (--kiosk) window takes the screen's size: 800×600 unless told.
        argv = [CHROMIUM, *flags, f"--window-size={width},{height}", f"--screen-info={{{width}x{height}}}"]
        argv += ["--kiosk", f"--remote-debugging-port={port}", f"--user-data-dir={self.folder / 'chromium'}"]
        # A session of its own: the browser and its helpers are stopped together, by the group's id.
        return subprocess.Popen(
            [*argv, self.kiosk_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_shown(self) -> None:
        """Return once the page shows the schedule's first item, the ticker put in beside it."""
        _wait(lambda: _get(self.kiosk_url + "healthz") == b"attached", "the kiosk page to attach")
        _wait(lambda: str(self._evaluate(SHOWN) or "").startswith("schedule:"), "the first item on screen")
        if self._evaluate(TICKER) is not True:
            sys.exit("the ticker could not be put into the kiosk page")

    def _evaluate(self, expression: str) -> Any:
        try:
            answer = self.devtools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        except DevToolsError:  # the page is still loading
            return None
        return answer.get("result", {}).get("value")

    def stop(self) -> None:
        _stop_group(self.chromium)
        _stop(self.player)


# --- the frames -------------------------------------------------------------------------------------------


class Frame(NamedTuple):
    at: float  # when the compositor drew it (the screencast's timestamp), wall clock, s
    jpeg: bytes


def record(panel: Panel, seconds: float) -> list[Frame]:
    """Return the page's frames over `seconds`, each acknowledged as it came (decoded later)."""
    target = panel.devtools.kiosk_page()
    if target is None:
        sys.exit("the kiosk page is not open in Chromium")
    connection = websocket.create_connection(
        target["webSocketDebuggerUrl"], timeout=WAIT_S, suppress_origin=True
    )
    width, height = panel.size
    start = {"format": "jpeg", "quality": 100, "maxWidth": width, "maxHeight": height, "everyNthFrame": 1}
    sent: list[dict[str, Any]] = []
    try:
        connection.send(json.dumps({"id": 1, "method": "Page.startScreencast", "params": start}))
        connection.settimeout(0.1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = json.loads(connection.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if message.get("method") == "Page.screencastFrame":
                # At once: Chromium skips frames while two are not acknowledged.
                ack = {"sessionId": message["params"]["sessionId"]}
                connection.send(json.dumps({"id": 2, "method": "Page.screencastFrameAck", "params": ack}))
                sent.append(message["params"])
        connection.send(json.dumps({"id": 3, "method": "Page.stopScreencast"}))
    finally:
        connection.close()
    frames = [Frame(params["metadata"]["timestamp"], base64.b64decode(params["data"])) for params in sent]
    return sorted(frames, key=lambda frame: frame.at)  # as the compositor drew them, should two cross


def look(frame: Frame) -> str:
    """Return what the frame shows: "first", "second", "black", "idle", or "mixed" (anything else)."""
    image = Image.open(io.BytesIO(frame.jpeg)).convert("RGB")
    width, height = image.size
    columns, rows = GRID
    points = [
        image.getpixel((int((x + 0.5) * width / columns), int((y + 0.5) * height / rows)))
        for x in range(columns)
        for y in range(rows)
    ]
    for name, colour in LOOKS.items():
        if all(_near(point, colour) for point in points):
            return name
    return "mixed"


def _near(point: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(point, colour, strict=True))


@dataclass
class Tally:
    """What a recording showed, from the first frame of a scheduled image on."""

    frames: int = 0
    seconds: float = 0.0  # from that frame to the last
    interval: float = 0.0  # the median time between two frames, s
    transitions: int = 0
    whole: int = 0  # transitions with no frame missing around them: none drawn there went unseen
    other: Counter[str] = field(default_factory=Counter)
    lateness: list[float] = field(default_factory=list)  # s, of each item's first frame
    gaps: list[float] = field(default_factory=list)  # s, the longest between two frames of each swap

    @property
    def other_frames(self) -> int:
        return sum(self.other.values())

    @property
    def fps(self) -> float:
        return (self.frames - 1) / self.seconds if self.seconds else 0.0


def tally(frames: list[Frame], duration: float, keep: Path | None = None) -> Tally:
    """Return the recording's counts; other frames are saved under `keep` (at most KEPT_OTHER)."""
    looks = [look(frame) for frame in frames]
    if keep is not None:
        keep.mkdir(exist_ok=True)
        (keep / "looks.txt").write_text(timeline(frames, looks))
    begin = next((i for i, seen in enumerate(looks) if seen in ("first", "second")), len(looks))
    frames, looks = frames[begin:], looks[begin:]
    found = Tally(frames=len(frames))
    if len(frames) < 2:
        return found
    found.seconds = frames[-1].at - frames[0].at
    found.interval = statistics.median(b.at - a.at for a, b in pairwise(frames))
    last = 0  # the index of the latest frame of a scheduled image
    for i, (frame, seen) in enumerate(zip(frames, looks, strict=True)):
        if seen not in ("first", "second"):
            found.other[seen] += 1
            if keep is not None and found.other_frames <= KEPT_OTHER:
                (keep / f"{frame.at:.3f}-{seen}.jpg").write_bytes(frame.jpeg)
            continue
        if seen != looks[last]:
            found.transitions += 1
            found.lateness.append(lateness(frame.at, seen, duration))
            gap = max(b.at - a.at for a, b in pairwise(frames[last : i + 1]))
            found.gaps.append(gap)
            found.whole += gap <= 1.5 * found.interval
        last = i
    return found


def timeline(frames: list[Frame], looks: list[str]) -> str:
    """Return each change of look, a line each: the frame's timestamp (UTC, ms), the look, the gap."""
    lines, before = [], None
    for i, (frame, seen) in enumerate(zip(frames, looks, strict=True)):
        if seen != before:
            moment = time.strftime("%H:%M:%S", time.gmtime(frame.at)) + f".{int(frame.at * 1000) % 1000:03d}"
            gap = (frame.at - frames[i - 1].at) * 1000 if i else 0.0
            lines.append(f"{moment} {seen} (after a gap of {gap:.0f} ms)\n")
        before = seen
    return "".join(lines)


def lateness(at: float, seen: str, duration: float) -> float:
    """Return how long after its start by the schedule the item `seen` came on screen at `at`, s.

    The loop began at midnight (UTC): the first item starts at even multiples of `duration`, the
    second at odd ones. A frame a little before its start (none should be) counts as early: negative.
    """
    phase = 0.0 if seen == "first" else duration
    late = (at % 86_400 - phase) % (2 * duration)
    return late - 2 * duration if late > 1.5 * duration else late


# --- the run --------------------------------------------------------------------------------------------


def watch(folder: Path, server: ContentServer, kept: dict[str, Any], args: argparse.Namespace) -> Tally:
    """Return the tally of `--seconds` of frames from a fresh panel following `kept`."""
    folder.mkdir()
    panel = Panel(folder, server, kept, args.size)
    try:
        panel.wait_shown()
        # The first swap after the page attached has no preload (the player sent it to no page):
        # a start's own, left out.
        time.sleep(args.duration + 1.0)
        frames = record(panel, args.seconds)
    finally:
        panel.stop()
    return tally(frames, args.duration, folder / "frames")


def size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of frames recorded, each run")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds each image stays")
    parser.add_argument("--size", type=size, default=(1280, 720), help="the window and the images, WxH")
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench/schedule-frames"))
    args = parser.parse_args()
    load, started = os.getloadavg()[0], time.monotonic()
    folder = args.data_dir.resolve()
    _fresh(folder)
    server = ContentServer()
    try:
        first, second = (server.add(solid_png(colour, args.size)) for colour in (FIRST, SECOND))
        floor = watch(folder / "floor", server, schedule([first], FLOOR_SECONDS), args)
        found = watch(folder / "schedule", server, schedule([first, second], args.duration), args)
    finally:
        server.stop()
    print_figures(found, floor, load, time.monotonic() - started, folder)


def print_figures(found: Tally, floor: Tally, load: float, seconds: float, folder: Path) -> None:
    other = ", ".join(f"{count} {name}" for name, count in found.other.items()) or "none"
    met = found.transitions > 0 and found.other_frames <= TARGET_OTHER
    print(
        f"schedule: {found.transitions} transitions ({found.whole} seen whole) in {found.frames} frames, "
        f"other frames: {other}; floor: {floor.frames} frames of one still image, {floor.other_frames} "
        f"other; target (0 other frames) {'met' if met else 'NOT met'}; logs and other frames in {folder}",
        flush=True,
    )
    late, gaps = sorted(found.lateness) or [0.0], found.gaps or [0.0]
    line = {
        "transitions": found.transitions,
        "swaps_whole": found.whole,
        "frames": found.frames,
        "fps": found.fps,
        "other_frames": found.other_frames,
        "black": found.other["black"],
        "idle": found.other["idle"],
        "mixed": found.other["mixed"],
        "target_other": TARGET_OTHER,
        "met": "yes" if met else "no",
        "late_p50_ms": statistics.median(late) * 1000,
        "late_max_ms": late[-1] * 1000,
        "swap_gap_max_ms": max(gaps) * 1000,
        "floor_frames": floor.frames,
        "floor_fps": floor.fps,
        "floor_other": floor.other_frames,
        "seconds": seconds,
        "load_before": load,  # other work on this machine meanwhile: skipped frames, later swaps
    }
    print(figures_line("schedule_frames", line), flush=True)


if __name__ == "__main__":
    main()
