"""The teacher's timetable for today, read through the controller from the main system's journal.

Only what the teacher's page needs passes: each lesson's number, times, class, subject, room and
topic. Class lists, grades and attendance, which the journal sends beside them, are dropped here and
never stored; nothing of the journal is kept at all.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from classcast.i18n import N_
from controller import norms
from controller.casting import CastError
from controller.timeutil import zone_of
from controller.upstream import UpstreamError, teacher_id

TIMETABLE = "/api/v1/teachers/{teacher}/timetable"
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_TEXT_FIELDS = {"class": 20, "subject": 100, "room": 40, "topic": 200}


def today(svc: Any, user: dict[str, Any]) -> dict[str, Any]:
    """Return the teacher's lessons today, with the one in progress (`now`) and the next one.

    The lesson in progress carries `norm`: how its screen time stands against the screen-time norm
    of its class (controller/norms.py), or None when it has none.
    """
    zone = school_zone(svc, user["node_id"])
    local = datetime.now(zone)
    query = {"date": local.date().isoformat()}
    try:
        raw = svc.main.get_json("journal", TIMETABLE, {"teacher": teacher_id(user)}, query, user)
    except UpstreamError as exc:
        raise CastError(exc.code, exc.message, exc.status) from None
    rooms = room_ids(svc, user["node_id"])
    lessons = lessons_of(raw)
    for lesson in lessons:
        lesson["room_id"] = rooms.get(lesson["room"].casefold())
    clock = local.strftime("%H:%M")
    now = next((x for x in lessons if x["start"] <= clock < x["end"]), None)
    if now is not None:
        table = norms.of_setting(svc.settings["screen_time_norms"])
        now["norm"] = norms.lesson_now(svc.db.read, table, now, local.date(), zone)
    upcoming = next((x for x in lessons if x["start"] > clock), None)
    return {"date": query["date"], "time": clock, "now": now, "next": upcoming, "lessons": lessons}


def current_room(svc: Any, user: dict[str, Any]) -> int:
    """Return the room of the teacher's lesson in progress, or CastError `no_current_lesson`."""
    lesson = today(svc, user)["now"]
    if lesson is None:
        raise CastError("no_current_lesson", N_("Сейчас по расписанию у вас нет урока."), 409)
    if lesson["room_id"] is None:
        raise CastError(
            "unknown_room", N_("Кабинета из расписания нет среди кабинетов школы в ClassCast."), 409
        )
    return lesson["room_id"]


def school_zone(svc: Any, school_id: int) -> ZoneInfo:
    """Return the school's time zone (the default one if it names none that is known)."""
    row = svc.db.read.execute("SELECT timezone FROM school WHERE id = ?", [school_id]).fetchone()
    return zone_of(row and row[0])


def room_ids(svc: Any, school_id: int) -> dict[str, int]:
    """Return the school's rooms by their name in lower case (how the journal's room is found)."""
    sql = "SELECT id, name FROM room WHERE school_id = ? AND archived_at IS NULL"
    return {name.casefold(): room_id for room_id, name in svc.db.read.execute(sql, [school_id]).fetchall()}


def lessons_of(raw: Any) -> list[dict[str, Any]]:
    """Return the usable lessons of a timetable answer, each with its allowed fields only."""
    lessons = raw.get("lessons") if isinstance(raw, dict) else None
    found = (_lesson(lesson) for lesson in (lessons if isinstance(lessons, list) else []))
    return [lesson for lesson in found if lesson is not None]


def _lesson(raw: Any) -> dict[str, Any] | None:
    """Return the lesson's allowed fields (never its class list or grades), or None if unusable."""
    if not isinstance(raw, dict):
        return None
    start, end = raw.get("start"), raw.get("end")
    if not all(isinstance(value, str) and _TIME.fullmatch(value) for value in (start, end)):
        return None
    number = raw.get("number") if isinstance(raw.get("number"), int) else None
    lesson: dict[str, Any] = {"number": number, "start": start, "end": end}
    for name, limit in _TEXT_FIELDS.items():
        value = raw.get(name)
        lesson[name] = value.strip()[:limit] if isinstance(value, str) else ""
    return lesson
