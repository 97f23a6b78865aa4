"""Telemetry events as dataclasses: the wire schema, its allow-list and its documentation in one place.

The agent builds these; the controller accepts a field only if it is declared here, so nothing a
panel sends can carry more than this (no process lists, no names, no free text). Every field says its
unit and meaning; docs/protocol.md carries the table generated from them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


def _f(unit: str, help: str) -> Any:
    return field(default=None, metadata={"unit": unit, "help": help})


@dataclass
class Heartbeat:
    """Health, sampled every `heartbeat_interval` seconds."""

    type: ClassVar[str] = "heartbeat"
    cpu_percent: float | None = _f("%", "CPU busy since the previous sample, all cores")
    load_1m: float | None = _f("", "load average over one minute")
    memory_used_bytes: int | None = _f("B", "memory in use (total less available)")
    memory_total_bytes: int | None = _f("B", "physical memory")
    disk_free_bytes: int | None = _f("B", "free space on the data directory's file system")
    disk_total_bytes: int | None = _f("B", "size of the data directory's file system")
    temperature_c: float | None = _f("°C", "hottest CPU/SoC sensor; absent where there is none")
    uptime_s: float | None = _f("s", "time since the device booted")
    undervoltage_now: bool | None = _f(
        "", "the supply voltage is too low right now (Raspberry Pi firmware's flag); absent on other devices"
    )
    undervoltage_since_boot: bool | None = _f(
        "", "the supply voltage was too low at some time since boot; absent where the device cannot tell"
    )
    display_connected: bool | None = _f(
        "", "a display is detected on a video output; false if none is; absent without video outputs"
    )
    spool_events: int | None = _f("", "events waiting in the agent's spool when this heartbeat was made")
    spool_dropped: int | None = _f("", "events the spool ever dropped: full, or refused by the controller")


@dataclass
class Inventory:
    """What the device is; sent at start, when it changes, and once a day."""

    type: ClassVar[str] = "inventory"
    hostname: str | None = _f("", "the device's host name")
    machine: str | None = _f("", "CPU architecture, e.g. aarch64")
    cpu_count: int | None = _f("", "logical CPU cores")
    memory_total_bytes: int | None = _f("B", "physical memory")
    disk_total_bytes: int | None = _f("B", "size of the data directory's file system")
    os_release: str | None = _f("", "PRETTY_NAME from /etc/os-release")
    kernel: str | None = _f("", "kernel release")
    mac_addresses: list[str] | None = _f("", "MAC addresses of the network interfaces")
    boot_time: float | None = _f("s", "when the device booted, Unix time")
    agent_version: str | None = _f("", "the agent's version")


EVENT_CLASSES: dict[str, type] = {cls.type: cls for cls in (Heartbeat, Inventory)}


def field_names(event_type: str) -> frozenset[str]:
    """Return the data fields an event of `event_type` may carry (empty for an unknown type)."""
    cls = EVENT_CLASSES.get(event_type)
    return frozenset(f.name for f in dataclasses.fields(cls)) if cls else frozenset()


def describe() -> str:
    """Return the Markdown tables of every event's fields, for docs/protocol.md."""
    parts = []
    for name, cls in EVENT_CLASSES.items():
        parts.append(f"#### `{name}`\n\n{cls.__doc__}\n\n| field | unit | meaning |\n| --- | --- | --- |")
        for f in dataclasses.fields(cls):
            parts.append(f"| `{f.name}` | {f.metadata['unit'] or '—'} | {f.metadata['help']} |")
        parts.append("")
    return "\n".join(parts)
