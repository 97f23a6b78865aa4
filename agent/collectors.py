"""Readings of the device and the events made from them: one function per area.

`Readings` is the only place that touches psutil and the system, so a test can pass a fake Pi with
fixed values; the files it reads from /sys are found under its `root`, so a test can replay a Pi's.
Nothing here reads processes, users or anything else about the people in the room.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import platform
import socket
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from agent import __version__
from classcast.events import Heartbeat, Inventory

# Sensor chips that measure the CPU or SoC (Raspberry Pi: cpu_thermal); others (NVMe, Wi-Fi) are not.
_CPU_SENSORS = ("cpu", "soc", "coretemp", "k10temp", "zenpower")
# The Raspberry Pi firmware's throttled flags (`vcgencmd get_throttled`), as hex text, e.g. 0x50005.
FIRMWARE_THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"
# The heartbeat field each of the firmware's flags fills: bits 0-3 tell of now, bits 16-19 of since boot.
_FIRMWARE_FLAGS = {
    "undervoltage_now": 1 << 0,
    "frequency_capped_now": 1 << 1,
    "throttled_now": 1 << 2,
    "soft_temperature_limit_now": 1 << 3,
    "undervoltage_since_boot": 1 << 16,
    "frequency_capped_since_boot": 1 << 17,
    "throttled_since_boot": 1 << 18,
    "soft_temperature_limit_since_boot": 1 << 19,
}
HWMON = "sys/class/hwmon"
DRM = "sys/class/drm"
CPUINFO = "proc/cpuinfo"
# /proc/device-tree is a link to the second; a container may show only one of them.
DEVICE_TREES = ("proc/device-tree", "sys/firmware/devicetree/base")
DMI = "sys/class/dmi/id"  # a PC's firmware tables; product_serial is readable by root only
# ARM's CPU part numbers (/proc/cpuinfo "CPU part", implementer 0x41) of the Raspberry Pi family.
_ARM_CORES = {
    "0xb76": "ARM1176",
    "0xc07": "Cortex-A7",
    "0xd03": "Cortex-A53",
    "0xd08": "Cortex-A72",
    "0xd0b": "Cortex-A76",
}
# The kernel's boot time is the wall clock less the uptime, in whole seconds: two reads a minute apart
# can differ by a second. A clock set by NTP moves it by more, and that is a change worth sending.
BOOT_TIME_WOBBLE = 2.0


class Readings:
    """The device as psutil and the kernel report it; every method returns plain values."""

    def __init__(self, data_dir: Path, root: Path = Path("/")) -> None:
        self.data_dir = data_dir
        self.root = root
        self._cpu_sampled = False

    def cpu_percent(self) -> float | None:
        """Return the CPU busy % since the previous call, all cores; None on the first call."""
        value = psutil.cpu_percent(interval=None)
        # psutil's first non-blocking sample has no previous one to compare with: it means nothing.
        first, self._cpu_sampled = not self._cpu_sampled, True
        return None if first else value

    def load_1m(self) -> float:
        """Return the one-minute load average."""
        return psutil.getloadavg()[0]

    def memory(self) -> tuple[int, int]:
        """Return (total, available) physical memory in bytes."""
        memory = psutil.virtual_memory()
        return memory.total, memory.available

    def disk(self) -> tuple[int, int]:
        """Return (total, free) bytes of the data directory's file system."""
        usage = psutil.disk_usage(str(self.data_dir))
        return usage.total, usage.free

    def temperatures(self) -> dict[str, list[float]]:
        """Return the current °C of each sensor, by chip name; empty where the platform has none."""
        try:
            sensors = psutil.sensors_temperatures()
        except (AttributeError, OSError):  # AttributeError: psutil has no sensors on this platform
            return {}
        return {chip: [entry.current for entry in entries] for chip, entries in sensors.items()}

    def throttled(self) -> int | None:
        """Return the Raspberry Pi firmware's throttled flags; None where the kernel has no such file."""
        # The firmware driver's file, not vcgencmd: a process spawned every minute costs a Pi CPU and memory.
        text = _read(self.root / FIRMWARE_THROTTLED)
        try:
            return None if text is None else int(text, 16)
        except ValueError:
            return None

    def voltage_alarm(self) -> bool | None:
        """Return the rpi_volt hwmon's under-voltage alarm; None where there is no such device."""
        for device in (self.root / HWMON).glob("hwmon*"):
            if _read(device / "name") == "rpi_volt":
                alarm = _read(device / "in0_lcrit_alarm")
                return None if alarm is None else alarm == "1"
        return None

    def displays(self) -> list[tuple[str, str | None]]:
        """Return (status, preferred mode) of each video output the kernel knows, in the order of their names.

        The status is connected, disconnected or unknown; the mode, e.g. 1920x1080, only for a connected one.
        """
        found = []
        for output in sorted((self.root / DRM).glob("card*-*")):
            status = _read(output / "status")
            if status is not None:
                # The kernel lists a display's modes preferred first.
                modes = _read(output / "modes") if status == "connected" else None
                found.append((status, modes.splitlines()[0] if modes else None))
        return found

    def boot_time(self) -> float:
        """Return when the device booted, Unix time in whole seconds."""
        return float(round(psutil.boot_time()))

    def uptime(self) -> float:
        """Return the seconds since the device booted (the boot-time clock, suspend included)."""
        return time.clock_gettime(time.CLOCK_BOOTTIME)

    def mac_addresses(self) -> list[str]:
        """Return the sorted MAC addresses of the network interfaces, loopback's all-zero one left out."""
        found = {
            address.address.lower()
            for addresses in psutil.net_if_addrs().values()
            for address in addresses
            if address.family == psutil.AF_LINK and address.address
        }
        found.discard("00:00:00:00:00:00")
        return sorted(found)

    def ip_addresses(self) -> list[str]:
        """Return the sorted IP addresses of the network interfaces, loopback and IPv6 link-local left out."""
        found = set()
        for addresses in psutil.net_if_addrs().values():
            for address in addresses:
                if address.family in (socket.AF_INET, socket.AF_INET6):
                    # An IPv6 link-local address carries its interface: fe80::1%eth0.
                    ip = ipaddress.ip_address(address.address.split("%")[0])
                    if not (ip.is_loopback or (ip.version == 6 and ip.is_link_local)):
                        found.add(str(ip))
        return sorted(found)

    def network_bytes(self) -> tuple[int, int]:
        """Return (sent, received) bytes of the network interfaces since boot, loopback left out."""
        counters = psutil.net_io_counters(pernic=True)
        # Linux always names its loopback lo; its traffic never leaves the device.
        outside = [nic for name, nic in counters.items() if name != "lo"]
        return sum(nic.bytes_sent for nic in outside), sum(nic.bytes_recv for nic in outside)

    def model(self) -> str | None:
        """Return the board's model from the device tree, else the product name from DMI; None if neither."""
        return _first_read(
            [*(self.root / tree / "model" for tree in DEVICE_TREES), self.root / DMI / "product_name"]
        )

    def serial(self) -> str | None:
        """Return the board's serial: device tree, /proc/cpuinfo, DMI; None where none can be read."""
        from_tree = _first_read(self.root / tree / "serial-number" for tree in DEVICE_TREES)
        return from_tree or self._cpuinfo().get("Serial") or _read(self.root / DMI / "product_serial")

    def cpu_model(self) -> str | None:
        """Return the CPU's model name, e.g. ARM Cortex-A72; None if /proc/cpuinfo does not say."""
        cpuinfo = self._cpuinfo()
        # An arm64 kernel names no model, only ARM's part number; a 32-bit one says "ARMv7 Processor rev 3".
        if cpuinfo.get("CPU implementer") == "0x41" and (core := _ARM_CORES.get(cpuinfo.get("CPU part", ""))):
            return f"ARM {core}"
        return cpuinfo.get("model name")

    def _cpuinfo(self) -> dict[str, str]:
        """Return /proc/cpuinfo's first value of each key (the first core's, and the board's lines)."""
        info: dict[str, str] = {}
        for line in (_read(self.root / CPUINFO) or "").splitlines():
            key, colon, value = line.partition(":")
            if colon:
                info.setdefault(key.strip(), value.strip())
        return info

    def player_version(self) -> str | None:
        """Return the player's version; None where the player is not installed or does not say."""
        try:
            from player import __version__ as version
        except ImportError:
            return None
        return version

    def hostname(self) -> str:
        """Return the device's host name."""
        return socket.gethostname()

    def machine(self) -> str:
        """Return the CPU architecture, e.g. aarch64."""
        return platform.machine()

    def kernel(self) -> str:
        """Return the kernel release."""
        return platform.release()

    def os_release(self) -> str | None:
        """Return PRETTY_NAME from os-release; None where there is no such file."""
        try:
            return platform.freedesktop_os_release().get("PRETTY_NAME")
        except OSError:
            return None

    def cpu_count(self) -> int | None:
        """Return the number of logical CPU cores (None if the kernel does not say)."""
        return psutil.cpu_count(logical=True)


def heartbeat(readings: Readings) -> Heartbeat:
    """Return a heartbeat sampled from `readings` now."""
    memory_total, memory_available = readings.memory()
    disk_total, disk_free = readings.disk()
    network_sent, network_received = readings.network_bytes()
    return Heartbeat(
        cpu_percent=readings.cpu_percent(),
        load_1m=readings.load_1m(),
        memory_used_bytes=memory_total - memory_available,
        memory_total_bytes=memory_total,
        disk_free_bytes=disk_free,
        disk_total_bytes=disk_total,
        temperature_c=_hottest_cpu(readings.temperatures()),
        uptime_s=round(readings.uptime(), 1),
        display_connected=_display_connected(readings.displays()),
        network_sent_bytes=network_sent,
        network_received_bytes=network_received,
        **_firmware_flags(readings),
    )


def inventory(readings: Readings) -> Inventory:
    """Return what the device is, read from `readings`."""
    displays = readings.displays()
    return Inventory(
        hostname=readings.hostname(),
        model=readings.model(),
        serial=readings.serial(),
        machine=readings.machine(),
        cpu_model=readings.cpu_model(),
        cpu_count=readings.cpu_count(),
        memory_total_bytes=readings.memory()[0],
        disk_total_bytes=readings.disk()[0],
        os_release=readings.os_release(),
        kernel=readings.kernel(),
        mac_addresses=readings.mac_addresses(),
        ip_addresses=readings.ip_addresses(),
        display_connected=_display_connected(displays),
        display_resolution=next((mode for status, mode in displays if status == "connected"), None),
        boot_time=readings.boot_time(),
        player_version=readings.player_version(),
        agent_version=__version__,
    )


class InventoryWatch:
    """Inventories worth sending: the first, one that differs from the last, and one every `interval` s."""

    def __init__(self, readings: Readings, interval: float) -> None:
        self.readings = readings
        self.interval = interval
        self._sent: Inventory | None = None
        self._sent_at = 0.0

    def due(self, now: float) -> Inventory | None:
        """Return a fresh inventory if it changed or `interval` s passed since the last one sent; else None.

        `now` is monotonic seconds. Cheap enough for every heartbeat: a few small files and psutil calls.
        """
        fresh = self._steady(inventory(self.readings))
        if fresh == self._sent and now - self._sent_at < self.interval:
            return None
        self._sent, self._sent_at = fresh, now
        return fresh

    def _steady(self, fresh: Inventory) -> Inventory:
        """Return `fresh`, with the boot time last sent if the new one is within its wobble of it."""
        sent = self._sent.boot_time if self._sent else None
        if (
            sent is not None
            and fresh.boot_time is not None
            and abs(fresh.boot_time - sent) <= BOOT_TIME_WOBBLE
        ):
            return dataclasses.replace(fresh, boot_time=sent)
        return fresh


def _hottest_cpu(temperatures: dict[str, list[float]]) -> float | None:
    values = [
        t for chip, values in temperatures.items() if chip.lower().startswith(_CPU_SENSORS) for t in values
    ]
    return round(max(values), 1) if values else None


def _firmware_flags(readings: Readings) -> dict[str, bool | None]:
    """Return the heartbeat's Raspberry Pi flags by field, left out or None where the device cannot tell."""
    flags = readings.throttled()
    if flags is not None:
        return {name: bool(flags & bit) for name, bit in _FIRMWARE_FLAGS.items()}
    # Without the firmware's file, only the hwmon alarm tells of under-voltage, and of now only: an alarm
    # now is one since boot too; no alarm says nothing of earlier.
    alarm = readings.voltage_alarm()
    return {"undervoltage_now": alarm, "undervoltage_since_boot": True if alarm else None}


def _display_connected(displays: list[tuple[str, str | None]]) -> bool | None:
    """Return True if a display is connected to any video output, None where there is no video output."""
    return any(status == "connected" for status, _mode in displays) if displays else None


def _read(path: Path) -> str | None:
    """Return the stripped text of a small file of /sys or /proc; None if it is missing or unreadable."""
    try:
        # The device tree's strings end in a NUL where the kernel's own files end in a newline.
        return path.read_text().strip(" \t\n\x00")
    except OSError:
        return None


def _first_read(paths: Iterable[Path]) -> str | None:
    """Return the text of the first of `paths` that can be read and is not empty; None if none."""
    return next((text for path in paths if (text := _read(path))), None)
