"""The controller's one SQLite file: its connections, its migrations and its single writer.

Every write goes through `Database.write`, which runs the given function in a transaction on one
writer thread, so requests and Socket.IO handlers never contend for the write lock. Telemetry
ingest, on a thread of its own, writes with `write_here`: its transactions take turns with the
writer thread's under one lock. Threads, not greenlets: while they wait for the disk (a commit's
fsync), every greenlet goes on and pages are served. Reads use their own connection; WAL lets them
go on while the writer commits.

Checkpoints (copying the WAL into the file, with fsyncs of their own) run on a thread of their own
four times a second, so a commit waits only for its WAL to reach the disk. The writer checkpoints itself
only if the WAL outgrows WAL_BACKSTOP_PAGES, should that thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gevent.threadpool
import sqlite_utils
from gevent.monkey import get_original

from controller.migrations import migrations

log = logging.getLogger(__name__)
T = TypeVar("T")

# Small and often: a checkpoint's writes and fsync of the file slow the commits' fsyncs meanwhile, and
# under a telemetry flood a 1 s one stalled a page's write for 200 ms (bench/ingest_bench.py).
CHECKPOINT_EVERY_S = 0.25
WAL_BACKSTOP_PAGES = 16384  # 64 MiB of 4 KiB pages; SQLite's default, 1,000, would checkpoint in a commit
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
        self._writer.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
        self.read = connect(path)
        # One thread: jobs run one at a time, in the order they were asked for.
        self._pool = gevent.threadpool.ThreadPool(1)
        # Real locks (not gevent's): one transaction at a time on the writer connection, between the
        # writer thread and a thread that writes for itself (write_here); the turnstile lets one wait
        # at a time, so that the two take turns and neither waits behind two of the other's.
        allocate_lock = get_original("_thread", "allocate_lock")
        self._write_lock, self._turnstile = allocate_lock(), allocate_lock()
        self._closed = False
        self._writes = 0
        self._checkpoints = connect(path)
        self._checkpoint_pool = gevent.threadpool.ThreadPool(1)
        self._aside: sqlite_utils.Database | None = None  # made on the reading thread when first used
        self._aside_pool = gevent.threadpool.ThreadPool(1)
        self._checkpointer = gevent.spawn(self._checkpoint_now_and_then)

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Return what `fn(db, *args)` returns, run in one transaction by the single writer.

        `fn` runs on the writer thread: it must only use the database (no greenlet switches).
        """
        self._writes += 1
        return self._pool.spawn(self._run, fn, args).get()

    def write_here(self, fn: Callable[..., T], *args: Any) -> T:
        """Return what `fn(db, *args)` returns, run in one transaction on the calling thread.

        For a thread of its own (telemetry ingest), which must not wait on the hub to hand work to the
        writer thread; its transactions take turns with the writer's. Never from the hub: waiting for
        the lock would stop every greenlet.
        """
        self._writes += 1
        return self._run(fn, args)

    def read_aside(self, fn: Callable[..., T], *args: Any) -> T:
        """Return what `fn(db, *args)` returns, run on a reading thread with a connection of its own.

        For a long read (a region's statistics, a report of 200,000 cells): the hub's greenlets (casts,
        pages) keep their turns meanwhile, as the thread gives up the GIL every switch interval. One
        such read at a time, in one read transaction (one snapshot); `fn` must not touch the hub.
        """
        return self._aside_pool.spawn(self._read_aside, fn, args).get()

    def _read_aside(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._aside is None:
            self._aside = connect(self.path)
        with self._aside.atomic():
            return fn(self._aside, *args)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._turnstile:
            self._write_lock.acquire()
        try:
            with self._writer.atomic():
                return fn(self._writer, *args)
        finally:
            self._write_lock.release()

    def _checkpoint_now_and_then(self) -> None:
        checkpointed = 0
        while True:
            gevent.sleep(CHECKPOINT_EVERY_S)
            if self._writes == checkpointed:
                continue
            checkpointed = self._writes
            try:
                # PASSIVE: copies what it can without waiting for, or holding up, the writer or readers.
                self._checkpoint_pool.spawn(self._checkpoint).get()
            except sqlite3.Error:
                log.exception("database: a checkpoint failed; the next one will try again")

    def _checkpoint(self) -> None:
        self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    @property
    def writer_alive(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True
        self._checkpointer.kill()
        self._checkpoint_pool.kill()
        self._aside_pool.kill()
        if self._aside is not None:
            self._aside.close()
        self._pool.kill()
        self._checkpoints.close()
        self.read.close()
        self._writer.close()
