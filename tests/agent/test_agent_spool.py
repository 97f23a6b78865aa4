"""The spool: a real SQLite file under tmp_path, reopened, capped, and killed mid-write."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.clock import Stamp
from agent.spool import Spool
from classcast.events import Heartbeat, Inventory

REPO = Path(__file__).resolve().parents[2]
WHEN = Stamp(wall_time=1763884790.0, mono_time=5123.4, clock_synced=True)


def test_append_stores_the_wire_form_without_empty_fields(spool: Spool) -> None:
    event_id = spool.append(Heartbeat(cpu_percent=3.5, uptime_s=12.0), WHEN)

    assert re.fullmatch(r"[0-9a-f]{16}:1", event_id)
    assert event_id.startswith(spool.spool_id + ":")
    assert spool.peek(10) == [
        {
            "id": event_id,
            "type": "heartbeat",
            "wall_time": 1763884790.0,
            "mono_time": 5123.4,
            "clock_synced": True,
            "data": {"cpu_percent": 3.5, "uptime_s": 12.0},
        }
    ]


def test_ids_are_unique_and_increasing_and_peek_gives_the_oldest(spool: Spool) -> None:
    ids = [spool.append(Heartbeat(load_1m=float(n))) for n in range(5)]

    seqs = [int(i.split(":")[1]) for i in ids]
    assert seqs == sorted(set(seqs)) == [1, 2, 3, 4, 5]
    assert [e["id"] for e in spool.peek(3)] == ids[:3]
    assert [e["data"]["load_1m"] for e in spool.peek(3)] == [0.0, 1.0, 2.0]
    assert spool.depth() == 5


def test_delete_removes_exactly_the_given_events(spool: Spool) -> None:
    ids = [spool.append(Inventory(hostname=f"panel-{n}")) for n in range(4)]

    assert spool.delete([ids[0], ids[2], "someone-else:1"]) == 2

    assert [e["id"] for e in spool.peek(10)] == [ids[1], ids[3]]
    assert spool.depth() == 2
    assert spool.dropped == 0


def test_reopening_keeps_events_spool_id_and_never_reuses_a_seq(panel_dir: Path) -> None:
    with Spool(panel_dir) as spool:
        spool_id = spool.spool_id
        first = [spool.append(Heartbeat(load_1m=1.0)) for _ in range(3)]
        spool.delete(first[1:])  # the newest ones are gone: a plain rowid would hand out their seqs again

    with Spool(panel_dir) as spool:
        assert spool.spool_id == spool_id
        assert [e["id"] for e in spool.peek(10)] == first[:1]
        assert spool.depth() == 1
        assert spool.append(Heartbeat()) == f"{spool_id}:4"


def test_the_file_is_a_wal_database(spool: Spool) -> None:
    spool.append(Heartbeat())
    with contextlib.closing(sqlite3.connect(spool.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_new_spool_gets_a_new_random_id(tmp_path: Path) -> None:
    with Spool(tmp_path / "a") as a, Spool(tmp_path / "b") as b:
        assert re.fullmatch(r"[0-9a-f]{16}", a.spool_id)
        assert a.spool_id != b.spool_id


def test_a_full_spool_drops_the_oldest_and_counts_them(
    panel_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent.spool"), Spool(panel_dir, max_events=5) as spool:
        ids = [spool.append(Heartbeat(load_1m=float(n))) for n in range(8)]

        assert spool.depth() == 5
        assert [e["id"] for e in spool.peek(10)] == ids[3:]
        assert spool.dropped == 3
    assert len([r for r in caplog.records if "spool full" in r.message]) == 1  # once, not at every append

    with Spool(panel_dir, max_events=5) as spool:
        assert spool.dropped == 3


def test_a_failed_append_leaves_nothing_behind(spool: Spool) -> None:
    first = spool.append(Heartbeat())

    with pytest.raises(TypeError):
        spool.append(Heartbeat(cpu_percent=object()))  # type: ignore[arg-type]  # not JSON: the write fails

    assert spool.depth() == 1
    assert [e["id"] for e in spool.peek(10)] == [first]
    assert spool.append(Heartbeat()) == f"{spool.spool_id}:2"


def test_drop_deletes_and_counts(spool: Spool) -> None:
    ids = [spool.append(Heartbeat()) for _ in range(3)]

    assert spool.drop(ids[:2]) == 2

    assert spool.dropped == 2
    assert [e["id"] for e in spool.peek(10)] == ids[2:]


_WRITER = """
import sys, time
from pathlib import Path
from agent.spool import Spool
from classcast.events import Heartbeat
spool = Spool(Path(sys.argv[1]))
for n in range(1000):
    print(spool.append(Heartbeat(load_1m=float(n))), flush=True)
time.sleep(30)
"""


def test_appended_events_survive_sigkill(panel_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(panel_dir)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert writer.stdout is not None
        acknowledged = [writer.stdout.readline().strip() for _ in range(20)]
    finally:
        writer.send_signal(signal.SIGKILL)  # mid-stream: it is still appending
        writer.wait(5)
        writer.stdout.close()  # type: ignore[union-attr]  # set above: stdout=PIPE

    assert writer.returncode == -signal.SIGKILL
    with Spool(panel_dir) as spool:
        stored = {e["id"] for e in spool.peek(1000)}
        assert set(acknowledged) <= stored  # every append that returned is on disk
        assert spool.depth() == len(stored) >= 20
