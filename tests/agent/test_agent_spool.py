"""The spool: a real SQLite file under tmp_path, reopened, capped, and killed mid-write."""

from __future__ import annotations

import contextlib
import json
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
from agent.spool import Spool, wire_form
from classcast.events import Heartbeat, Inventory

REPO = Path(__file__).resolve().parents[2]
WHEN = Stamp(wall_time=1763884790.0, mono_time=5123.4, clock_synced=True, boot="0123456789abcdef")


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
            "boot": "0123456789abcdef",
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
        spool.flush()

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


def test_a_full_spool_drops_the_oldest_and_says_which(
    panel_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = len(
        json.dumps(wire_form(Heartbeat(load_1m=0.0), "0123456789abcdef:1", WHEN), separators=(",", ":"))
    )
    with (
        caplog.at_level(logging.WARNING, logger="agent.spool"),
        Spool(panel_dir, max_bytes=40 * size) as spool,
    ):
        ids = [spool.append(Heartbeat(load_1m=float(n)), WHEN) for n in range(39)]
        spool.flush()
        assert spool.dropped == 0
        for n in range(39, 60):
            ids.append(spool.append(Heartbeat(load_1m=float(n)), WHEN))
            spool.flush()

        kept = spool.peek(100)
        notices = [e["data"] for e in kept if e["type"] == "dropped"]
        heartbeats = [e["id"] for e in kept if e["type"] == "heartbeat"]
        # The oldest went, a chunk at a time, and each notice names its chunk; all the rest is kept.
        dropped = {
            f"{spool.spool_id}:{seq}" for n in notices for seq in range(n["first_seq"], n["last_seq"] + 1)
        }
        assert {n["reason"] for n in notices} == {"full"}
        assert sum(n["count"] for n in notices) == len(dropped) == spool.dropped > 0
        assert heartbeats == [i for i in ids if i not in dropped]
        assert sorted(dropped, key=ids.index) == ids[: len(dropped)]
        assert sum(len(json.dumps(e, separators=(",", ":"))) for e in kept) <= 40 * size
    assert len([r for r in caplog.records if "spool full" in r.message]) == 1  # once, not at every flush

    with Spool(panel_dir, max_bytes=40 * size) as spool:
        assert spool.dropped == len(dropped)


def test_a_failed_flush_keeps_the_events_for_the_next(spool: Spool) -> None:
    first = spool.append(Heartbeat())
    spool.flush()
    kept = spool.append(Heartbeat(load_1m=1.0))
    spool._db.execute("PRAGMA max_page_count = 1")  # the disk is full: SQLite answers SQLITE_FULL
    filler = Heartbeat(load_1m=2.0)
    for _ in range(200):
        spool.append(filler)

    with pytest.raises(sqlite3.OperationalError, match="full"):
        spool.flush()

    spool._db.execute("PRAGMA max_page_count = 1073741823")
    spool.flush()
    assert [e["id"] for e in spool.peek(2)] == [first, kept]
    assert spool.depth() == 202


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
    kept, notice = spool.peek(10)
    assert kept["id"] == ids[2]
    assert notice["type"] == "dropped"
    assert notice["data"] == {"count": 2, "first_seq": 1, "last_seq": 2, "reason": "refused"}


_WRITER = """
import sys, time
from pathlib import Path
from agent.spool import Spool, wire_form
from classcast.events import Heartbeat
spool = Spool(Path(sys.argv[1]))
for n in range(1000):
    event_id = spool.append(Heartbeat(load_1m=float(n)))
    spool.flush()
    print(event_id, flush=True)
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
        assert set(acknowledged) <= stored  # every flush that returned is on disk
        assert spool.depth() == len(stored) >= 20


def test_a_full_spool_keeps_events_in_flight_and_earlier_notices(panel_dir: Path) -> None:
    size = len(
        json.dumps(wire_form(Heartbeat(load_1m=0.0), "0123456789abcdef:1", WHEN), separators=(",", ":"))
    )
    with Spool(panel_dir, max_bytes=40 * size) as spool:
        ids = [spool.append(Heartbeat(load_1m=float(n)), WHEN) for n in range(10)]
        in_flight = [e["id"] for e in spool.peek(5)]  # taken by the shipper, not acked yet
        for n in range(10, 120):
            ids.append(spool.append(Heartbeat(load_1m=float(n)), WHEN))
            spool.flush()

        kept = spool.peek(1000)
        notices = [e for e in kept if e["type"] == "dropped"]
        assert len(notices) > 1  # several episodes: the earlier notices were not dropped by the later
        assert [e["id"] for e in kept[:5]] == in_flight == ids[:5]
        dropped = {seq for n in notices for seq in range(n["data"]["first_seq"], n["data"]["last_seq"] + 1)}
        assert not dropped & {int(i.split(":")[1]) for i in in_flight}
        # Each notice names exactly the events it dropped: none of them is still in the spool.
        assert not dropped & {int(e["id"].split(":")[1]) for e in kept}
        assert sum(n["data"]["count"] for n in notices) == spool.dropped == len(dropped)


def test_peek_on_a_full_disk_sends_what_is_committed(spool: Spool) -> None:
    first = spool.append(Heartbeat())
    spool.flush()
    spool.append(Heartbeat(load_1m=1.0))
    spool._db.execute("PRAGMA max_page_count = 1")  # the disk is full: SQLite answers SQLITE_FULL
    for _ in range(200):
        spool.append(Heartbeat(load_1m=2.0))

    assert [e["id"] for e in spool.peek(10)] == [first]
    assert spool.depth() == 202  # the rest is kept in memory for a flush that succeeds
