"""A room's screen schedule over HTTP: read it with today's plan, upload it, download it, remove it.

School IT uploads (`PUT`, multipart: `file`, and `bells` files beside it) and removes; staff above read.
Every route is `@guarded("schedule", …)` on the room's place. A refused schedule is a 422 with every
fault; a kept or removed one is audited (metadata only) and sent at once to the room's connected panels.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from typing import Any

import gevent
from flask import Blueprint, Response, g, request
from flask_babel import gettext as _

from classcast.playlist_model import ScheduleInvalid
from controller import schedules
from controller.app import services
from controller.i18n import translate
from controller.journal import school_zone
from controller.store import audit, panels
from controller.store import schedules as store
from controller.web.auth import current_user
from controller.web.exports import disposition
from controller.web.guard import guarded
from controller.web.panels import send_state
from controller.web.security import check_csrf

log = logging.getLogger(__name__)
blueprint = Blueprint("schedules", __name__, url_prefix="/api/rooms")


@blueprint.get("/<int:room_id>/schedule")
@guarded("schedule", "read", id_arg="room_id", id_kind="room")
def read(room_id: int) -> Any:
    """Return the room's schedule and the plan of a day (today in the school's zone, or ?date=)."""
    day = _day(room_id)
    if day is None:
        log.info("schedule of room %s: a day asked as %r", room_id, request.args.get("date", "")[:40])
        message = _("Дата — в виде ГГГГ-ММ-ДД, например 2025-09-01.")
        return {"error": "invalid", "message": message, "fields": {"date": message}}, 400
    return {"schedule": _described(room_id, day)}


@blueprint.put("/<int:room_id>/schedule")
@guarded("schedule", "update", id_arg="room_id", id_kind="room")
def upload(room_id: int) -> Any:
    """Check the uploaded schedule and keep it; a bad one is a 422 with every fault, nothing changed."""
    check_csrf()
    try:
        sent = _upload()
    except schedules.UploadRefused as exc:
        log.warning("schedule upload for room %s refused: %s", room_id, exc)
        return {"error": "bad_file", "message": translate(exc.message)}, 400
    svc, user = services(), current_user()
    try:
        kept = schedules.accept(svc.db, room_id, sent, user["id"])
    except ScheduleInvalid as invalid:
        return _refused(invalid)
    _audit("update", room_id, kept)
    _resend(room_id)
    return {"schedule": _described(room_id, _today(room_id))}


@blueprint.delete("/<int:room_id>/schedule")
@guarded("schedule", "update", id_arg="room_id", id_kind="room")
def remove(room_id: int) -> Any:
    """Remove the room's schedule: its panels go back to the idle look between casts."""
    check_csrf()
    removed = services().db.write(store.remove, room_id)
    if removed is not None:
        _audit("archive", room_id, removed)
        _resend(room_id)
    return {"schedule": None}


@blueprint.get("/<int:room_id>/schedule/source")
@guarded("schedule", "read", id_arg="room_id", id_kind="room")
def download(room_id: int) -> Any:
    """Return the text uploaded as the room's schedule, as a file."""
    found = store.source(services().db.read, room_id)
    if found is None:
        return {"error": "not_found", "message": _("У кабинета нет расписания экрана.")}, 404
    name, text = found
    response = Response(text, mimetype="text/yaml")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = _disposition(name)
    return response


def _upload() -> schedules.Upload:
    """Return the request's files as an upload; raise UploadRefused when they cannot be one."""
    files = [f for f in request.files.getlist("file") if f.filename]
    bells = [f for f in request.files.getlist("bells") if f.filename]
    if len(files) != 1:
        raise schedules.UploadRefused(_("Приложите один файл расписания (поле file)."))
    if len(files) + len(bells) > schedules.MAX_FILES:
        raise schedules.UploadRefused(_("Файлов звонков — не больше %(n)s.", n=schedules.MAX_FILES - 1))
    size = schedules.MAX_FILE_BYTES + 1  # one byte over tells a file too big from one just at the limit
    schedule = schedules.source_file(files[0].filename, files[0].stream.read(size))
    return schedules.Upload(
        schedule, tuple(schedules.source_file(f.filename, f.stream.read(size), bells=True) for f in bells)
    )


def _refused(invalid: ScheduleInvalid) -> tuple[dict[str, Any], int]:
    faults = [
        {"file": f.file, "line": f.line, "field": f.field, "message": translate(f.message)}
        for f in invalid.errors
    ]
    message = _("Расписание не принято, ошибок: %(n)s. Исправьте их и загрузите файл снова.", n=len(faults))
    return {"error": "invalid_schedule", "message": message, "faults": faults}, 422


def _described(room_id: int, day: date) -> dict[str, Any] | None:
    kept = store.room_schedule(services().db.read, room_id)
    if kept is None:
        return None
    document = kept.pop("document")
    return {**kept, "day": day.isoformat(), "today": schedules.day_plan(document, day)}


def _day(room_id: int) -> date | None:
    asked = request.args.get("date")
    if not asked:
        return _today(room_id)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", asked):
        return None
    try:
        return date.fromisoformat(asked)
    except ValueError:
        return None


def _today(room_id: int) -> date:
    svc = services()
    school_id = svc.db.read.execute("SELECT school_id FROM room WHERE id = ?", [room_id]).fetchone()[0]
    return datetime.now(school_zone(svc, school_id)).date()


def _audit(action: str, room_id: int, schedule: dict[str, Any]) -> None:
    """Record the change with what names the schedule (never its text: the audit log keeps no content)."""
    detail = {"room_id": room_id, "file_name": schedule["file_name"], "revision": schedule["revision"]}
    actor = audit.Actor.of(current_user(), request.remote_addr)
    services().db.write(audit.record, actor, action, "ok", "schedule", room_id, g.place, detail)


def _resend(room_id: int) -> None:
    """Send the new state to each connected panel of the room; the request does not wait for their acks."""
    svc = services()
    for panel in panels.panels_of_room(svc.db.read, room_id):
        if svc.hub.is_connected(panel["id"]):
            gevent.spawn(send_state, svc, panel["id"])


def _disposition(name: str) -> str:
    """Return a Content-Disposition naming the file as uploaded, an ASCII name beside it."""
    return disposition(name, re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "schedule.yaml")
