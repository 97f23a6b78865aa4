"""The registry of display devices: every panel of a subtree with its facts and health, and the
monthly reconciliation's four lists.

A panel is in a subtree by its school (region → municipality → school). Its status is computed from
its stored state and last contact (controller.store.lifecycle), so the listing and the reconciliation
always agree with the clock. Text search and sorting happen here in Python, after one scoped query:
SQLite's lower() knows no Cyrillic, and names sort as people read them («ё» as «е», any case).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from controller import access
from controller.import_columns import name_key
from controller.store import lifecycle
from controller.store.lifecycle import Thresholds

# Devices that tried to connect without being registered are listed for this long (a monthly check,
# with a few days' slack for a coordinator who is late).
UNKNOWN_WINDOW_S = 35 * 86400
# The most rows of each reconciliation list and of a listing page (the export has no such limit).
MAX_LISTED = 5000
ACTIONS_SHOWN = 20

# The order the status column sorts in: what needs attention last, the gone at the very end.
_STATUS_ORDER = {status: n for n, status in enumerate(("online", "offline", "silent", "pending", "revoked"))}
_STATUS_ORDER["decommissioned"] = len(_STATUS_ORDER)

_PANEL_SQL = """SELECT p.id, p.name, p.school_id, s.short_name AS school, s.name AS school_name,
        s.timezone, s.municipality_id, m.name AS municipality, m.region_id, p.room_id, r.name AS room,
        p.model, p.serial, p.mac, p.os, p.player_version, p.agent_version, p.created_at, p.paired_at,
        p.last_seen_at, p.last_address, p.state, {status} AS status, p.health_at, p.temperature_c,
        p.disk_free_bytes, p.disk_total_bytes, p.undervoltage_now, p.undervoltage_seen_at,
        p.display_connected, p.screen_on, p.screen_reason, p.screen_at, p.clone_seen_at, p.replaced_by,
        p.revoked_at, p.decommissioned_at,
        coalesce(c.refused, 0) AS refused, c.refused_last_at
    FROM panel p JOIN school s ON s.id = p.school_id JOIN municipality m ON m.id = s.municipality_id
    LEFT JOIN room r ON r.id = p.room_id
    LEFT JOIN (SELECT panel_id, sum(attempts) AS refused, max(last_at) AS refused_last_at
               FROM contact_attempt WHERE panel_id IS NOT NULL GROUP BY panel_id) c ON c.panel_id = p.id"""

# Sort key -> the row's value to sort by; text sorts as names are matched, missing values last.
SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda row: row["id"],
    "name": lambda row: _text(row["name"]),
    "status": lambda row: _STATUS_ORDER.get(row["status"], len(_STATUS_ORDER)),
    "municipality": lambda row: _text(row["municipality"]),
    "school": lambda row: _text(row["school"]),
    "room": lambda row: _text(row["room"]),
    "model": lambda row: _text(row["model"]),
    "serial": lambda row: _text(row["serial"]),
    "mac": lambda row: _text(row["mac"]),
    "os": lambda row: _text(row["os"]),
    "player_version": lambda row: _version(row["player_version"]),
    "agent_version": lambda row: _version(row["agent_version"]),
    "paired_at": lambda row: row["paired_at"],
    "last_seen_at": lambda row: row["last_seen_at"],
    "temperature_c": lambda row: row["temperature_c"],
    "disk_free_bytes": lambda row: row["disk_free_bytes"],
    "disk_total_bytes": lambda row: row["disk_total_bytes"],
    "undervoltage_seen_at": lambda row: row["undervoltage_seen_at"],
    "display_connected": lambda row: row["display_connected"],
    # At fault first, then off by command, off by schedule, on: what needs a look comes first.
    "screen": lambda row: _SCREEN_ORDER.get((row["screen_on"], row["screen_reason"])),
    "refused": lambda row: row["refused"] or None,
}
_SCREEN_ORDER = {
    (None, "fault"): 0,
    (0, "command"): 1,
    (0, "schedule"): 2,
    (1, "schedule"): 3,
    (1, "command"): 3,
}
# The fields the text search looks in.
_SEARCHED = ("name", "serial", "mac", "room", "school", "school_name", "municipality", "model")


def _text(value: str | None) -> str | None:
    return name_key(value) if value else None


def _version(value: str | None) -> tuple[Any, ...] | None:
    """Return a version as it sorts: 1.10 after 1.9, and whatever is not a number as text."""
    if not value:
        return None
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in value.split("."))


@dataclass(frozen=True)
class Filters:
    """What a listing is narrowed to; None means any."""

    status: str | None = None
    school_id: int | None = None
    room_id: int | None = None
    q: str | None = None
    sort: str = "name"
    descending: bool = False


def _named_scope(user: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the user's subtree condition with a named parameter (the status query's style)."""
    where, params = access.scope_filter(user)
    return (where.replace("?", ":node"), {"node": params[0]}) if params else (where, {})


def _scoped(where: str) -> str:
    return f"SELECT * FROM ({_PANEL_SQL.format(status=lifecycle.status_sql('p'))}) WHERE ({where})"


def panels(
    db: Database,
    user: dict[str, Any],
    thresholds: Thresholds,
    filters: Filters | None = None,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """Return the panels of the user's subtree that pass `filters`, sorted; each with `clone`.

    Every row carries the panel's facts and health, its status, the names of its school,
    municipality and room, and `refused`: how often its credentials were tried after it was revoked.
    """
    filters = filters or Filters()
    where, named = _named_scope(user)
    sql = _scoped(where)
    for column in ("status", "school_id", "room_id"):
        if getattr(filters, column) is not None:
            sql += f" AND {column} = :{column}"
            named[column] = getattr(filters, column)
    rows = db.query(sql, {**named, **lifecycle.status_params(thresholds, now)})
    found = [_shown(row) for row in rows if _matches(row, filters.q)]
    return sort(found, filters.sort, filters.descending)


def _matches(row: dict[str, Any], q: str | None) -> bool:
    if not q or not q.strip():
        return True
    wanted = name_key(q)
    return any(row[field] and wanted in name_key(str(row[field])) for field in _SEARCHED)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "clone": row["clone_seen_at"] is not None}


def sort(rows: list[dict[str, Any]], key: str, descending: bool = False) -> list[dict[str, Any]]:
    """Return `rows` sorted by `key` (one of SORTS), those without a value last either way."""
    value = SORTS[key]
    known = [row for row in rows if value(row) is not None]
    unknown = [row for row in rows if value(row) is None]
    known.sort(key=lambda row: (value(row), row["id"]), reverse=descending)
    unknown.sort(key=lambda row: row["id"])
    return known + unknown


def status_counts(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Return how many of `rows` are in each status (every status named, zeros included)."""
    counts = dict.fromkeys(lifecycle.STATUSES, 0)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def panel(
    db: Database, panel_id: int, thresholds: Thresholds, now: float | None = None
) -> dict[str, Any] | None:
    """Return one panel as the listing shows it, with its last remote actions (newest first)."""
    rows = list(db.query(_scoped("id = :id"), {"id": panel_id, **lifecycle.status_params(thresholds, now)}))
    if not rows:
        return None
    actions = db.query(
        """SELECT a.id, a.action, a.requested_at, a.answered_at, a.outcome, a.error,
                  u.login AS user_login, u.full_name AS user_name
           FROM panel_action a LEFT JOIN user u ON u.id = a.user_id
           WHERE a.panel_id = ? ORDER BY a.requested_at DESC, a.id DESC LIMIT ?""",
        [panel_id, ACTIONS_SHOWN],
    )
    return {**_shown(rows[0]), "actions": list(actions)}


# --- the monthly reconciliation ----------------------------------------------------------------------


def reconciliation(
    db: Database, user: dict[str, Any], thresholds: Thresholds, now: float | None = None
) -> dict[str, Any]:
    """Return the four lists school coordinators check each month, scoped to the user, with counts.

    `silent`: registered panels silent longer than the threshold. `unknown`: devices that tried to
    connect without being registered. `unpaired`: purchased serials not yet paired. `refused`:
    revoked (or decommissioned) panels still trying. The counts are of the whole lists; each list
    holds at most MAX_LISTED rows.
    """
    now = time.time() if now is None else now
    since = now - UNKNOWN_WINDOW_S
    silent = panels(db, user, thresholds, Filters(status="silent"), now)
    silent.sort(key=lambda row: row["last_seen_at"] or row["paired_at"] or row["created_at"])
    lists = {
        "silent": silent,
        "unknown": unknown_devices(db, user, since),
        "unpaired": unpaired(db, user, since),
        "refused": still_trying(db, user, since),
    }
    return {
        "since": since,
        "counts": {name: len(rows) for name, rows in lists.items()},
        **{name: rows[:MAX_LISTED] for name, rows in lists.items()},
    }


_PROVISION_SQL = """SELECT * FROM (
        SELECT v.id, v.serial, v.school_id, s.short_name AS school, s.timezone, s.municipality_id,
               m.name AS municipality, m.region_id, v.room_id, r.name AS room, v.name, v.created_at,
               v.panel_id
        FROM provision v JOIN school s ON s.id = v.school_id
        JOIN municipality m ON m.id = s.municipality_id LEFT JOIN room r ON r.id = v.room_id)
    WHERE {where}"""


def unknown_devices(db: Database, user: dict[str, Any], since: float) -> list[dict[str, Any]]:
    """Return contacts since `since` by credentials no registered panel holds or held, newest first.

    A credential some panel holds now (its token, or its key: pairing and telemetry contacts name the
    key by lifecycle.key_hash) or held before it was revoked is not unknown. No school is known for
    such a device: the operator sees them all; regional staff those whose serial is on no purchase
    list or on their region's; municipal and school staff only those whose serial is on a purchase
    list of their subtree. Each row names the school the serial was bought for, if any.
    """
    rows = db.query(
        """SELECT a.id, a.channel, a.credential_hash, a.serial, a.mac, a.model, a.address, a.first_at,
                  a.last_at, a.attempts
           FROM contact_attempt a
           WHERE a.panel_id IS NULL AND a.last_at >= ?
             AND a.credential_hash NOT IN (SELECT token_hash FROM panel WHERE token_hash IS NOT NULL)
             AND a.credential_hash NOT IN (SELECT hash FROM revoked_credential)
           ORDER BY a.last_at DESC, a.id DESC""",
        [since],
    )
    held = _held_key_hashes(db)
    bought = _provisions_by_serial(db)
    shown = []
    for row in rows:
        if row.pop("credential_hash") in held:
            continue
        meant = bought.get(row["serial"]) if row["serial"] else None
        if _may_see_unknown(user, meant):
            shown.append({**row, "provision_school": meant["school"] if meant else None})
    return shown


def _held_key_hashes(db: Database) -> set[str]:
    """Return the key hashes of every panel that holds a key (pending or active)."""
    rows = db.execute("SELECT curve_public_key FROM panel WHERE curve_public_key IS NOT NULL")
    return {lifecycle.key_hash(key) for (key,) in rows}


def _may_see_unknown(user: dict[str, Any], meant: dict[str, Any] | None) -> bool:
    """Return whether `user` sees an unknown device whose serial was bought as `meant` (if it was)."""
    if meant is None:
        return user["role"] in ("operator", "regional")
    place = access.Place(meant["region_id"], meant["municipality_id"], meant["school_id"])
    return access.within(user, place)


def _provisions(db: Database, user: dict[str, Any], condition: str) -> list[dict[str, Any]]:
    where, params = access.scope_filter(user)
    return list(db.query(_PROVISION_SQL.format(where=f"({where}) AND {condition}"), params))


def _provisions_by_serial(db: Database) -> dict[str, dict[str, Any]]:
    """Return serial -> the newest provision of it, anywhere (the purchase lists are not large)."""
    rows = db.query(_PROVISION_SQL.format(where="1 = 1") + " ORDER BY created_at, id")
    return {row["serial"]: row for row in rows}


def unpaired(db: Database, user: dict[str, Any], since: float) -> list[dict[str, Any]]:
    """Return the purchased serials of the subtree no panel was paired with yet, by school and serial.

    `asking_at` is the last time since `since` a device with that serial asked to be registered (it
    is showing its code now, or did lately), None when none did.
    """
    rows = _provisions(db, user, "panel_id IS NULL")
    asking = dict(
        db.execute(
            """SELECT serial, max(last_at) FROM contact_attempt
               WHERE panel_id IS NULL AND serial IS NOT NULL AND last_at >= ? GROUP BY serial""",
            [since],
        ).fetchall()
    )
    shown = [{**row, "asking_at": asking.get(row["serial"])} for row in rows]
    shown.sort(key=lambda row: (name_key(row["school"]), row["serial"]))
    return shown


def still_trying(db: Database, user: dict[str, Any], since: float) -> list[dict[str, Any]]:
    """Return the subtree's revoked or decommissioned panels whose credentials were tried since `since`.

    Per panel: every attempt since it was revoked (`attempts`), the first and the last, the channels
    and the address of the last one. Newest last attempt first.
    """
    where, params = access.scope_filter(user)
    rows = db.query(
        f"""SELECT * FROM (
                SELECT p.id, p.name, p.state, p.serial, p.mac, p.model, p.revoked_at, p.school_id,
                       s.short_name AS school, s.timezone, s.municipality_id, m.name AS municipality,
                       m.region_id, p.room_id, r.name AS room, sum(a.attempts) AS attempts,
                       min(a.first_at) AS first_at, max(a.last_at) AS last_at,
                       group_concat(DISTINCT a.channel) AS channels
                FROM contact_attempt a JOIN panel p ON p.id = a.panel_id
                JOIN school s ON s.id = p.school_id JOIN municipality m ON m.id = s.municipality_id
                LEFT JOIN room r ON r.id = p.room_id
                WHERE p.state IN ('revoked', 'decommissioned')
                GROUP BY p.id HAVING max(a.last_at) >= ?)
            WHERE {where} ORDER BY last_at DESC, id""",
        [since, *params],
    )
    shown = []
    for row in rows:
        last = db.execute(
            "SELECT address FROM contact_attempt WHERE panel_id = ? ORDER BY last_at DESC LIMIT 1",
            [row["id"]],
        ).fetchone()
        channels = sorted((row.pop("channels") or "").split(","))
        shown.append({**row, "channels": channels, "address": last[0] if last else None})
    return shown
