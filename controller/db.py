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
from sqlite_utils.migrations import Migrations

log = logging.getLogger(__name__)
T = TypeVar("T")

migrations = Migrations("classcast")


@migrations(name="0001_registry_panels_content_telemetry")
def _m0001(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0001:
        db.execute(statement)


_SCHEMA_0001 = (
    """CREATE TABLE region (
        id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        archived_at TEXT)""",
    """CREATE TABLE municipality (
        id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL REFERENCES region(id),
        name TEXT NOT NULL, archived_at TEXT)""",
    """CREATE TABLE school (
        id INTEGER PRIMARY KEY, municipality_id INTEGER NOT NULL REFERENCES municipality(id),
        name TEXT NOT NULL, short_name TEXT NOT NULL, ogrn TEXT, inn TEXT, address TEXT,
        timezone TEXT NOT NULL DEFAULT 'Europe/Moscow', archived_at TEXT)""",
    """CREATE TABLE room (
        id INTEGER PRIMARY KEY, school_id INTEGER NOT NULL REFERENCES school(id),
        name TEXT NOT NULL, archived_at TEXT)""",
    """CREATE TABLE user (
        id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, password_hash TEXT,
        full_name TEXT NOT NULL, role TEXT NOT NULL
            CHECK (role IN ('teacher', 'school_it', 'municipal', 'regional', 'operator')),
        node_type TEXT CHECK (node_type IN ('region', 'municipality', 'school')),
        node_id INTEGER, created_at TEXT NOT NULL, archived_at TEXT)""",
    """CREATE TABLE panel (
        id INTEGER PRIMARY KEY, school_id INTEGER NOT NULL REFERENCES school(id),
        room_id INTEGER REFERENCES room(id), name TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'active',
        token_hash TEXT UNIQUE, curve_public_key TEXT UNIQUE,
        created_at TEXT NOT NULL, last_seen_at TEXT, player_version TEXT, agent_version TEXT)""",
    """CREATE TABLE content (
        sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, mime TEXT NOT NULL, title TEXT NOT NULL,
        school_id INTEGER REFERENCES school(id), created_at TEXT NOT NULL)""",
    """CREATE TABLE "cast" (
        id INTEGER PRIMARY KEY, panel_id INTEGER NOT NULL REFERENCES panel(id),
        room_id INTEGER REFERENCES room(id), user_id INTEGER REFERENCES user(id),
        kind TEXT NOT NULL, content_sha256 TEXT REFERENCES content(sha256), url TEXT,
        title TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'sent',
        created_at TEXT NOT NULL, shown_at REAL, error TEXT)""",
    """CREATE TABLE telemetry_event (
        panel_id INTEGER NOT NULL REFERENCES panel(id), event_id TEXT NOT NULL,
        type TEXT NOT NULL, wall_time REAL NOT NULL, received_at REAL NOT NULL,
        clock_synced INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (panel_id, event_id)) WITHOUT ROWID""",
    "CREATE INDEX telemetry_event_by_type_time ON telemetry_event(type, wall_time)",
    """CREATE TABLE telemetry_rejection (
        id INTEGER PRIMARY KEY, panel_id INTEGER REFERENCES panel(id), event_id TEXT,
        error TEXT NOT NULL, received_at REAL NOT NULL)""",
)


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
