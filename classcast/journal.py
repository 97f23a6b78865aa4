"""Logging for the three programs: structured records to the systemd journal, or lines to stderr.

Under systemd, stderr is a stream to journald and `$JOURNAL_STREAM` names it (device:inode). Then
each record goes to journald's native socket as fields instead: PRIORITY (so `journalctl -p err`
works), LOGGER, CODE_FILE/CODE_LINE/CODE_FUNC, and every `extra={...}` value of the call as its own
field (`extra={"panel_id": 7}` becomes PANEL_ID=7, so `journalctl PANEL_ID=7` finds a panel's
lines). Anywhere else (a terminal, the tests) the format is the plain line it always was.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# syslog priorities (journald's PRIORITY field) of Python's levels
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
# what every LogRecord has; anything else on a record came from `extra=` and becomes a field
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_FIELD_NAME = re.compile(r"[^A-Z0-9_]")


def setup_logging(level: str, identifier: str, env: Mapping[str, str] | None = None) -> None:
    """Send the root logger's records at `level` to the journal when stderr is journald's, else stderr."""
    handler: logging.Handler
    if stderr_is_journal(env) and JOURNAL_SOCKET.exists():
        handler = JournalHandler(identifier)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LINE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def stderr_is_journal(env: Mapping[str, str] | None = None) -> bool:
    """Return whether stderr is the journal stream systemd connected (sd_journal_stream_fd(3))."""
    stream = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        stat = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


class JournalHandler(logging.Handler):
    """Writes records in journald's native protocol, one datagram each; stderr when that fails."""

    def __init__(self, identifier: str, address: Path = JOURNAL_SOCKET) -> None:
        super().__init__()
        self.identifier, self.address = identifier, str(address)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Never block the program on a busy journald: such a record falls back to the stderr stream.
        self._socket.setblocking(False)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._socket.sendto(encode(self.fields(record)), self.address)
        except OSError:
            sys.stderr.write(logging.Formatter(LINE_FORMAT).format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never take the program down
            self.handleError(record)

    def fields(self, record: logging.LogRecord) -> dict[str, str]:
        """Return the journal fields of one record."""
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        fields = {
            "MESSAGE": message,
            "PRIORITY": str(_PRIORITY.get(record.levelno, 6)),
            "SYSLOG_IDENTIFIER": self.identifier,
            "LOGGER": record.name,
            "CODE_FILE": record.pathname,
            "CODE_LINE": str(record.lineno),
            "CODE_FUNC": record.funcName,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                fields.setdefault(field_name(key), str(value))
        return fields

    def close(self) -> None:
        self._socket.close()
        super().close()


def field_name(key: str) -> str:
    """Return `key` as a journal field name: upper case, letters, digits and _ only, no leading _."""
    return _FIELD_NAME.sub("_", key.upper()).lstrip("_") or "EXTRA"


def encode(fields: Mapping[str, str]) -> bytes:
    """Return the native-protocol datagram of `fields` (values with a newline get a length prefix)."""
    out = bytearray()
    for name, value in fields.items():
        data = value.encode("utf-8", errors="replace")
        if b"\n" in data:
            out += name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name.encode() + b"=" + data + b"\n"
    return bytes(out)
