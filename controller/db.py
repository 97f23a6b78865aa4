"""The controller's one SQLite file: its connections, its migrations and its single writer.

Every write goes through `Database.write`, which runs the given function in a transaction on one
writer greenlet, so requests, Socket.IO handlers and telemetry ingest never contend for the write
lock. Reads use their own connection; WAL lets them go on while the writer commits.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gevent
import gevent.event
import gevent.queue
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
    """The controller's database: a read connection and a single writer greenlet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = connect(path)
        migrations.apply(self._writer)
        self.read = connect(path)
        self._jobs: gevent.queue.Queue = gevent.queue.Queue()
        self._greenlet: gevent.Greenlet | None = None

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Return what `fn(db, *args)` returns, run in one transaction by the single writer."""
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)
        done: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self._jobs.put((fn, args, done))
        return done.get()

    def _run(self) -> None:
        while True:
            fn, args, done = self._jobs.get()
            try:
                with self._writer.atomic():
                    result = fn(self._writer, *args)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller, who raises it
                done.set_exception(exc)
            else:
                done.set(result)

    @property
    def writer_alive(self) -> bool:
        return self._greenlet is None or not self._greenlet.dead

    def close(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
        self.read.close()
        self._writer.close()
