"""The panel monitor: opens and resolves the incidents school IT is told of.

One pass (`check`) looks at every active panel. A panel out of contact during its school's hours is
`offline` (at night or on a day off it is not an incident, but an incident already open stays open
until the panel is back, at any hour); a panel's latest health report may make it `overheat`,
`low_disk` or `undervoltage`. Each opens once and resolves once (controller.store.incidents), with a
margin between the two thresholds so that a panel hovering at one does not flap. Health older than
three offline thresholds is not judged: the panel is out of contact, and `offline` says so.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from typing import Any, NoReturn

from sqlite_utils import Database

from classcast.settings import SettingsError
from controller.app import Services
from controller.rounds import every
from controller.store import incidents, lifecycle, panels
from controller.timeutil import zone_of

log = logging.getLogger(__name__)

OVERHEAT_HYSTERESIS_C = 5.0  # an overheating panel is resolved this much below the alert temperature
LOW_DISK_HYSTERESIS = 0.10  # a panel short of disk is resolved at the alert level plus this share
STALE_HEALTH_FACTOR = 3  # health older than this many offline thresholds is not judged
MONITORED = ("offline", "overheat", "low_disk", "undervoltage")  # the kinds this module opens
_MONITORED_SQL = ", ".join(f"'{kind}'" for kind in MONITORED)


def channels(settings: dict[str, Any]) -> tuple[str, ...]:
    """Return the notification channels the operator configured: 'webhook', 'email', both or none."""
    configured = []
    if settings["notify_webhook_url"]:
        configured.append("webhook")
    if settings["notify_smtp_host"]:
        configured.append("email")
    return tuple(configured)


@dataclass(frozen=True)
class SchoolHours:
    """When a school works: the hours of its day (its own time zone) and its ISO weekdays."""

    start: clock_time
    end: clock_time | None  # None: until midnight ("…-24:00")
    days: frozenset[int]

    @classmethod
    def of(cls, settings: dict[str, Any]) -> SchoolHours:
        """Return the school hours the settings give; SettingsError names a setting that does not parse."""
        start, end = parse_hours(settings["school_hours"])
        return cls(start, end, parse_days(settings["school_days"]))

    def contains(self, now: float, timezone: str) -> bool:
        """Return whether the unix time `now` falls in school hours in the IANA zone `timezone`."""
        local = datetime.fromtimestamp(now, zone_of(timezone))
        if local.isoweekday() not in self.days:
            return False
        moment = local.time().replace(tzinfo=None)
        return self.start <= moment and (self.end is None or moment < self.end)


_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_DAYS_ITEM = re.compile(r"([1-7])(?:-([1-7]))?")


def parse_hours(text: str) -> tuple[clock_time, clock_time | None]:
    """Return the start and end of "HH:MM-HH:MM" (an end of 24:00 is None: midnight)."""
    match = _HOURS.fullmatch(text.strip())
    numbers = [int(n) for n in match.groups()] if match else []
    if (
        not numbers
        or numbers[0] > 23
        or numbers[1] > 59
        or numbers[3] > 59
        or numbers[2] > 24
        or (numbers[2] == 24 and numbers[3] != 0)
        or (numbers[0], numbers[1]) >= (numbers[2], numbers[3])
    ):
        raise SettingsError(
            f"school_hours: expected HH:MM-HH:MM with the start before the end, e.g. 08:00-18:00; "
            f"got {text!r}"
        )
    start = clock_time(numbers[0], numbers[1])
    return start, None if numbers[2] == 24 else clock_time(numbers[2], numbers[3])


def parse_days(text: str) -> frozenset[int]:
    """Return the ISO weekdays (1 Monday … 7 Sunday) of a list such as "1-5" or "1-5,7"."""
    days: set[int] = set()
    for item in text.split(","):
        match = _DAYS_ITEM.fullmatch(item.strip())
        first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
        if not match or first > last:
            raise SettingsError(
                f"school_days: expected ISO weekdays 1 (Monday) to 7 (Sunday) as a list or ranges, "
                f"e.g. 1-5 or 1-5,7; got {text!r}"
            )
        days.update(range(first, last + 1))
    return frozenset(days)


@dataclass(frozen=True)
class Rules:
    """The thresholds of one pass, read from the settings."""

    hours: SchoolHours
    thresholds: lifecycle.Thresholds
    temperature_c: float
    disk_free_bytes: float

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Rules:
        return cls(
            SchoolHours.of(settings),
            lifecycle.Thresholds.of(settings),
            float(settings["alert_temperature_c"]),
            float(settings["alert_disk_free_mb"]) * 1024 * 1024,
        )


# A verdict on one kind for one panel: ("open", detail), ("resolve", None), or None to leave it be.
Verdict = tuple[str, dict[str, Any] | None] | None


def judge(panel: dict[str, Any], rules: Rules, now: float) -> dict[str, Verdict]:
    """Return, for each monitored kind, what this panel's row says should happen to its incident."""
    verdicts: dict[str, Verdict] = {"offline": _offline(panel, rules, now)}
    health_at = panel["health_at"]
    if health_at is None or health_at < now - STALE_HEALTH_FACTOR * rules.thresholds.offline_after_s:
        return verdicts
    verdicts["overheat"] = _overheat(_reading(panel["temperature_c"]), rules.temperature_c)
    verdicts["low_disk"] = _low_disk(_reading(panel["disk_free_bytes"]), rules.disk_free_bytes)
    verdicts["undervoltage"] = _undervoltage(panel["undervoltage_now"])
    return verdicts


def _reading(value: Any) -> float | None:
    # A reading that is not a number (an agent's bug) is no reading: it must not stop the whole pass.
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _offline(panel: dict[str, Any], rules: Rules, now: float) -> Verdict:
    if panel["status"] == "online":
        return ("resolve", None)
    if rules.hours.contains(now, panel["timezone"]):
        return ("open", {"last_seen_at": panel["last_seen_at"], "status": panel["status"]})
    return None


def _overheat(temperature: float | None, alert: float) -> Verdict:
    if temperature is None:
        return None
    if temperature >= alert:
        return ("open", {"temperature_c": round(temperature, 1), "threshold_c": alert})
    return ("resolve", None) if temperature < alert - OVERHEAT_HYSTERESIS_C else None


def _low_disk(free: float | None, alert: float) -> Verdict:
    if free is None:
        return None
    if free < alert:
        mb = 1024 * 1024
        return ("open", {"disk_free_mb": round(free / mb), "threshold_mb": round(alert / mb)})
    return ("resolve", None) if free >= alert * (1 + LOW_DISK_HYSTERESIS) else None


def _undervoltage(now_low: int | None) -> Verdict:
    if now_low is None:
        return None
    return ("open", {}) if now_low else ("resolve", None)


def _panels(db: Database, thresholds: lifecycle.Thresholds, now: float) -> list[dict[str, Any]]:
    """Return every active panel with its status, its school's time zone and its latest health."""
    sql = f"""SELECT p.id, p.last_seen_at, p.health_at, p.temperature_c, p.disk_free_bytes,
                     p.undervoltage_now, s.timezone, {lifecycle.status_sql("p")} AS status
              FROM panel p JOIN school s ON s.id = p.school_id WHERE p.state = 'active'"""
    return list(db.query(sql, lifecycle.status_params(thresholds, now)))


def changes(db: Database, rules: Rules, now: float) -> list[tuple[int, str, str, dict[str, Any] | None]]:
    """Return the (panel id, kind, "open" or "resolve", detail) that one pass should make."""
    rows = db.execute(
        f"SELECT panel_id, kind FROM incident WHERE resolved_at IS NULL AND kind IN ({_MONITORED_SQL})"
    )
    open_now = {(row[0], row[1]) for row in rows}
    found: list[tuple[int, str, str, dict[str, Any] | None]] = []
    active = set()
    for panel in _panels(db, rules.thresholds, now):
        active.add(panel["id"])
        for kind, verdict in judge(panel, rules, now).items():
            if verdict is None or (verdict[0] == "open") == ((panel["id"], kind) in open_now):
                continue
            found.append((panel["id"], kind, verdict[0], verdict[1]))
    # A panel revoked or decommissioned while an incident was open: the incident is over.
    found += [(panel_id, kind, "resolve", None) for panel_id, kind in open_now if panel_id not in active]
    return found


def _apply(
    db: Database, found: list[tuple[int, str, str, dict[str, Any] | None]], channels: tuple[str, ...]
) -> list[tuple[int, str, str]]:
    done = []
    for panel_id, kind, action, detail in found:
        if action == "open":
            incident_id = incidents.open_incident(db, panel_id, kind, detail, channels)
        else:
            incident_id = incidents.resolve_incident(db, panel_id, kind, channels)
        if incident_id is not None:
            done.append((panel_id, kind, action))
    return done


def check(svc: Services, now: float) -> list[tuple[int, str, str]]:
    """Return the (panel id, kind, "open" or "resolve") of the incidents one pass opened and resolved."""
    # A panel whose player is connected is in contact, even if its agent has nothing to report.
    svc.db.write(panels.touch, svc.hub.connected_ids())
    found = changes(svc.db.read, Rules.of(svc.settings), now)
    if not found:
        return []
    done = svc.db.write(_apply, found, channels(svc.settings))
    for panel_id, kind, action in done:
        log.info("incident %s: panel %s, %s", "opened" if action == "open" else "resolved", panel_id, kind)
    return done


def run_forever(svc: Services) -> NoReturn:
    """Look for incidents every monitor_interval_s, for as long as the controller runs."""
    every(svc.settings["monitor_interval_s"], lambda: check(svc, time.time()), "the panel monitor")
