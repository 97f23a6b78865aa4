"""The player's settings: defaults, then a TOML file, then CLASSCAST_PLAYER_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classcast.settings import Setting, load

ENV_PREFIX = "CLASSCAST_PLAYER_"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "/var/lib/classcast/panel",
        "the panel's folder: identity, content cache (shared with the agent)",
    ),
    Setting("controller_url", "http://127.0.0.1:8080", "the controller's base URL"),
    Setting("kiosk_host", "127.0.0.1", "address of the kiosk page server; keep it on loopback"),
    Setting("kiosk_port", 8090, "port of the kiosk page server (0 picks a free one)"),
    Setting("show_timeout", 10.0, "seconds the kiosk page has to report an item shown"),
    Setting("fetch_timeout", 30.0, "seconds a content download may take before it counts as failed"),
    Setting("retry_min", 1.0, "first wait before reconnecting to the controller, seconds"),
    Setting("retry_max", 60.0, "longest wait between reconnection attempts, seconds"),
    Setting(
        "devtools_url",
        "http://127.0.0.1:9222",
        "the kiosk browser's DevTools on loopback, for screenshots school IT asks for",
    ),
    Setting(
        "usage_endpoint",
        "",
        "where the player hands usage events to the agent; empty: ipc://<data_dir>/usage.sock",
    ),
    Setting("reboot_command", "systemctl reboot", "the command run when school IT reboots the panel"),
    Setting(
        "browser_check_interval",
        5.0,
        "seconds between the player's looks at the kiosk browser (docs/architecture.md, Recovery); 0: none",
    ),
    Setting(
        "browser_grace",
        20.0,
        "seconds a kiosk browser that is gone may take to come back by itself (systemd restarts it) "
        "before the player restarts it; also the least wait between two recovery steps",
    ),
    Setting(
        "browser_restart_command",
        "systemctl restart classcast-kiosk.service",
        "the command that restarts the kiosk browser; empty: the player never restarts it",
    ),
    Setting(
        "cache_max_mb",
        4096,
        "MiB the content cache may take on the card; the least recently used files go first, never "
        "those the cast or the schedule may show",
    ),
    Setting(
        "screen_power",
        "auto",
        "how the schedule turns the display off and on: auto, cec, wlr, vcgencmd, dpms or noop "
        "(docs/panels.md, Screen power)",
    ),
    Setting("screen_output", "", "wlr-randr's output name, or vcgencmd's display id; empty: every output"),
    Setting("screen_check_interval", 120.0, "seconds between reading the display's power back"),
    Setting("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"),
)


def load_config(file: Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the player's settings, read from defaults, `file`, the environment and `overrides`."""
    return load(SETTINGS, env_prefix=ENV_PREFIX, file=file, overrides=overrides)
