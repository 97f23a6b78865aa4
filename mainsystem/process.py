"""Running the stand-in as a child process, for the demo and the tests: start, read its address, stop."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

ANNOUNCE = "main system stand-in: "  # the line `python -m mainsystem` prints once it listens
START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to end the stand-in when its parent ends, however the parent ends."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class StandIn:
    """A running `python -m mainsystem`; `url` is its base, `journal_url` and `library_url` the upstreams."""

    def __init__(self, token: str, args: list[str], log: IO[bytes] | Path | None = None) -> None:
        self.token = token
        out = open(log, "ab") if isinstance(log, Path) else log  # noqa: SIM115 - closed once handed over
        try:
            self.proc = subprocess.Popen(
                # --token=…: a token may begin with "-", which argparse would take for an option
                [sys.executable, "-m", "mainsystem", f"--token={token}", *args],
                stdout=subprocess.PIPE,
                stderr=out,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            if isinstance(log, Path) and out is not None:
                out.close()
        self.url = self._address()

    @property
    def journal_url(self) -> str:
        return f"{self.url}/journal"

    @property
    def library_url(self) -> str:
        return f"{self.url}/library"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def _address(self) -> str:
        """Return the URL the stand-in prints; stop it and raise RuntimeError if it prints none in time."""
        assert self.proc.stdout is not None
        # A timer, not select(): it works the same in a plain process and in one gevent has patched.
        timer = threading.Timer(START_TIMEOUT_S, self.proc.kill)
        timer.start()
        try:
            line = self.proc.stdout.readline().decode()
        finally:
            timer.cancel()
        if not line.startswith(ANNOUNCE):
            self.stop()
            raise RuntimeError(f"the main system stand-in did not start (exit code {self.proc.returncode})")
        return line[len(ANNOUNCE) :].strip()
