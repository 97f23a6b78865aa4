"""When an event happened: the wall clock, the monotonic clock, and whether the wall clock was synchronised.

A Raspberry Pi has no real-time clock: until NTP has set it, its wall time is whatever it was at the
last shutdown. Each event therefore carries the monotonic time too, the id of the boot that clock
counts from, and whether NTP had synced: the controller corrects an unsynced time from the monotonic
one (docs/protocol.md).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

# systemd-timesyncd touches this file once it has synchronised the clock.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
_TIME_ERROR = 5  # adjtimex(2) returns this while the kernel considers the clock unsynchronised
_TIMEX_SIZE = 512  # larger than struct timex on any Linux ABI; modes=0 (all zero) only reads
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Stamp:
    wall_time: float
    mono_time: float
    clock_synced: bool
    boot: str = ""  # the boot the monotonic time counts from; "" where the kernel does not say


def stamp() -> Stamp:
    """Return the stamp of an event that happens now."""
    return Stamp(time.time(), time.monotonic(), clock_synced(), boot_id())


@functools.cache
def boot_id() -> str:
    """Return this boot's id (16 hex digits of the kernel's random boot id); "" where there is none."""
    try:
        return BOOT_ID.read_text().strip().replace("-", "")[:16]
    except OSError:
        return ""


def clock_synced() -> bool:
    """Return True if the wall clock is known to be synchronised (timesyncd's flag, or the kernel's state)."""
    return TIMESYNC_FLAG.exists() or _kernel_synced()


def _kernel_synced() -> bool:
    # chrony and ntpd do not write timesyncd's flag, but they clear the kernel's STA_UNSYNC.
    import ctypes  # here, not at the top: 0.4 MB the agent does not need once timesyncd has synced

    try:
        libc = ctypes.CDLL(None)  # the C library already loaded into this process
        state = libc.adjtimex(ctypes.create_string_buffer(_TIMEX_SIZE))
    except (OSError, AttributeError):  # not Linux: we cannot tell, so "not synced"
        return False
    return 0 <= state != _TIME_ERROR
