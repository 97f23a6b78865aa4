"""Collectors: exact fields from a fake Raspberry Pi's readings and replayed /sys files, and sane ones from
this machine's psutil and /sys."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from agent import __version__, collectors
from agent.clock import stamp
from agent.collectors import FIRMWARE_THROTTLED, Readings
from agent.spool import wire_form
from classcast.events import Heartbeat, Inventory

GIB = 1024**3


class FakePi(Readings):
    """A Raspberry Pi 4 with 4 GiB, a 32 GB card, Wi-Fi and Ethernet, at 51.6 °C."""

    def __init__(self, root: Path, temperatures: dict[str, list[float]] | None = None) -> None:
        super().__init__(Path("/var/lib/classcast/panel"), root=root)
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


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")  # as the kernel prints them


def _device(root: Path, folder: str, link: str, files: dict[str, str]) -> None:
    """Make a device's folder under /sys with `files`, and its class link, as the kernel lays them out."""
    for name, text in files.items():
        _write(root / folder / name, text)
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(root / folder)


def replay_pi(
    root: Path,
    *,
    throttled: str | None = "0x0",
    volt_alarm: str = "0",
    hdmi: tuple[str, str] = ("connected", "disconnected"),
) -> Path:
    """Return `root` laid out as a Raspberry Pi 4's /sys: firmware flags, two hwmon devices, two HDMI ports.

    `throttled` None: a kernel without the firmware's get_throttled file.
    """
    if throttled is not None:
        _write(root / FIRMWARE_THROTTLED, throttled)
    thermal = {"name": "cpu_thermal", "temp1_input": "51620"}
    _device(root, "sys/devices/virtual/thermal/thermal_zone0/hwmon0", "sys/class/hwmon/hwmon0", thermal)
    volt = {"name": "rpi_volt", "in0_lcrit_alarm": volt_alarm}
    firmware = "sys/devices/platform/soc/soc:firmware"
    _device(root, f"{firmware}/raspberrypi-hwmon/hwmon/hwmon1", "sys/class/hwmon/hwmon1", volt)
    card = "sys/devices/platform/gpu/drm/card1"
    _device(root, card, "sys/class/drm/card1", {"dev": "226:1"})
    for connector, status in [("HDMI-A-1", hdmi[0]), ("HDMI-A-2", hdmi[1]), ("Writeback-1", "unknown")]:
        files = {"status": status, "enabled": "enabled" if status == "connected" else "disabled"}
        _device(root, f"{card}/card1-{connector}", f"sys/class/drm/card1-{connector}", files)
    return root


@pytest.fixture
def pi(tmp_path: Path) -> FakePi:
    """A healthy Pi: a good power supply, a display on its first HDMI port."""
    return FakePi(replay_pi(tmp_path))


def test_heartbeat_of_a_pi(pi: FakePi) -> None:
    assert collectors.heartbeat(pi) == Heartbeat(
        cpu_percent=7.5,
        load_1m=0.42,
        memory_used_bytes=1 * GIB,
        memory_total_bytes=4 * GIB,
        disk_free_bytes=20_000_000_000,
        disk_total_bytes=31_000_000_000,
        temperature_c=51.6,
        uptime_s=4800.0,
        undervoltage_now=False,
        undervoltage_since_boot=False,
        display_connected=True,
    )


def test_inventory_of_a_pi(pi: FakePi) -> None:
    assert collectors.inventory(pi) == Inventory(
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
    tmp_path: Path, sensors: dict[str, list[float]], expected: float | None
) -> None:
    assert collectors.heartbeat(FakePi(tmp_path, temperatures=sensors)).temperature_c == expected


@pytest.mark.parametrize(
    ("throttled", "now", "since_boot"),
    [
        ("0x50005", True, True),  # under-voltage now (and so since boot), throttled for it
        ("0x50000", False, True),  # the supply dipped earlier, e.g. when the screen lit up at 8:00
        ("0x80000", False, False),  # too hot once, but the supply was always good
        ("50005", True, True),  # the same flags without the 0x prefix
    ],
)
def test_an_under_volted_pi_says_so_from_the_firmware_flags(
    tmp_path: Path, throttled: str, now: bool, since_boot: bool
) -> None:
    # The hwmon alarm is off: the firmware's file is read first, and it alone knows "since boot".
    heartbeat = collectors.heartbeat(FakePi(replay_pi(tmp_path, throttled=throttled, volt_alarm="0")))

    assert (heartbeat.undervoltage_now, heartbeat.undervoltage_since_boot) == (now, since_boot)


@pytest.mark.parametrize(("alarm", "now", "since_boot"), [("1", True, True), ("0", False, None)])
def test_without_the_firmware_file_the_hwmon_alarm_tells_of_now(
    tmp_path: Path, alarm: str, now: bool, since_boot: bool | None
) -> None:
    heartbeat = collectors.heartbeat(FakePi(replay_pi(tmp_path, throttled=None, volt_alarm=alarm)))

    assert (heartbeat.undervoltage_now, heartbeat.undervoltage_since_boot) == (now, since_boot)


@pytest.mark.parametrize(
    ("hdmi", "connected"),
    [
        (("disconnected", "disconnected"), False),  # the cable was pulled out of the panel
        (("disconnected", "connected"), True),  # the display is on the second port
    ],
)
def test_a_pi_says_whether_a_display_is_connected(
    tmp_path: Path, hdmi: tuple[str, str], connected: bool
) -> None:
    assert collectors.heartbeat(FakePi(replay_pi(tmp_path, hdmi=hdmi))).display_connected is connected


def test_a_machine_that_is_not_a_pi_leaves_the_pi_fields_out(tmp_path: Path) -> None:
    # A virtual machine: hwmon devices, none of them the Pi's voltage monitor, and no video output.
    _device(
        tmp_path,
        "sys/devices/platform/coretemp.0/hwmon/hwmon2",
        "sys/class/hwmon/hwmon2",
        {"name": "coretemp"},
    )
    _write(tmp_path / "sys/class/drm/version", "drm 1.1.0 20060810")

    heartbeat = collectors.heartbeat(FakePi(tmp_path))

    assert heartbeat.undervoltage_now is None
    assert heartbeat.undervoltage_since_boot is None
    assert heartbeat.display_connected is None
    assert "undervoltage_now" not in wire_form(heartbeat, "s:1", stamp())["data"]  # left out, not false


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
    for flag in (second.undervoltage_now, second.undervoltage_since_boot, second.display_connected):
        assert flag is None or isinstance(flag, bool)
    assert inventory.memory_total_bytes == second.memory_total_bytes
    assert inventory.cpu_count and inventory.cpu_count >= 1
    assert inventory.hostname and inventory.machine and inventory.kernel
    assert inventory.boot_time and inventory.boot_time < 1e10
    assert inventory.agent_version == __version__
    assert all(re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) for mac in inventory.mac_addresses or [])


def test_a_pi_fills_every_field_of_the_schema(pi: FakePi) -> None:
    # A field left None on a Pi would be missing from every event; catch a reading that was forgotten.
    # The spool's two fields are the agent loop's to fill (it owns the spool), not a sensor's.
    filled_by_the_loop = {"spool_events", "spool_dropped"}
    for event in (collectors.heartbeat(pi), collectors.inventory(pi)):
        missing = {name for name, value in dataclasses.asdict(event).items() if value is None}
        assert missing <= filled_by_the_loop, missing
