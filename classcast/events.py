"""Telemetry events as dataclasses: the wire schema, its allow-list and its documentation in one place.

The agent builds these; the controller accepts a field only if it is declared here, so nothing a
panel sends can carry more than this (no process lists, no names, no free text). Every field says its
unit and meaning; docs/protocol.md carries the table generated from them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


def _f(unit: str, help: str, choices: tuple[str, ...] = ()) -> Any:
    """Declare an optional field with its unit, its meaning and, for a word, the words it may be."""
    return field(default=None, metadata={"unit": unit, "help": help, "choices": choices})


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
    throttled_now: bool | None = _f(
        "", "the CPU is throttled right now (Raspberry Pi firmware's flag); absent on other devices"
    )
    throttled_since_boot: bool | None = _f(
        "", "the CPU was throttled at some time since boot (Raspberry Pi firmware's flag)"
    )
    frequency_capped_now: bool | None = _f(
        "", "the CPU's frequency is capped right now (Raspberry Pi firmware's flag); absent on other devices"
    )
    frequency_capped_since_boot: bool | None = _f(
        "", "the CPU's frequency was capped at some time since boot (Raspberry Pi firmware's flag)"
    )
    soft_temperature_limit_now: bool | None = _f(
        "", "the soft temperature limit is active right now (Raspberry Pi firmware's flag)"
    )
    soft_temperature_limit_since_boot: bool | None = _f(
        "", "the soft temperature limit was active at some time since boot (Raspberry Pi firmware's flag)"
    )
    display_connected: bool | None = _f(
        "", "a display is detected on a video output; false if none is; absent without video outputs"
    )
    network_sent_bytes: int | None = _f(
        "B", "sent through the network interfaces since boot, loopback left out"
    )
    network_received_bytes: int | None = _f(
        "B", "received through the network interfaces since boot, loopback left out"
    )
    spool_events: int | None = _f("", "events waiting in the agent's spool when this heartbeat was made")
    spool_dropped: int | None = _f("", "events the spool ever dropped: full, or refused by the controller")


@dataclass
class Inventory:
    """What the device is; sent at start, when it changes (looked at every 10 minutes), and once a day."""

    type: ClassVar[str] = "inventory"
    hostname: str | None = _f("", "the device's host name")
    model: str | None = _f(
        "", "the board or product, e.g. Raspberry Pi 4 Model B Rev 1.4 (device tree, else DMI)"
    )
    serial: str | None = _f("", "the board's serial number; absent where the device does not let it be read")
    machine: str | None = _f("", "CPU architecture, e.g. aarch64")
    cpu_model: str | None = _f("", "the CPU's model name, e.g. ARM Cortex-A72")
    cpu_count: int | None = _f("", "logical CPU cores")
    memory_total_bytes: int | None = _f("B", "physical memory")
    disk_total_bytes: int | None = _f("B", "size of the data directory's file system")
    os_release: str | None = _f("", "PRETTY_NAME from /etc/os-release")
    kernel: str | None = _f("", "kernel release")
    mac_addresses: list[str] | None = _f("", "MAC addresses of the network interfaces")
    ip_addresses: list[str] | None = _f("", "IPv4 and IPv6 addresses, loopback and IPv6 link-local left out")
    display_connected: bool | None = _f(
        "", "a display is detected on a video output; false if none is; absent without video outputs"
    )
    display_resolution: str | None = _f(
        "", "the connected display's preferred mode, e.g. 1920x1080; absent without a connected display"
    )
    boot_time: float | None = _f("s", "when the device booted, Unix time, in whole seconds")
    player_version: str | None = _f("", "the player's version; absent where the player is not installed")
    agent_version: str | None = _f("", "the agent's version")


# Usage: what the screen did. The player reports a span when it ends, and every few minutes while it
# lasts (a power cut then loses little); the event's own time is the span's end, so correcting the
# event's clock corrects the span. `part` numbers the reports of one span: 0 is its first.

SOURCES = ("cast", "schedule", "alert")
ITEM_KINDS = ("image", "video", "pdf", "page", "html5", "text")


@dataclass
class Shown:
    """An item was on screen for `duration_s` seconds, until this event's time."""

    type: ClassVar[str] = "shown"
    source: str | None = _f("", "who put it there: a teacher's cast, the room's schedule, an alert", SOURCES)
    kind: str | None = _f("", "what it is", ITEM_KINDS)
    lesson: bool | None = _f(
        "", "lesson content (a cast, or a schedule item marked as a lesson), not idle content"
    )
    library: bool | None = _f("", "the item came from the main system's library of verified content")
    duration_s: float | None = _f("s", "how long it was on screen in this report")
    part: int | None = _f("", "0 for the first report of a showing, then 1, 2… for its continuations")
    cast_id: int | None = _f("", "the controller's cast, when a teacher cast it")
    sha256: str | None = _f("", "the content's SHA-256, when it came from the content store")


@dataclass
class Screen:
    """The display was on or off for `duration_s` seconds, until this event's time."""

    type: ClassVar[str] = "screen"
    on: bool | None = _f("", "the display was on")
    duration_s: float | None = _f("s", "how long, in this report")
    part: int | None = _f("", "0 for the first report of this state, then 1, 2… for its continuations")
    reason: str | None = _f(
        "",
        "why it was in that state: by schedule, by a command, or a fault",
        ("schedule", "command", "fault"),
    )


@dataclass
class Recovery:
    """The player brought the screen back by itself."""

    type: ClassVar[str] = "recovery"
    action: str | None = _f("", "what it did", ("page_reload", "browser_restart", "player_restart"))
    cause: str | None = _f("", "what it found", ("crashed", "hung", "blank", "exited"))


@dataclass
class Dropped:
    """Events that will never reach the controller: dropped by the agent's spool, or by the player's
    usage outbox while the agent was away (then without sequence numbers)."""

    type: ClassVar[str] = "dropped"
    count: int | None = _f("", "how many events were dropped")
    first_seq: int | None = _f("", "the first dropped event's sequence number in the spool")
    last_seq: int | None = _f("", "the last dropped event's sequence number in the spool")
    reason: str | None = _f(
        "",
        "the spool was full, the controller refused their batch, or the player's outbox was full",
        ("full", "refused", "outbox_full"),
    )


EVENT_CLASSES: dict[str, type] = {
    cls.type: cls for cls in (Heartbeat, Inventory, Shown, Screen, Recovery, Dropped)
}
USAGE_TYPES = ("shown", "screen", "recovery")  # the events the player records
# What the player's outbox hands to the agent: those, and its own notice of events it dropped.
OUTBOX_TYPES = (*USAGE_TYPES, "dropped")


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
            choices = (
                " (" + ", ".join(f"`{c}`" for c in f.metadata["choices"]) + ")"
                if f.metadata["choices"]
                else ""
            )
            parts.append(f"| `{f.name}` | {f.metadata['unit'] or '—'} | {f.metadata['help']}{choices} |")
        parts.append("")
    return "\n".join(parts)
