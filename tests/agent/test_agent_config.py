"""The agent's settings and the clock helper that stamps its events."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from agent import clock
from agent.config import ENV_PREFIX, SETTINGS, load_config
from classcast.settings import SettingsError


@pytest.fixture(autouse=True)
def _no_agent_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tests' own environment must not leak CLASSCAST_AGENT_* settings into them.
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)


def test_defaults() -> None:
    config = load_config()

    assert config["data_dir"] == "/var/lib/classcast/panel"
    assert config["telemetry_endpoint"] == "tcp://127.0.0.1:5556"
    assert (config["heartbeat_interval"], config["inventory_interval"]) == (60.0, 86400.0)
    assert (config["batch_max_events"], config["batch_max_wait"], config["ack_timeout"]) == (100, 10.0, 10.0)
    assert (config["retry_min"], config["retry_max"]) == (1.0, 60.0)
    assert config["spool_max_bytes"] == 64 * 1024 * 1024 and config["batch_window"] == 4
    assert config["log_level"] == "INFO"


def test_every_setting_has_a_help_text() -> None:
    assert all(len(setting.help) > 10 for setting in SETTINGS)
    assert len({setting.name for setting in SETTINGS}) == len(SETTINGS)


def test_file_then_environment_then_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "agent.toml"
    file.write_text('heartbeat_interval = 30\nack_timeout = 5\ntelemetry_endpoint = "tcp://ctl:5556"\n')
    monkeypatch.setenv("CLASSCAST_AGENT_ACK_TIMEOUT", "7.5")

    config = load_config(file, overrides={"telemetry_endpoint": "tcp://other:5556", "log_level": None})

    assert config["heartbeat_interval"] == 30.0
    assert config["ack_timeout"] == 7.5
    assert config["telemetry_endpoint"] == "tcp://other:5556"
    assert config["log_level"] == "INFO"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"heartbeat_interval": "0"}, "heartbeat_interval: must be greater than 0"),
        ({"heartbeat_interval": "often"}, "expected float"),
        ({"batch_max_events": "101"}, "batch_max_events: must be 1 to 100"),
        ({"batch_max_wait": "-1"}, "batch_max_wait: must not be negative"),
        ({"retry_min": "90"}, "retry_min (90.0) must not exceed retry_max (60.0)"),
        ({"log_level": "LOUD"}, "log_level"),
    ],
)
def test_values_a_loop_cannot_live_with_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_config(overrides=overrides)


def test_stamp_has_both_clocks() -> None:
    before = time.time()
    stamp = clock.stamp()

    assert before <= stamp.wall_time <= time.time()
    assert 0 < stamp.mono_time <= time.monotonic()
    assert isinstance(stamp.clock_synced, bool)


def test_timesyncds_flag_means_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag = tmp_path / "synchronized"
    monkeypatch.setattr(clock, "TIMESYNC_FLAG", flag)
    monkeypatch.setattr(clock, "_kernel_synced", lambda: False)
    assert clock.clock_synced() is False

    flag.touch()
    assert clock.clock_synced() is True
