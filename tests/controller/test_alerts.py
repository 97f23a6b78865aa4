"""Alert acknowledgements are written in batches: none is left behind, whenever it arrives."""

from __future__ import annotations

from typing import Any

import gevent

from controller.alerts import FLUSH_S, AckBook
from controller.app import Services
from controller.store import alerts, panels

from .conftest import World


def test_answers_arriving_while_a_batch_is_written_are_written_too(svc: Services, world: World) -> None:
    other = svc.db.write(panels.enroll_panel, world.room_a, "Панель 102", "k" * 40)[0]
    alert_id, _ = svc.db.write(alerts.create, "school", world.school_a, "", "Тревога", "danger", None)
    book = AckBook(svc)
    write = svc.db.write

    def write_while_an_ack_arrives(fn: Any, *args: Any) -> Any:
        if fn is alerts.record_answers and not arrived:
            arrived.append(True)
            book.answered(alert_id, other, {"ok": True})  # the second panel's ack, mid-commit
        return write(fn, *args)

    arrived: list[bool] = []
    svc.db.write = write_while_an_ack_arrives  # type: ignore[method-assign] - the edge: a slow commit
    book.answered(alert_id, world.panel_a, {"ok": True})
    gevent.sleep(FLUSH_S * 4)
    svc.db.write = write  # type: ignore[method-assign]
    summary = alerts.summary(svc.db.read, alerts.get(svc.db.read, alert_id))
    assert arrived and (summary["acked"], summary["total"]) == (2, 2)
