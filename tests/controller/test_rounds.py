"""The controller's background rounds: a failing round is logged and the next one runs all the same."""

from __future__ import annotations

import logging

import gevent
import pytest

from controller.rounds import every


def test_a_round_that_fails_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []

    def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the disk is full")

    with caplog.at_level(logging.ERROR, logger="controller.rounds"):
        loop = gevent.spawn(every, 0.01, job, "the test's round")
        try:
            with gevent.Timeout(10):
                while len(rounds) < 3:
                    gevent.sleep(0.01)
        finally:
            loop.kill()

    assert rounds[:3] == [0, 1, 2]
    [failure] = caplog.records
    assert failure.getMessage() == "the test's round failed; trying again in 0 s"
    assert failure.exc_info is not None and str(failure.exc_info[1]) == "the disk is full"
