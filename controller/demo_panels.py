"""The demo's simulated panels: a player, an agent and a kiosk browser per panel, as real processes."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the demo may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",  # as the kiosk unit: a video cast with sound plays
    # This machine's network is closed; without these Chromium keeps dialling out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,720",
)


def find_chromium() -> str | None:
    """Return the path of the system's Chromium ($CLASSCAST_CHROMIUM first), or None."""
    return (
        os.environ.get("CLASSCAST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def _die_with_parent() -> None:
    """Ask Linux to end this child when the demo ends, however the demo ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class PanelProcesses:
    def __init__(self, root: Path, log_dir: Path, chromium: str | None) -> None:
        self.root, self.log_dir, self.chromium = root, log_dir, chromium
        log_dir.mkdir(parents=True, exist_ok=True)
        self._procs: list[subprocess.Popen] = []
        self._kiosks: dict[int, str] = {}

    def panel_dir(self, number: int) -> Path:
        return self.root / f"panel-{number}"

    def start_panel(self, number: int, controller_url: str, telemetry_endpoint: str) -> None:
        """Start the panel's player, agent and kiosk browser."""
        data_dir = str(self.panel_dir(number))
        player = self._spawn(
            f"player-{number}",
            [
                sys.executable,
                "-m",
                "player",
                "--data-dir",
                data_dir,
                "--controller",
                controller_url,
                "--kiosk-port",
                "0",
            ],
            stdout=subprocess.PIPE,
        )
        line = player.stdout.readline().decode()
        if not line.startswith("kiosk page: "):
            raise RuntimeError(f"player {number} did not start; see {self.log_dir / f'player-{number}.log'}")
        self._kiosks[number] = line.split(": ", 1)[1].strip()
        agent_cmd = [sys.executable, "-m", "agent", "--data-dir", data_dir, "--telemetry", telemetry_endpoint]
        # A demo shows its telemetry within seconds; a panel batches for up to 10 s to spare its SD card.
        self._spawn(
            f"agent-{number}",
            [*agent_cmd, "--heartbeat-interval", "5"],
            env={"CLASSCAST_AGENT_BATCH_MAX_WAIT": "1"},
        )
        if self.chromium:
            profile = self.panel_dir(number) / "browser-profile"
            self._spawn(
                f"kiosk-{number}",
                [self.chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", self._kiosks[number]],
            )

    def _spawn(
        self, name: str, argv: list[str], stdout: int | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log_file = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child's life
        proc = subprocess.Popen(
            argv,
            stdout=stdout or log_file,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log_file.close()
        self._procs.append(proc)
        return proc

    def kiosk_urls(self) -> dict[int, str]:
        return dict(self._kiosks)

    def kiosks_ready(self) -> bool:
        """Return whether every panel's kiosk server answers (and, with a browser, has a page attached)."""
        for url in self._kiosks.values():
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                    attached = response.read().strip() == b"attached"
            except OSError:
                return False
            if self.chromium and not attached:
                return False
        return True

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
