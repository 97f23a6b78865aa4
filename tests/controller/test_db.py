"""The database: migrations, WAL, and the single writer's transactions."""

from __future__ import annotations

from pathlib import Path

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
