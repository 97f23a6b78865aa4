"""Online backup and offline restore of the controller's database, with SQLite's backup API.

A backup copies the live database while the controller keeps serving and committing: the copy is
made in one step, inside one read transaction, so it is one consistent snapshot of every commit
before it began (an acknowledged telemetry batch was committed before its ack, so it is in). WAL
lets the writer go on meanwhile. The copy is checked with `PRAGMA integrity_check` before it takes
its final name; a half-written backup never carries it.

A restore replaces the database of a stopped controller: `serve` holds a lock on the data folder,
and a restore refuses to run while it is held. The database it replaces is kept beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from controller.db import DB_FILE

LOCK_FILE = "controller.lock"
_OURS = {"panel", "user"}  # tables any ClassCast controller database has, with one of the telemetry ones
# Telemetry as stored since migration 0005 (one row per batch), and before it (one row per event).
_TELEMETRY = {
    "telemetry_batch": "SELECT coalesce(sum(count), 0) FROM telemetry_batch",
    "telemetry_event": "SELECT count(*) FROM telemetry_event",
}


class BackupError(RuntimeError):
    """A backup or a restore that could not be made; the message says why, in an operator's words."""


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's lock for the block; BackupError if another process (a controller) holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"a controller is running on {data_dir}; stop it first (systemctl stop classcast-controller)"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def backup(data_dir: Path, target: Path) -> dict[str, Any]:
    """Return a summary (file, bytes, telemetry events) of the consistent copy made of the live database."""
    source_path = data_dir / DB_FILE
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    source = sqlite3.connect(source_path, timeout=30)
    try:
        _copy(source, partial)
        events = _checked(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    _durable_replace(partial, target)
    return {"backup": str(target), "bytes": target.stat().st_size, "telemetry_events": events}


def restore(backup_file: Path, data_dir: Path) -> dict[str, Any]:
    """Return what was done (restored file, where the replaced database was kept), having restored it."""
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    with hold_data_dir(data_dir):
        _checked(backup_file)
        live = data_dir / DB_FILE
        staged = data_dir / f".{DB_FILE}.restoring"
        source = _read_only(backup_file)
        try:
            _copy(source, staged)
        finally:
            source.close()
        events = _checked(staged)
        kept = _set_aside(live)
        _durable_replace(staged, live)
    return {"restored": str(backup_file), "database": str(live), "kept": kept, "telemetry_events": events}


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _copy(source: sqlite3.Connection, destination: Path) -> None:
    destination.unlink(missing_ok=True)
    # Made 0600 before SQLite writes into it: the copy holds password hashes and panel keys.
    os.close(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    target = sqlite3.connect(destination)
    try:
        # pages=-1: the whole database in one step, so one read transaction and one snapshot. Stepwise
        # copies restart whenever the controller commits, and under steady telemetry might never end.
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
    finally:
        target.close()


def _checked(path: Path) -> int:
    """Return the telemetry events in the database at `path`, having found it whole and ClassCast's."""
    db = _read_only(path)
    try:
        verdict = [row[0] for row in db.execute("PRAGMA integrity_check")]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        telemetry = next((table for table in _TELEMETRY if table in tables), None)
        ours = _OURS <= tables and telemetry is not None
        events = db.execute(_TELEMETRY[telemetry]).fetchone()[0] if telemetry and ours else 0
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a database: {exc}") from None
    finally:
        db.close()
    if verdict != ["ok"]:
        raise BackupError(f"{path} is damaged: {'; '.join(verdict[:5])}")
    if not ours:
        raise BackupError(f"{path} is not a ClassCast controller database")
    return events


def _set_aside(live: Path) -> str | None:
    """Return where the database being replaced was kept (None if there was none), its WAL merged in."""
    if not live.exists():
        return None
    db = sqlite3.connect(live, timeout=10)
    try:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()  # the -wal into the file
    except sqlite3.OperationalError as exc:
        raise BackupError(f"{live} is in use by another program: {exc}") from None
    finally:
        db.close()
    if busy:  # a reader kept part of the -wal from the file: moving it now would leave those commits
        raise BackupError(f"{live} is in use by another program; close it and restore again")
    kept = live.with_name(f"{live.name}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(live, kept)
    for suffix in ("-wal", "-shm"):
        live.with_name(live.name + suffix).unlink(missing_ok=True)
    return str(kept)


def _durable_replace(source: Path, target: Path) -> None:
    """Rename `source` over `target` so that a power cut leaves one or the other, whole."""
    with source.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(source, target)
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
