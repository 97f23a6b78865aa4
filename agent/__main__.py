"""classcast-agent: sample the panel's health and inventory, spool the events, ship them to the controller.

One thread, one zmq.Poller: the agent must stay within ~25 MB of memory and ~0.2 % of a Pi's CPU, so
there is no gevent and no thread of our own (libzmq keeps its one I/O thread).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import math
import os
import select
import signal
import sqlite3
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import zmq

from agent import __version__, collectors
from agent.config import load_config
from agent.intake import Intake, usage_endpoint
from agent.shipper import Shipper
from agent.spool import Spool
from classcast import notify
from classcast.events import Heartbeat
from classcast.identity import PanelIdentity, ensure_identity, identity_dir, load_identity
from classcast.journal import setup_logging
from classcast.settings import SettingsError

log = logging.getLogger("agent")

DESCRIPTION = "Sample the panel's health and inventory, spool the events, ship them to the controller."
ENROLLMENT_CHECK = 2.0  # seconds between looks at the credentials the player saves when enrolled
# While shipping, the credentials change only when the panel is revoked and paired again, and then
# the controller stops acking: looked at every ENROLLED_CHECK s while batches fail, else with each
# heartbeat, and read only when their folder changed (every wake-up costs a Pi's idle CPU).
ENROLLED_CHECK = 5.0
# The inventory is looked at this often (sent when it changed, or daily): a look costs more than a
# heartbeat, and a device's make-up seldom changes.
INVENTORY_LOOK = 600.0


def main(argv: list[str] | None = None) -> int:
    """Return the exit status: 0 after SIGTERM or SIGINT, 2 for a bad configuration, 1 for a bad data dir."""
    args = _parse_args(argv)
    try:
        config = load_config(args.config, overrides=_overrides(args))
    except SettingsError as exc:
        print(f"classcast-agent: {exc}", file=sys.stderr)
        return 2
    setup_logging(config["log_level"], "classcast-agent")
    watchdog = notify.LoopWatchdog(notify.watchdog_interval())
    with Stopper() as stopper:
        notify.notify(notify.READY, "STATUS=sampling and shipping")
        try:
            _serve(config, stopper, watchdog)
        except OSError as exc:  # the data directory cannot be made or written: say so, systemd retries
            log.error("cannot use the data directory %s: %s", config["data_dir"], exc)
            return 1
        notify.notify(notify.STOPPING)
        log.info("%s received: stopped", stopper.signal.name if stopper.signal else "stop")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    # A fixed help width: argparse would otherwise import shutil (and with it bz2 and lzma, 0.7 MB of
    # RSS that stays for the agent's life) to ask the terminal's.
    parser = argparse.ArgumentParser(
        prog="classcast-agent",
        description=DESCRIPTION,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=100),
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="a TOML file of settings")
    parser.add_argument("--data-dir", help="the panel's data directory (identity, spool)")
    parser.add_argument(
        "--telemetry", metavar="ENDPOINT", help="the controller's endpoint, e.g. tcp://host:5556"
    )
    parser.add_argument("--heartbeat-interval", metavar="SECONDS", help="seconds between heartbeats")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    # Strings on purpose: classcast.settings parses them and names the bad one in its error.
    return {
        "data_dir": args.data_dir,
        "telemetry_endpoint": args.telemetry,
        "heartbeat_interval": args.heartbeat_interval,
        "log_level": args.log_level,
    }


class Stopper:
    """SIGTERM and SIGINT as a flag, and as a readable file descriptor that wakes a poll at once."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self.fd, self._write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write_fd, False)
        # Python runs handlers between bytecodes only; the wake-up fd is what interrupts a waiting poll.
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write_fd)
        self._old_handlers = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)
        }

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signal.Signals(signum)  # logged by the loop: a handler may interrupt a log call

    def wait(self, timeout: float) -> bool:
        """Return True if a stop was requested, having waited up to `timeout` seconds for one."""
        if not self.requested:
            select.select([self.fd], [], [], timeout)
        self.drain()
        return self.requested

    def drain(self) -> None:
        try:
            while os.read(self.fd, 512):
                pass
        except BlockingIOError:
            pass

    def __enter__(self) -> Stopper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        os.close(self.fd)
        os.close(self._write_fd)


def _serve(config: dict[str, Any], stopper: Stopper, watchdog: notify.LoopWatchdog) -> None:
    """Ship with each of the panel's enrollments in turn, until `stopper` is triggered.

    The spool and the player's usage intake live across enrollments: usage is recorded before the
    panel is paired, and while it waits to be paired again.
    """
    data_dir = Path(config["data_dir"])
    context = zmq.Context()
    try:
        with Spool(data_dir, max_bytes=config["spool_max_bytes"]) as spool:
            intake = Intake(context, spool, usage_endpoint(config["usage_endpoint"], data_dir))
            try:
                _ship_each_enrollment(config, context, spool, intake, stopper, watchdog)
            finally:
                intake.close()
                _flush_at_exit(spool)
    finally:
        context.term()


def _ship_each_enrollment(
    config: dict[str, Any],
    context: zmq.Context,
    spool: Spool,
    intake: Intake,
    stopper: Stopper,
    watchdog: notify.LoopWatchdog,
) -> None:
    data_dir = Path(config["data_dir"])
    revoked_token: str | None = None
    while (identity := _wait_for_enrollment(data_dir, intake, stopper, watchdog, revoked_token)) is not None:
        if run(config, context, identity, spool, intake, stopper, watchdog):
            revoked_token = identity.token


def _wait_for_enrollment(
    data_dir: Path,
    intake: Intake,
    stopper: Stopper,
    watchdog: notify.LoopWatchdog,
    revoked_token: str | None = None,
) -> PanelIdentity | None:
    """Return the panel's identity once it is enrolled, not with `revoked_token`; None if told to stop first.

    The token, not the key, tells a new enrollment: each pairing makes a new token, and the player may
    make the new key pair before it deletes the revoked token. Usage events are taken meanwhile.
    """
    if revoked_token is not None:
        log.info("waiting for this panel to be paired again")
    elif not ensure_identity(data_dir).enrolled:
        # No key fingerprint here (the player shows it): its sha256 would load OpenSSL, ~4 MB of RSS.
        log.info("waiting for this panel to be enrolled (the player shows its pairing code)")
    poller = zmq.Poller()
    poller.register(intake.socket, zmq.POLLIN)
    poller.register(stopper.fd, zmq.POLLIN)
    while not stopper.requested:
        enrolled = _enrolled_identity(data_dir)
        if enrolled is not None and enrolled.token != revoked_token:
            return enrolled
        next_ping = watchdog.ping_if_due(time.monotonic())
        wait = ENROLLMENT_CHECK if next_ping is None else min(ENROLLMENT_CHECK, next_ping - time.monotonic())
        if intake.socket in dict(poller.poll(math.ceil(max(0.0, wait) * 1000))):
            intake.receive()
        stopper.drain()
    return None


def _enrolled_identity(data_dir: Path) -> PanelIdentity | None:
    """Return the panel's identity if it is enrolled; None before, or while the player makes new keys."""
    # Read, never made here once the agent runs: the player makes the panel's new key pair when revoked.
    try:
        identity = load_identity(data_dir)
    except FileNotFoundError:
        return None
    return identity if identity.enrolled else None


def run(
    config: dict[str, Any],
    context: zmq.Context,
    identity: PanelIdentity,
    spool: Spool,
    intake: Intake,
    stopper: Stopper,
    watchdog: notify.LoopWatchdog,
) -> bool:
    """Return True when the controller revoked `identity`, False when stopped or enrolled anew.

    Samples, spools and ships meanwhile, authenticated as `identity`.
    """
    readings = collectors.Readings(Path(config["data_dir"]))
    shipper = Shipper(context, identity, spool, endpoint=config["telemetry_endpoint"], **_shipping(config))
    try:
        log.info("agent %s shipping to %s, %d events spooled", __version__, shipper.endpoint, spool.depth())
        return _loop(config, identity, readings, spool, shipper, intake, stopper, watchdog)
    finally:
        shipper.close()


def _shipping(config: dict[str, Any]) -> dict[str, Any]:
    names = ("batch_max_events", "batch_max_wait", "ack_timeout", "retry_min", "retry_max")
    return {name: config[name] for name in names} | {"window": config["batch_window"]}


def _flush_at_exit(spool: Spool) -> None:
    """Commit what the spool still keeps in memory (samples, deletions of acked events), if it can."""
    try:
        spool.flush()
    except sqlite3.Error as exc:  # a full disk: the samples are lost, the acked events are sent again
        log.warning("could not write the spool at exit: %s", exc)


def _loop(
    config: dict[str, Any],
    identity: PanelIdentity,
    readings: collectors.Readings,
    spool: Spool,
    shipper: Shipper,
    intake: Intake,
    stopper: Stopper,
    watchdog: notify.LoopWatchdog,
) -> bool:
    """Return True when the controller revoked `identity`; False when stopped or enrolled anew."""
    poller = zmq.Poller()
    poller.register(shipper.socket, zmq.POLLIN)
    poller.register(intake.socket, zmq.POLLIN)
    poller.register(stopper.fd, zmq.POLLIN)
    inventories = collectors.InventoryWatch(readings, config["inventory_interval"])
    credentials = FolderWatch(identity_dir(Path(config["data_dir"])))
    next_inventory = next_heartbeat = last_look = time.monotonic()
    inventory_look = max(INVENTORY_LOOK, config["heartbeat_interval"])
    while not (stopper.requested or shipper.revoked):
        now = time.monotonic()
        if now >= next_heartbeat or (shipper.failures and now >= last_look + ENROLLED_CHECK):
            if not credentials.unchanged() and not _still_enrolled(Path(config["data_dir"]), identity):
                return False
            last_look = now
        if now >= next_inventory:  # on a heartbeat's beat
            if (inventory := inventories.due(now)) is not None:
                spool.append(inventory)
            next_inventory = _next(next_inventory, inventory_look, now)
        if now >= next_heartbeat:
            spool.append(_heartbeat(readings, spool))
            next_heartbeat = _next(next_heartbeat, config["heartbeat_interval"], now)
            _release_freed_memory()
        shipping = shipper.step(now)
        next_look = last_look + ENROLLED_CHECK if shipper.failures else None  # else with the heartbeat
        # The watchdog is pinged from this loop: a loop that hangs stops the pings, and systemd restarts it.
        dues = (next_inventory, next_heartbeat, next_look, shipping, watchdog.ping_if_due(now))
        wake = min(t for t in dues if t is not None)
        # Rounded up: a timeout rounded down to 0 ms would spin until the deadline.
        ready = dict(poller.poll(math.ceil(max(0.0, wake - time.monotonic()) * 1000)))
        if shipper.socket in ready:
            shipper.receive()
        if intake.socket in ready:
            intake.receive()
        stopper.drain()
    return shipper.revoked


class FolderWatch:
    """Tells whether a folder's entries changed since the last look, from one stat of the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen = self._signature()

    def unchanged(self) -> bool:
        signature = self._signature()
        unchanged, self._seen = signature == self._seen, signature
        return unchanged

    def _signature(self) -> int | None:
        # Credentials are written through a temporary file and a rename: each changes the mtime.
        try:
            return self.folder.stat().st_mtime_ns
        except OSError:
            return None


def _still_enrolled(data_dir: Path, identity: PanelIdentity) -> bool:
    """Return True while the panel's credentials on disk are still `identity`."""
    # The controller says "revoked" only on a connection made before; after a restart of either end the
    # handshake is refused in silence, so the player's new enrollment is what tells the agent.
    if _enrolled_identity(data_dir) == identity:
        return True
    log.info("this panel's credentials changed; connecting again with the new ones once it is enrolled")
    return False


@functools.cache
def _libc() -> Any:
    import ctypes  # here: agent.clock loads it too where timesyncd does not say the clock is synced

    return ctypes.CDLL(None)  # the C library already loaded into this process


def _release_freed_memory() -> None:
    """Give the heap's free pages back to the system: glibc keeps them, and they count in the RSS budget.

    What start-up and each sample allocate and free again stays resident otherwise.
    """
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        pass


def _heartbeat(readings: collectors.Readings, spool: Spool) -> Heartbeat:
    """Return a heartbeat that also reports the spool, so the controller sees a backlog building up."""
    return dataclasses.replace(
        collectors.heartbeat(readings), spool_events=spool.depth(), spool_dropped=spool.dropped
    )


def _next(previous: float, interval: float, now: float) -> float:
    """Return the next time of a periodic sample: on the beat, unless the beat fell behind (then from now)."""
    due = previous + interval
    return due if due > now else now + interval


if __name__ == "__main__":
    sys.exit(main())
