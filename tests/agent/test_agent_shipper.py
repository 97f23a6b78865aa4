"""The shipper against a real CURVE ROUTER on loopback, with a ZAP handler that knows the panel's key."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.clock import Stamp
from agent.shipper import Shipper
from agent.spool import Spool
from classcast.events import Heartbeat
from classcast.identity import ensure_identity
from classcast.protocol import ERROR_REVOKED, FRAME_ACK, FRAME_ERROR
from tests.agent.controller_end import Controller, exchange, parse_batch, pump

MakeShipper = Callable[..., Shipper]


def _ack(seq: int, stored: int, duplicates: int = 0, rejected: list[dict[str, str]] | None = None) -> dict:
    return {"seq": seq, "stored": stored, "duplicates": duplicates, "rejected": rejected or []}


def test_an_acked_batch_leaves_the_spool(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper()
    ids = [spool.append(Heartbeat(load_1m=float(n))) for n in range(3)]

    message = exchange(shipper, controller)

    assert message is not None
    routing_id, frames = message
    batch = parse_batch(frames)
    assert [e["id"] for e in batch["events"]] == ids
    assert isinstance(batch["seq"], int) and batch["sent_at"] > 1.7e9
    controller.reply(routing_id, FRAME_ACK, _ack(batch["seq"], stored=3))
    pump(shipper, seconds=2, until=lambda: not shipper.in_flight)
    assert spool.depth() == 0
    assert spool.dropped == 0


def test_duplicates_and_rejected_events_are_settled_too(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper()
    ids = [spool.append(Heartbeat()) for _ in range(3)]
    routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")
    seq = parse_batch(frames)["seq"]

    rejected = [{"id": ids[2], "error": "unknown_field"}]
    controller.reply(routing_id, FRAME_ACK, _ack(seq, stored=1, duplicates=1, rejected=rejected))
    pump(shipper, seconds=2, until=lambda: not shipper.in_flight)

    assert spool.depth() == 0
    assert spool.dropped == 0  # settled by the controller, not lost by the agent


def test_batches_respect_batch_max_events(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper(batch_max_events=100)
    ids = [spool.append(Heartbeat()) for _ in range(250)]
    shipped: list[str] = []
    seqs: list[int] = []

    for _ in range(3):
        routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")
        batch = parse_batch(frames)
        shipped += [e["id"] for e in batch["events"]]
        seqs.append(batch["seq"])
        controller.reply(routing_id, FRAME_ACK, _ack(batch["seq"], stored=len(batch["events"])))
        pump(shipper, seconds=2, until=lambda: not shipper.in_flight)

    assert shipped == ids  # oldest first, each once: 100, 100, 50
    assert seqs == sorted(set(seqs))
    assert spool.depth() == 0


def test_without_an_ack_the_same_events_are_sent_again(
    spool: Spool, controller: Controller, make_shipper: MakeShipper, caplog: pytest.LogCaptureFixture
) -> None:
    shipper = make_shipper(ack_timeout=0.2)
    ids = [spool.append(Heartbeat()) for _ in range(2)]

    with caplog.at_level(logging.INFO, logger="agent.shipper"):
        messages = [exchange(shipper, controller) or pytest.fail("no batch arrived") for _ in range(3)]
        batches = [parse_batch(frames) for _, frames in messages]
        assert spool.depth() == 2  # nothing is lost while the controller is silent
        controller.reply(messages[-1][0], FRAME_ACK, _ack(batches[-1]["seq"], stored=0, duplicates=2))
        pump(shipper, seconds=2, until=lambda: not shipper.in_flight)

    assert all([e["id"] for e in batch["events"]] == ids for batch in batches)
    assert len({batch["seq"] for batch in batches}) == 1  # the same batch, sent again
    assert batches[0]["sent_at"] < batches[1]["sent_at"] < batches[2]["sent_at"]
    assert spool.depth() == 0
    # The outage and the recovery are each logged once, not at every retry.
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "no ack within 0.2 s" in caplog.records[0].message
    assert "after 2 failed attempts" in caplog.records[1].message


def test_an_ack_for_another_batch_is_ignored(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper(ack_timeout=5.0)
    spool.append(Heartbeat())
    routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")
    seq = parse_batch(frames)["seq"]

    controller.reply(routing_id, FRAME_ACK, _ack(seq + 1, stored=1))
    pump(shipper, seconds=0.3)
    assert shipper.in_flight and spool.depth() == 1

    controller.reply(routing_id, FRAME_ACK, _ack(seq, stored=1))
    pump(shipper, seconds=2, until=lambda: not shipper.in_flight)
    assert spool.depth() == 0


def test_an_error_drops_the_batch_and_counts_it(
    spool: Spool, controller: Controller, make_shipper: MakeShipper, caplog: pytest.LogCaptureFixture
) -> None:
    shipper = make_shipper()
    for _ in range(3):
        spool.append(Heartbeat())
    routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")
    seq = parse_batch(frames)["seq"]

    with caplog.at_level(logging.ERROR, logger="agent.shipper"):
        controller.reply(
            routing_id, FRAME_ERROR, {"seq": seq, "error": "bad_batch", "message": "events: bad"}
        )
        pump(shipper, seconds=2, until=lambda: not shipper.in_flight)

    assert spool.dropped == 3
    assert len(caplog.records) == 1 and "bad_batch" in caplog.records[0].message
    # What comes next is not the refused batch again, but the notice of what was dropped.
    _routing_id, frames = exchange(shipper, controller) or pytest.fail("no notice arrived")
    (notice,) = parse_batch(frames)["events"]
    assert (notice["type"], notice["data"]["count"], notice["data"]["reason"]) == ("dropped", 3, "refused")


def test_a_revoked_panel_keeps_its_events_and_stops_sending(
    spool: Spool, controller: Controller, make_shipper: MakeShipper, caplog: pytest.LogCaptureFixture
) -> None:
    shipper = make_shipper(ack_timeout=0.2)
    ids = [spool.append(Heartbeat()) for _ in range(3)]
    routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")
    seq = parse_batch(frames)["seq"]
    revoked = {"seq": seq, "error": ERROR_REVOKED, "message": "this panel's credentials were revoked"}

    with caplog.at_level(logging.INFO, logger="agent.shipper"):
        controller.reply(routing_id, FRAME_ERROR, revoked)
        controller.reply(
            routing_id, FRAME_ERROR, revoked
        )  # e.g. to a copy sent again: logged once all the same
        pump(shipper, seconds=2, until=lambda: shipper.revoked)
        later = spool.append(Heartbeat())
        # Longer than the ack timeout and the longest backoff: a shipper still at work would have sent again.
        pump(shipper, seconds=1.0)

    assert shipper.revoked and not shipper.in_flight
    assert controller.recv(timeout=0.1) is None
    assert [event["id"] for event in spool.peek(10)] == [*ids, later]  # nothing settled, nothing dropped
    assert spool.dropped == 0
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "revoked this panel's credentials" in caplog.records[0].message
    assert "3 events kept" in caplog.records[0].message


def test_an_unsupported_version_keeps_the_batch_for_later(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper(ack_timeout=0.2)
    ids = [spool.append(Heartbeat()) for _ in range(2)]
    routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")
    seq = parse_batch(frames)["seq"]

    controller.reply(routing_id, FRAME_ERROR, {"seq": seq, "error": "unsupported_version", "message": "old"})
    again = exchange(shipper, controller) or pytest.fail("the batch was not sent again")
    assert [e["id"] for e in parse_batch(again[1])["events"]] == ids
    assert spool.depth() == 2 and spool.dropped == 0

    controller.reply(again[0], FRAME_ACK, _ack(seq, stored=2))
    pump(shipper, seconds=2, until=lambda: not shipper.in_flight)
    assert spool.depth() == 0


def test_an_unknown_panel_key_gets_nothing_through(
    spool: Spool, controller: Controller, make_shipper: MakeShipper, panel_dir: Path
) -> None:
    shipper = make_shipper(admitted=False)
    spool.append(Heartbeat())

    assert exchange(shipper, controller, timeout=1.0) is None

    assert (
        ensure_identity(panel_dir).public_key in controller.zap.seen
    )  # the handshake was tried, and refused
    assert shipper.failures >= 1
    assert spool.depth() == 1  # kept for when the panel is admitted


def test_a_batch_waits_up_to_batch_max_wait(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper(batch_max_wait=0.5)
    now = time.monotonic()  # read before the event is stamped, as the agent's loop does
    spool.append(Heartbeat())

    wake = shipper.step(now)

    assert wake is not None and wake == pytest.approx(now + 0.5, abs=0.05)
    assert controller.recv(timeout=0.1) is None  # not sent at once: it waits for company
    assert exchange(shipper, controller) is not None
    assert time.monotonic() - now >= 0.5


def test_events_from_before_a_reboot_are_sent_at_once(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper(batch_max_wait=60.0)
    # Stamped before a reboot: that boot's monotonic clock had run further than this one's.
    spool.append(
        Heartbeat(), Stamp(wall_time=time.time() - 10, mono_time=time.monotonic() + 1e6, clock_synced=True)
    )

    assert exchange(shipper, controller, timeout=1.0) is not None


def test_a_batch_sent_while_the_controller_is_down_arrives_when_it_is_back(
    spool: Spool, controller: Controller, make_shipper: MakeShipper
) -> None:
    shipper = make_shipper(ack_timeout=0.1)
    controller.stop()
    ids = [spool.append(Heartbeat()) for _ in range(2)]
    pump(shipper, seconds=0.6)
    assert shipper.failures >= 2

    controller.start()
    routing_id, frames = exchange(shipper, controller) or pytest.fail("no batch arrived")

    batch = parse_batch(frames)
    assert [e["id"] for e in batch["events"]] == ids
    controller.reply(routing_id, FRAME_ACK, _ack(batch["seq"], stored=2))
    pump(shipper, seconds=2, until=lambda: not shipper.in_flight)
    assert spool.depth() == 0
