"""Fixtures of the agent's tests: a controller end on loopback, a spool and shippers in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from agent.shipper import Shipper
from agent.spool import Spool
from tests.agent.controller_end import Controller, ZapHandler, enroll


@pytest.fixture
def controller() -> Iterator[Controller]:
    context = zmq.Context()
    zap = ZapHandler(context)
    zap.start()
    assert zap.ready.wait(2)  # without a ZAP handler libzmq would admit every key
    controller = Controller(context, zap)
    try:
        yield controller
    finally:
        controller.socket.close()
        zap.stopping.set()
        zap.join(2)
        context.term()


@pytest.fixture
def panel_dir(tmp_path: Path) -> Path:
    return tmp_path / "panel"


@pytest.fixture
def spool(panel_dir: Path) -> Iterator[Spool]:
    with Spool(panel_dir) as spool:
        yield spool


@pytest.fixture
def make_shipper(spool: Spool, panel_dir: Path, controller: Controller) -> Iterator[Callable[..., Shipper]]:
    """Return a factory of shippers with test-sized timings, connected to `controller` as the panel."""
    context = zmq.Context()  # the agent's own context, as in its own process
    shippers: list[Shipper] = []

    def make(*, admitted: bool = True, **options: Any) -> Shipper:
        identity = enroll(panel_dir, controller, admitted=admitted)
        timings = {"batch_max_wait": 0.0, "ack_timeout": 0.3, "retry_min": 0.05, "retry_max": 0.2} | options
        shippers.append(Shipper(context, identity, spool, endpoint=controller.endpoint, **timings))
        return shippers[-1]

    yield make
    for shipper in shippers:
        shipper.close()
    context.term()
