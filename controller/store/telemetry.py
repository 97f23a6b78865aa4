"""Telemetry events: validation against the wire schema, and idempotent storage of a batch."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from classcast.events import EVENT_CLASSES, field_names
from classcast.protocol import MAX_EVENT_BYTES
from controller.timeutil import now_iso

log = logging.getLogger(__name__)

_SCALARS = (str, int, float, bool, type(None))


class EventRejected(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)


def check_event(event: Any) -> dict[str, Any]:
    """Return the event if it is well formed and carries only allowed fields, else raise EventRejected."""
    if not isinstance(event, dict):
        raise EventRejected("bad_event", "not an object")
    if len(json.dumps(event, separators=(",", ":"))) > MAX_EVENT_BYTES:
        raise EventRejected("too_large", f"over {MAX_EVENT_BYTES} bytes")
    _check_envelope(event)
    if event["type"] not in EVENT_CLASSES:
        raise EventRejected("unknown_type", repr(event["type"])[:40])
    extra = set(event["data"]) - field_names(event["type"])
    if extra:
        raise EventRejected("unknown_field", ", ".join(sorted(extra))[:80])
    for name, value in event["data"].items():
        if not _plain_value(value):
            raise EventRejected("bad_event", f"data.{name} is not a plain value")
    return event


def _check_envelope(event: dict[str, Any]) -> None:
    if not (isinstance(event.get("id"), str) and 0 < len(event["id"]) <= 80):
        raise EventRejected("bad_event", "id must be a string of 1 to 80 characters")
    for name in ("wall_time", "mono_time"):
        if not _number(event.get(name)):
            raise EventRejected("bad_event", f"{name} must be a number")
    if not isinstance(event.get("clock_synced"), bool):
        raise EventRejected("bad_event", "clock_synced must be true or false")
    if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise EventRejected("bad_event", "type must be a string and data an object")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, _SCALARS) for v in value)
    return isinstance(value, _SCALARS)


def store_batch(db: Database, panel_id: int, events: list[Any]) -> BatchResult:
    """Return what became of each event of a batch: stored, already held, or rejected with a reason.

    Runs inside the writer's transaction, so the whole batch is committed together or not at all.
    """
    result = BatchResult()
    received_at = time.time()
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        try:
            check_event(event)
        except EventRejected as exc:
            _reject(db, result, panel_id, event, exc, received_at)
            continue
        if _insert_event(db, panel_id, event, received_at):
            result.stored += 1
            if event["wall_time"] >= latest.get(event["type"], {}).get("wall_time", float("-inf")):
                latest[event["type"]] = event
        else:
            result.duplicates += 1
    if result.stored:
        db["panel"].update(panel_id, {"last_seen_at": now_iso(), **_panel_facts(db, panel_id, latest)})
    return result


def _panel_facts(db: Database, panel_id: int, latest: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return what the registry keeps on the panel's row from the newest heartbeat and inventory."""
    facts: dict[str, Any] = {}
    if (heartbeat := latest.get("heartbeat")) is not None:
        data = heartbeat["data"]
        facts |= {
            "health_at": heartbeat["wall_time"],
            "temperature_c": data.get("temperature_c"),
            "disk_free_bytes": data.get("disk_free_bytes"),
            "disk_total_bytes": data.get("disk_total_bytes"),
            "undervoltage_now": data.get("undervoltage_now"),
            "display_connected": data.get("display_connected"),
        }
        if data.get("undervoltage_now") or data.get("undervoltage_since_boot"):
            facts["undervoltage_seen_at"] = heartbeat["wall_time"]
        # A heartbeat replayed from the spool after days offline must not overwrite fresher health.
        row = db.execute("SELECT health_at FROM panel WHERE id = ?", [panel_id]).fetchone()
        if row and row[0] is not None and row[0] > heartbeat["wall_time"]:
            facts = {}
    if (inventory := latest.get("inventory")) is not None and inventory["data"].get("agent_version"):
        facts["agent_version"] = str(inventory["data"]["agent_version"])[:40]
    return facts


def _insert_event(db: Database, panel_id: int, event: dict[str, Any], received_at: float) -> bool:
    cursor = db.execute(
        """INSERT OR IGNORE INTO telemetry_event
           (panel_id, event_id, type, wall_time, received_at, clock_synced, data)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        [
            panel_id,
            event["id"],
            event["type"],
            event["wall_time"],
            received_at,
            event["clock_synced"],
            json.dumps(event["data"], ensure_ascii=False),
        ],
    )
    return cursor.rowcount == 1


def _reject(
    db: Database, result: BatchResult, panel_id: int, event: Any, exc: EventRejected, received_at: float
) -> None:
    event_id = event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else None
    event_id = event_id[:80] if event_id else None
    log.warning("panel %s: event %s rejected: %s", panel_id, event_id, exc)
    db["telemetry_rejection"].insert(
        {"panel_id": panel_id, "event_id": event_id, "error": exc.code, "received_at": received_at}
    )
    result.rejected.append({"id": event_id or "", "error": exc.code})


def count_events(db: Database, event_type: str | None = None) -> int:
    if event_type is None:
        return db.execute("SELECT count(*) FROM telemetry_event").fetchone()[0]
    return db.execute("SELECT count(*) FROM telemetry_event WHERE type = ?", [event_type]).fetchone()[0]


def panels_with_heartbeat(db: Database) -> set[int]:
    rows = db.execute("SELECT DISTINCT panel_id FROM telemetry_event WHERE type = 'heartbeat'")
    return {row[0] for row in rows}
