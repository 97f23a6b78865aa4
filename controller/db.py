"""The controller's one SQLite file: its connections, its migrations and its single writer.

Every write goes through `Database.write`, which runs the given function in a transaction on one
writer thread, so requests, Socket.IO handlers and telemetry ingest never contend for the write
lock. A thread, not a greenlet: while it waits for the disk (a commit's fsync), every greenlet goes
on — pages are served and telemetry is received and checked. Reads use their own connection; WAL
lets them go on while the writer commits.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gevent.threadpool
import sqlite_utils

from controller.migrations import migrations

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_FILE = "classcast.sqlite"  # the database's name in the data folder (backups and restores find it so)


def connect(path: Path) -> sqlite_utils.Database:
    """Return a connection to the database file at `path`, in WAL mode with foreign keys on."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged telemetry batch must survive a power cut of the controller too.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return sqlite_utils.Database(conn)


class Database:
    """The controller's database: a read connection and a single writer thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = connect(path)
        migrations.apply(self._writer)
        self.read = connect(path)
        # One thread: jobs run one at a time, in the order they were asked for.
        self._pool = gevent.threadpool.ThreadPool(1)
        self._closed = False

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Return what `fn(db, *args)` returns, run in one transaction by the single writer.

        `fn` runs on the writer thread: it must only use the database (no greenlet switches).
        """
        return self._pool.spawn(self._run, fn, args).get()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._writer.atomic():
            return fn(self._writer, *args)

    @property
    def writer_alive(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True
        self._pool.kill()
        self.read.close()
        self._writer.close()
