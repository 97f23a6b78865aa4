"""The agent's settings as documented records: defaults, then a TOML file, then CLASSCAST_AGENT_* vars."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from classcast.protocol import MAX_BATCH_EVENTS
from classcast.settings import Setting, SettingsError, load

ENV_PREFIX = "CLASSCAST_AGENT_"

SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "/var/lib/classcast/panel", "the panel's data directory, shared with the player"),
    Setting("telemetry_endpoint", "tcp://127.0.0.1:5556", "the controller's ZeroMQ telemetry endpoint"),
    Setting(
        "usage_endpoint",
        "",
        "where the player hands usage events to the agent; empty: ipc://<data_dir>/usage.sock",
    ),
    Setting("heartbeat_interval", 60.0, "seconds between heartbeats"),
    Setting(
        "inventory_interval",
        86400.0,
        "seconds between inventories; one is also sent at start and whenever the inventory changes",
    ),
    Setting("batch_max_events", 100, f"most events in one batch (1 to {MAX_BATCH_EVENTS})"),
    Setting("batch_max_wait", 10.0, "seconds an event may wait for others to fill a batch before it is sent"),
    Setting("batch_window", 4, "most batches sent and not yet acknowledged at a time"),
    Setting("ack_timeout", 10.0, "seconds to wait for the controller's ack before the batch is sent again"),
    Setting("retry_min", 1.0, "seconds before the first resend; doubled at each failure, with jitter"),
    Setting("retry_max", 60.0, "most seconds between two attempts to send a batch"),
    Setting(
        "spool_max_bytes",
        64 * 1024 * 1024,
        "most bytes of events kept on disk (about 200,000 events); then the oldest are dropped and counted",
    ),
    Setting("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"),
)

_POSITIVE = (
    "heartbeat_interval",
    "inventory_interval",
    "ack_timeout",
    "retry_min",
    "retry_max",
    "spool_max_bytes",
    "batch_window",
)


def load_config(file: Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the agent's settings; SettingsError names the first one that is wrong."""
    config = load(SETTINGS, env_prefix=ENV_PREFIX, file=file, overrides=overrides)
    _check(config)
    return config


def _check(config: Mapping[str, Any]) -> None:
    # The types are checked by classcast.settings; these are the values a loop cannot live with.
    for name in _POSITIVE:
        if config[name] <= 0:
            raise SettingsError(f"{name}: must be greater than 0, got {config[name]!r}")
    if config["batch_max_wait"] < 0:
        raise SettingsError(f"batch_max_wait: must not be negative, got {config['batch_max_wait']!r}")
    if not 1 <= config["batch_max_events"] <= MAX_BATCH_EVENTS:
        raise SettingsError(
            f"batch_max_events: must be 1 to {MAX_BATCH_EVENTS}, got {config['batch_max_events']!r}"
        )
    if config["retry_min"] > config["retry_max"]:
        raise SettingsError(
            f"retry_min ({config['retry_min']}) must not exceed retry_max ({config['retry_max']})"
        )
    if not isinstance(logging.getLevelName(config["log_level"].upper()), int):
        raise SettingsError(f"log_level: expected DEBUG, INFO, WARNING or ERROR, got {config['log_level']!r}")
