"""Readings of the device and the events made from them: one function per area.

`Readings` is the only place that touches psutil and the system, so a test can pass a fake Pi with
fixed values; the files it reads from /sys are found under its `root`, so a test can replay a Pi's.
Nothing here reads processes, users or anything else about the people in the room.
"""

from __future__ import annotations

import platform
import socket
import time
from pathlib import Path

import psutil

from agent import __version__
from classcast.events import Heartbeat, Inventory

# Sensor chips that measure the CPU or SoC (Raspberry Pi: cpu_thermal); others (NVMe, Wi-Fi) are not.
_CPU_SENSORS = ("cpu", "soc", "coretemp", "k10temp", "zenpower")
# The Raspberry Pi firmware's throttled flags (`vcgencmd get_throttled`), as hex text, e.g. 0x50005.
FIRMWARE_THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"
_UNDERVOLTAGE_NOW = 1 << 0
_UNDERVOLTAGE_SINCE_BOOT = 1 << 16
HWMON = "sys/class/hwmon"
DRM = "sys/class/drm"


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

    def display_statuses(self) -> list[str]:
        """Return the status of each video output the kernel knows: connected, disconnected or unknown."""
        statuses = (_read(path) for path in (self.root / DRM).glob("card*-*/status"))
        return [status for status in statuses if status is not None]

    def boot_time(self) -> float:
        """Return when the device booted, Unix time."""
        return psutil.boot_time()

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
    undervoltage_now, undervoltage_since_boot = _undervoltage(readings)
    return Heartbeat(
        cpu_percent=readings.cpu_percent(),
        load_1m=readings.load_1m(),
        memory_used_bytes=memory_total - memory_available,
        memory_total_bytes=memory_total,
        disk_free_bytes=disk_free,
        disk_total_bytes=disk_total,
        temperature_c=_hottest_cpu(readings.temperatures()),
        uptime_s=round(readings.uptime(), 1),
        undervoltage_now=undervoltage_now,
        undervoltage_since_boot=undervoltage_since_boot,
        display_connected=_display_connected(readings.display_statuses()),
    )


def inventory(readings: Readings) -> Inventory:
    """Return what the device is, read from `readings`."""
    return Inventory(
        hostname=readings.hostname(),
        machine=readings.machine(),
        cpu_count=readings.cpu_count(),
        memory_total_bytes=readings.memory()[0],
        disk_total_bytes=readings.disk()[0],
        os_release=readings.os_release(),
        kernel=readings.kernel(),
        mac_addresses=readings.mac_addresses(),
        boot_time=readings.boot_time(),
        agent_version=__version__,
    )


def _hottest_cpu(temperatures: dict[str, list[float]]) -> float | None:
    values = [
        t for chip, values in temperatures.items() if chip.lower().startswith(_CPU_SENSORS) for t in values
    ]
    return round(max(values), 1) if values else None


def _undervoltage(readings: Readings) -> tuple[bool | None, bool | None]:
    """Return (under-voltage now, under-voltage since boot), None for what the device cannot tell."""
    flags = readings.throttled()
    if flags is not None:
        return bool(flags & _UNDERVOLTAGE_NOW), bool(flags & _UNDERVOLTAGE_SINCE_BOOT)
    # The hwmon alarm tells of now only: an alarm now is one since boot too; no alarm says nothing earlier.
    alarm = readings.voltage_alarm()
    return alarm, (True if alarm else None)


def _display_connected(statuses: list[str]) -> bool | None:
    """Return True if a display is connected to any video output, None where there is no video output."""
    return "connected" in statuses if statuses else None


def _read(path: Path) -> str | None:
    """Return the stripped text of a small file from /sys; None if it is not there or cannot be read."""
    try:
        return path.read_text().strip()
    except OSError:
        return None
