"""Collectors: exact fields from a fake Raspberry Pi's readings and replayed /sys and /proc files, and sane
ones from this machine's psutil, /sys and /proc; when an inventory is due."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path

import pytest

from agent import __version__, collectors
from agent.clock import stamp
from agent.collectors import FIRMWARE_THROTTLED, InventoryWatch, Readings
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

    def ip_addresses(self) -> list[str]:
        return ["10.20.4.17", "2001:db8:204::17"]

    def network_bytes(self) -> tuple[int, int]:
        return 1_250_000, 48_000_000

    def player_version(self) -> str | None:
        return "1.10.0"

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


def _device_tree(root: Path, files: dict[str, str]) -> None:
    """Lay out the device tree's `files` (NUL-terminated strings), and /proc/device-tree's link to it."""
    base = root / "sys/firmware/devicetree/base"
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_bytes(text.encode() + b"\0")
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/device-tree").symlink_to(base)


# A Raspberry Pi 4's /proc/cpuinfo under a 64-bit kernel: ARM's part number, no model name.
PI4_CPU = """processor\t: {n}
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3
"""
PI4_CPUINFO = "\n".join(PI4_CPU.format(n=n) for n in range(4)) + (
    "\nRevision\t: d03114\nSerial\t\t: 10000000a1b2c3d4\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4"
)
# What each HDMI port's display offers, preferred mode first, as the kernel lists them.
HDMI_MODES = {"HDMI-A-1": "1920x1080\n1920x1080\n1280x720\n720x576", "HDMI-A-2": "3840x2160\n1920x1080"}


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
    """Return `root` laid out as a Raspberry Pi 4's /sys and /proc: device tree, cpuinfo, flags, hwmon, HDMI.

    Two hwmon devices; two HDMI ports, a 1080p display on the first and a 4K one on the second when
    connected. `throttled` None: a kernel without the firmware's get_throttled file.
    """
    _device_tree(root, {"model": "Raspberry Pi 4 Model B Rev 1.4", "serial-number": "10000000a1b2c3d4"})
    _write(root / "proc/cpuinfo", PI4_CPUINFO)
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
        connected = status == "connected"
        files = {
            "status": status,
            "enabled": "enabled" if connected else "disabled",
            "modes": HDMI_MODES.get(connector, "") if connected else "",
        }
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
        throttled_now=False,
        throttled_since_boot=False,
        frequency_capped_now=False,
        frequency_capped_since_boot=False,
        soft_temperature_limit_now=False,
        soft_temperature_limit_since_boot=False,
        display_connected=True,
        network_sent_bytes=1_250_000,
        network_received_bytes=48_000_000,
    )


def test_inventory_of_a_pi(pi: FakePi) -> None:
    assert collectors.inventory(pi) == Inventory(
        hostname="room-204",
        model="Raspberry Pi 4 Model B Rev 1.4",
        serial="10000000a1b2c3d4",
        machine="aarch64",
        cpu_model="ARM Cortex-A72",
        cpu_count=4,
        memory_total_bytes=4 * GIB,
        disk_total_bytes=31_000_000_000,
        os_release="Debian GNU/Linux 12 (bookworm)",
        kernel="6.6.51+rpt-rpi-v8",
        mac_addresses=["dc:a6:32:00:00:01", "dc:a6:32:00:00:02"],
        ip_addresses=["10.20.4.17", "2001:db8:204::17"],
        display_connected=True,
        display_resolution="1920x1080",
        boot_time=1763880000.0,
        player_version="1.10.0",
        agent_version=__version__,
    )


def test_a_pi_without_the_serial_in_its_device_tree_gives_the_one_in_cpuinfo(pi: FakePi) -> None:
    (pi.root / "sys/firmware/devicetree/base/serial-number").unlink()

    assert collectors.inventory(pi).serial == "10000000a1b2c3d4"


def test_a_pi_under_a_32_bit_kernel_still_names_its_cpu(tmp_path: Path) -> None:
    pi = FakePi(replay_pi(tmp_path))
    _write(
        tmp_path / "proc/cpuinfo",
        PI4_CPUINFO.replace("BogoMIPS", "model name\t: ARMv7 Processor rev 3 (v7l)\nBogoMIPS"),
    )

    assert collectors.inventory(pi).cpu_model == "ARM Cortex-A72"


def test_a_pc_gives_its_model_from_dmi(tmp_path: Path) -> None:
    # A mini PC behind a panel: no device tree; DMI's product_serial is readable by root only (absent here).
    _write(tmp_path / "sys/class/dmi/id/product_name", "NUC8i5BEH")
    cpu = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i5-8259U CPU @ 2.30GHz"
    _write(tmp_path / "proc/cpuinfo", cpu)

    inventory = collectors.inventory(FakePi(tmp_path))

    assert (inventory.model, inventory.serial) == ("NUC8i5BEH", None)
    assert inventory.cpu_model == "Intel(R) Core(TM) i5-8259U CPU @ 2.30GHz"
    assert (inventory.display_connected, inventory.display_resolution) == (None, None)  # no video output


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


@pytest.mark.parametrize(
    ("throttled", "now", "since_boot"),
    [
        ("0xe000e", (True, True, True), (True, True, True)),  # too hot now: capped, throttled, soft limit
        ("0xe0000", (False, False, False), (True, True, True)),  # too hot during the afternoon's lesson
        ("0x20002", (True, False, False), (True, False, False)),  # frequency capped only
    ],
)
def test_a_throttled_pi_says_so_from_the_firmware_flags(
    tmp_path: Path, throttled: str, now: tuple[bool, ...], since_boot: tuple[bool, ...]
) -> None:
    heartbeat = collectors.heartbeat(FakePi(replay_pi(tmp_path, throttled=throttled)))

    assert (
        heartbeat.frequency_capped_now,
        heartbeat.throttled_now,
        heartbeat.soft_temperature_limit_now,
    ) == now
    assert (
        heartbeat.frequency_capped_since_boot,
        heartbeat.throttled_since_boot,
        heartbeat.soft_temperature_limit_since_boot,
    ) == since_boot
    assert (heartbeat.undervoltage_now, heartbeat.undervoltage_since_boot) == (False, False)


@pytest.mark.parametrize(("alarm", "now", "since_boot"), [("1", True, True), ("0", False, None)])
def test_without_the_firmware_file_the_hwmon_alarm_tells_of_now(
    tmp_path: Path, alarm: str, now: bool, since_boot: bool | None
) -> None:
    heartbeat = collectors.heartbeat(FakePi(replay_pi(tmp_path, throttled=None, volt_alarm=alarm)))

    assert (heartbeat.undervoltage_now, heartbeat.undervoltage_since_boot) == (now, since_boot)
    assert heartbeat.throttled_now is None and heartbeat.throttled_since_boot is None  # hwmon cannot tell


@pytest.mark.parametrize(
    ("hdmi", "connected", "resolution"),
    [
        (("disconnected", "disconnected"), False, None),  # the cable was pulled out of the panel
        (("disconnected", "connected"), True, "3840x2160"),  # a 4K display on the second port
        (("connected", "connected"), True, "1920x1080"),  # two displays: the first port's
    ],
)
def test_a_pi_says_whether_a_display_is_connected_and_its_resolution(
    tmp_path: Path, hdmi: tuple[str, str], connected: bool, resolution: str | None
) -> None:
    pi = FakePi(replay_pi(tmp_path, hdmi=hdmi))

    assert collectors.heartbeat(pi).display_connected is connected
    inventory = collectors.inventory(pi)
    assert (inventory.display_connected, inventory.display_resolution) == (connected, resolution)


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

    pi_fields = ["undervoltage_now", "undervoltage_since_boot", "throttled_now", "frequency_capped_now"]
    assert [getattr(heartbeat, name) for name in pi_fields] == [None] * 4
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
    for flag in (second.undervoltage_now, second.throttled_since_boot, second.display_connected):
        assert flag is None or isinstance(flag, bool)
    assert 0 <= first.network_sent_bytes <= second.network_sent_bytes  # type: ignore[operator]  # ints here
    assert 0 <= first.network_received_bytes <= second.network_received_bytes  # type: ignore[operator]
    assert inventory.memory_total_bytes == second.memory_total_bytes
    assert inventory.cpu_count and inventory.cpu_count >= 1
    assert inventory.hostname and inventory.machine and inventory.kernel
    assert inventory.boot_time and inventory.boot_time < 1e10
    assert inventory.agent_version == __version__
    assert all(re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) for mac in inventory.mac_addresses or [])
    for address in map(ipaddress.ip_address, inventory.ip_addresses or []):
        assert not address.is_loopback and not (address.version == 6 and address.is_link_local)
    assert inventory.boot_time == int(inventory.boot_time)
    for text in (inventory.model, inventory.serial, inventory.cpu_model, inventory.display_resolution):
        assert text is None or (text.isprintable() and text == text.strip())
    assert inventory.player_version is None or isinstance(inventory.player_version, str)


def test_an_inventory_is_due_first_then_only_when_it_changes(
    pi: FakePi, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = InventoryWatch(pi, interval=86400)

    assert watch.due(now=1000.0) == collectors.inventory(pi)  # at start
    assert watch.due(now=1060.0) is None  # the same device a minute later
    monkeypatch.setattr(pi, "ip_addresses", lambda: ["10.20.4.99"])  # a new DHCP lease
    assert (sent := watch.due(now=1120.0)) and sent.ip_addresses == ["10.20.4.99"]
    assert watch.due(now=1180.0) is None


def test_an_inventory_is_due_again_after_the_interval(pi: FakePi) -> None:
    watch = InventoryWatch(pi, interval=86400)

    assert watch.due(now=0.0) is not None
    assert watch.due(now=86399.0) is None
    assert watch.due(now=86400.0) == collectors.inventory(pi)  # once a day, though nothing changed
    assert watch.due(now=86460.0) is None


def test_a_boot_time_that_wobbles_by_a_second_is_no_change(
    pi: FakePi, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = InventoryWatch(pi, interval=86400)
    assert watch.due(now=0.0) is not None

    monkeypatch.setattr(pi, "boot_time", lambda: 1763880001.0)  # the kernel's rounding, a minute later
    assert watch.due(now=60.0) is None
    monkeypatch.setattr(pi, "boot_time", lambda: 1763883600.0)  # NTP set the clock an hour forward
    assert (sent := watch.due(now=120.0)) and sent.boot_time == 1763883600.0


def test_nothing_in_this_machines_inventory_changes_from_one_minute_to_the_next(tmp_path: Path) -> None:
    watch = InventoryWatch(Readings(tmp_path), interval=86400)

    assert watch.due(now=0.0) is not None
    assert watch.due(now=60.0) is None


def test_a_pi_fills_every_field_of_the_schema(pi: FakePi) -> None:
    # A field left None on a Pi would be missing from every event; catch a reading that was forgotten.
    # The spool's two fields are the agent loop's to fill (it owns the spool), not a sensor's.
    filled_by_the_loop = {"spool_events", "spool_dropped"}
    for event in (collectors.heartbeat(pi), collectors.inventory(pi)):
        missing = {name for name, value in dataclasses.asdict(event).items() if value is None}
        assert missing <= filled_by_the_loop, missing
