"""Counting each teacher's casts by the week of its school's calendar (the `cast_week` table).

Only teachers' casts: the indicator is the share of a school's teachers who cast. A cast to a room
counts once however many panels the room has. The week is the school's, in its time
zone: a cast at 08:00 on a Monday in Vladivostok is still Sunday in UTC.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.stats.period import monday

DEFAULT_ZONE = "Europe/Moscow"


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def week_of(at: float, zone: str) -> str:
    """Return the Monday (YYYY-MM-DD) of the week Unix time `at` falls in, in time zone `zone`."""
    return monday(datetime.fromtimestamp(at, _zone(zone)).date()).isoformat()


def count_cast(db: Any, user_id: int, school_id: int, at: float) -> None:
    """Count one cast by `user_id` to a room of `school_id` at Unix time `at`."""
    zone = db.execute("SELECT timezone FROM school WHERE id = ?", [school_id]).fetchone()
    db.execute(
        "INSERT INTO cast_week (user_id, school_id, week, casts) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (week, school_id, user_id) DO UPDATE SET casts = casts + 1",
        [user_id, school_id, week_of(at, zone[0] if zone else DEFAULT_ZONE)],
    )


def rebuild(db: Any) -> int:
    """Count every cast of the `cast` table again (after a bulk load); return the rows written.

    `db` is a sqlite_utils Database, inside the caller's transaction.
    """
    casts: Counter[tuple[int, int, str]] = Counter()
    rows = db.execute(
        'SELECT DISTINCT c.user_id, p.school_id, s.timezone, c.created_at FROM "cast" c'
        " JOIN panel p ON p.id = c.panel_id JOIN school s ON s.id = p.school_id"
        " JOIN user u ON u.id = c.user_id AND u.role = 'teacher'"
    )
    for user_id, school_id, zone, created_at in rows:
        at = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=ZoneInfo("UTC")).timestamp()
        casts[(user_id, school_id, week_of(at, zone))] += 1
    db.execute("DELETE FROM cast_week")
    db.conn.executemany(
        "INSERT INTO cast_week (user_id, school_id, week, casts) VALUES (?, ?, ?, ?)",
        [(*key, n) for key, n in casts.items()],
    )
    return len(casts)
