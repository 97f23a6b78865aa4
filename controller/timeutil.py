"""Timestamps as the database keeps them (UTC, ISO 8601, second precision with a Z), and schools' zones."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Europe/Moscow"  # the school table's default, for a zone the system does not know


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_unix(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone_of(name: str | None) -> ZoneInfo:
    """Return a school's time zone by its name; the default one for none, or one this system does not know.

    The registry checks a zone when it is written; a database restored on a system with older tz data
    may still name one it lacks, and no page, report or panel may fail for it.
    """
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r of a school; using %s", name, DEFAULT_TIMEZONE)
        return ZoneInfo(DEFAULT_TIMEZONE)
