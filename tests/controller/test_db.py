"""The database: migrations, WAL, and the single writer's transactions."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import gevent
import pytest

from controller.db import Database, migrations


def test_migrations_apply_once_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    first = Database(tmp_path / "c.sqlite")
    first.close()
    again = Database(tmp_path / "c.sqlite")  # a restart applies nothing twice
    try:
        assert migrations.pending(again.read) == []
        assert again.read.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {"region", "municipality", "school", "room", "panel", "user"} <= set(again.read.table_names())
    finally:
        again.close()


def test_a_failing_write_rolls_back_and_the_writer_goes_on(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite")

    def half_done(conn) -> None:
        conn["region"].insert({"code": "01", "name": "Адыгея"})
        raise RuntimeError("boom")

    try:
        with pytest.raises(RuntimeError, match="boom"):
            db.write(half_done)
        assert db.read["region"].count == 0
        db.write(lambda conn: conn["region"].insert({"code": "02", "name": "Башкортостан"}))
        assert [r["code"] for r in db.read["region"].rows] == ["02"]
        assert db.writer_alive
    finally:
        db.close()


def test_writes_from_many_greenlets_are_serialised(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite")

    def add(conn, n: int) -> int:
        conn["region"].insert({"code": f"{n:02d}", "name": f"Регион {n}"})
        return conn["region"].count

    try:
        jobs = [gevent.spawn(db.write, add, n) for n in range(40)]
        gevent.joinall(jobs, raise_error=True)
        assert sorted(job.value for job in jobs) == list(range(1, 41))  # each saw all writes before it
    finally:
        db.close()


def test_a_thread_writing_for_itself_takes_turns_with_the_writer(tmp_path: Path) -> None:
    # Telemetry ingest writes from its own thread, back to back under load: a page's write must get
    # the next turn, not wait behind however many of ingest's transactions the lock happens to favour.
    db = Database(tmp_path / "c.sqlite")
    stop = threading.Event()
    done: list[int] = []  # ingest's transactions, committed in order
    inside = threading.Event()

    def group(conn: Any, n: int) -> None:
        conn.execute("INSERT INTO region (code, name) VALUES (?, ?)", [f"g{n}", "telemetry"])
        inside.set()
        stop.wait(0.02)  # a group's work, holding the connection

    def ingest() -> None:
        n = 0
        while not stop.is_set():
            db.write_here(group, n)
            done.append(n)
            n += 1

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        assert inside.wait(5)
        before = len(done)
        db.write(lambda conn: conn.execute("INSERT INTO region (code, name) VALUES ('page', 'page')"))
        after = len(done)
    finally:
        stop.set()
        thread.join(5)
        db.close()
    # The group running when the page asked, and at most the one that had already taken the turnstile.
    assert after - before <= 2
    codes = [
        row[0]
        for row in sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT code FROM region ORDER BY rowid")
    ]
    assert "page" in codes and codes.index("page") <= before + 2


def test_a_long_read_aside_leaves_the_hub_its_turns_and_sees_one_snapshot(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite")
    ticks: list[int] = []
    written = threading.Event()

    def tick() -> None:
        while True:
            ticks.append(1)
            gevent.sleep(0.001)

    def long_read(conn: Any) -> tuple[int, int, int]:
        before = conn["region"].count
        seen_before = len(ticks)
        written.wait(5)  # a write commits on another connection in the middle of the read
        return before, conn["region"].count, len(ticks) - seen_before

    ticker = gevent.spawn(tick)
    try:
        reader = gevent.spawn(db.read_aside, long_read)
        gevent.sleep(0.05)
        db.write(lambda conn: conn["region"].insert({"code": "01", "name": "Адыгея"}))
        written.set()
        before, after, hub_turns = reader.get(timeout=30)
        assert before == after == 0  # one read transaction: the commit meanwhile is not half seen
        assert hub_turns > 0  # the hub's greenlets ran while the thread read
        assert db.read["region"].count == 1
    finally:
        ticker.kill()
        db.close()
