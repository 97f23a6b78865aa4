"""Collectors: exact fields from a fake Raspberry Pi's readings, and sane ones from this machine's psutil."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from agent import __version__, collectors
from agent.collectors import Readings
from classcast.events import Heartbeat, Inventory

GIB = 1024**3


class FakePi(Readings):
    """A Raspberry Pi 4 with 4 GiB, a 32 GB card, Wi-Fi and Ethernet, at 51.6 °C."""

    def __init__(self, temperatures: dict[str, list[float]] | None = None) -> None:
        super().__init__(Path("/var/lib/classcast/panel"))
        self._temperatures = {"cpu_thermal": [51.62]} if temperatures is None else temperatures

    def cpu_percent(self) -> float | None:
        return 7.5

    def load_1m(self) -> float:
        return 0.42

    def memory(self) -> tuple[int, int]:
        return 4 * GIB, 3 * GIB

    def disk(self) -> tuple[int, int]:
        return 31_000_000_000, 20_000_000_000

    def temperatures(self) -> dict[str, list[float]]:
        return self._temperatures

    def boot_time(self) -> float:
        return 1763880000.0

    def uptime(self) -> float:
        return 4800.04

    def mac_addresses(self) -> list[str]:
        return ["dc:a6:32:00:00:01", "dc:a6:32:00:00:02"]

    def hostname(self) -> str:
        return "room-204"

    def machine(self) -> str:
        return "aarch64"

    def kernel(self) -> str:
        return "6.6.51+rpt-rpi-v8"

    def os_release(self) -> str | None:
        return "Debian GNU/Linux 12 (bookworm)"

    def cpu_count(self) -> int | None:
        return 4


def test_heartbeat_of_a_pi() -> None:
    assert collectors.heartbeat(FakePi()) == Heartbeat(
        cpu_percent=7.5,
        load_1m=0.42,
        memory_used_bytes=1 * GIB,
        memory_total_bytes=4 * GIB,
        disk_free_bytes=20_000_000_000,
        disk_total_bytes=31_000_000_000,
        temperature_c=51.6,
        uptime_s=4800.0,
    )


def test_inventory_of_a_pi() -> None:
    assert collectors.inventory(FakePi()) == Inventory(
        hostname="room-204",
        machine="aarch64",
        cpu_count=4,
        memory_total_bytes=4 * GIB,
        disk_total_bytes=31_000_000_000,
        os_release="Debian GNU/Linux 12 (bookworm)",
        kernel="6.6.51+rpt-rpi-v8",
        mac_addresses=["dc:a6:32:00:00:01", "dc:a6:32:00:00:02"],
        boot_time=1763880000.0,
        agent_version=__version__,
    )


@pytest.mark.parametrize(
    ("sensors", "expected"),
    [
        ({}, None),  # no sensors at all (a VM, a container)
        ({"nvme": [38.0], "iwlwifi_1": [45.0]}, None),  # none of them is the CPU's
        ({"coretemp": [48.0, 61.27, 55.0], "acpitz": [90.0]}, 61.3),  # the hottest core, not the board
    ],
)
def test_temperature_is_the_hottest_cpu_sensor(
    sensors: dict[str, list[float]], expected: float | None
) -> None:
    assert collectors.heartbeat(FakePi(temperatures=sensors)).temperature_c == expected


def test_real_readings_give_sane_values(tmp_path: Path) -> None:
    readings = Readings(tmp_path)
    first, second = collectors.heartbeat(readings), collectors.heartbeat(readings)
    inventory = collectors.inventory(readings)

    assert first.cpu_percent is None  # psutil's first sample has nothing to compare with
    assert isinstance(second.cpu_percent, float) and 0.0 <= second.cpu_percent <= 100.0
    assert isinstance(second.load_1m, float) and second.load_1m >= 0.0
    assert 0 < second.memory_used_bytes < second.memory_total_bytes  # type: ignore[operator]  # ints here
    assert 0 <= second.disk_free_bytes <= second.disk_total_bytes  # type: ignore[operator]  # ints here
    assert second.temperature_c is None or isinstance(second.temperature_c, float)
    assert isinstance(second.uptime_s, float) and second.uptime_s > 0
    assert inventory.memory_total_bytes == second.memory_total_bytes
    assert inventory.cpu_count and inventory.cpu_count >= 1
    assert inventory.hostname and inventory.machine and inventory.kernel
    assert inventory.boot_time and inventory.boot_time < 1e10
    assert inventory.agent_version == __version__
    assert all(re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) for mac in inventory.mac_addresses or [])


def test_a_pi_fills_every_field_of_the_schema() -> None:
    # A field left None on a Pi would be missing from every event; catch a reading that was forgotten.
    # The spool's two fields are the agent loop's to fill (it owns the spool), not a sensor's.
    filled_by_the_loop = {"spool_events", "spool_dropped"}
    for event in (collectors.heartbeat(FakePi()), collectors.inventory(FakePi())):
        missing = {name for name, value in dataclasses.asdict(event).items() if value is None}
        assert missing <= filled_by_the_loop, missing
