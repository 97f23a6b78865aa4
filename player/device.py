"""What a panel says of itself when it asks to be paired: serial, model, MAC address and OS.

Read from the files the kernel and the OS provide (`root` lets a test point at a fake Pi's). None of
it identifies a person: it is what school IT checks against the sticker on the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classcast import __version__


def facts(root: Path = Path("/")) -> dict[str, Any]:
    """Return the device's serial, model, MAC address, OS and player version (None where unknown)."""
    return {
        "serial": _first_line(root, "proc/device-tree/serial-number", "sys/class/dmi/id/product_serial")
        or _machine_id(root),
        "model": _first_line(root, "proc/device-tree/model", "sys/class/dmi/id/product_name"),
        "mac": mac_address(root),
        "os": _os_name(root),
        "player_version": __version__,
    }


def _first_line(root: Path, *paths: str) -> str | None:
    for relative in paths:
        try:
            # The device tree's strings end in NUL; a DMI file may be unreadable without root.
            text = (root / relative).read_bytes().split(b"\0")[0].decode("utf-8", "replace").strip()
        except OSError:
            continue
        if text:
            return text
    return None


def _machine_id(root: Path) -> str | None:
    """Return the first 16 hex digits of the machine id: a serial for a device that has none."""
    found = _first_line(root, "etc/machine-id")
    return found[:16] if found else None


def _os_name(root: Path) -> str | None:
    try:
        lines = (root / "etc/os-release").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"') or None
    return None


def mac_address(root: Path = Path("/")) -> str | None:
    """Return the MAC address of the first wired, else wireless, interface (the one on the sticker)."""
    # Read from sysfs rather than through psutil: the player needs it only to pair, and psutil was
    # 0.9 MB of the running player's RSS (bench/player_memory.py). Loopback's is all zeros.
    found = {}
    for interface in (root / "sys/class/net").glob("*"):
        address = _first_line(root, f"sys/class/net/{interface.name}/address")
        if address and address != "00:00:00:00:00:00":
            found[interface.name] = address.lower()
    for name in sorted(found, key=lambda n: (not n.startswith(("eth", "en")), not n.startswith("wl"), n)):
        return found[name]
    return None
