"""A room's screen schedule from school IT's upload: checked, its materials resolved, kept, planned.

An upload is the schedule file and, if it names one, bell files beside it. They are written with the
school's stored bell files into a temporary folder and checked there by classcast.playlist_check, off
the hub (a 256 KiB YAML file takes a while to read). Then each item naming content is resolved against
the materials the school may use (docs/playlists.md, "On the controller"): a panel gets everything it
needs to fetch and show an item, and never asks which material an id was. Every fault is reported at
once, each with its file, line and field; a refused upload changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import gevent

from classcast import playlist_check
from classcast.i18n import N_, Message
from classcast.playlist import Schedule
from classcast.playlist_model import FieldPath, PlaylistError, ScheduleInvalid, clock
from controller.store import content
from controller.store import schedules as store

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 5  # the schedule and up to four bell files
_BELL_NAME = re.compile(r"[^/\\\x00-\x1f]{1,100}\.(?:yaml|yml|json)")
# What a resolved item keeps of its own; the rest comes from the stored content (docs/protocol.md).
_OWN = ("material", "title", "duration", "sound", "lesson")


class UploadRefused(ValueError):
    """A file that cannot be read as a schedule at all (too big, not UTF-8, a bad name): a 400."""

    def __init__(self, message: str | Message) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    name: str
    text: str


@dataclass(frozen=True)
class Upload:
    schedule: SourceFile
    bells: tuple[SourceFile, ...] = ()


def source_file(name: str | None, data: bytes, *, bells: bool = False) -> SourceFile:
    """Return an uploaded file as text under its bare name; raise UploadRefused when it is not one."""
    bare = Path((name or "").replace("\\", "/")).name.strip()[:100] or "schedule.yaml"
    if len(data) > MAX_FILE_BYTES:
        text = N_("Файл «%(file)s» больше %(limit)s КиБ: расписание экрана столько не занимает.")
        raise UploadRefused(Message(text, {"file": bare, "limit": MAX_FILE_BYTES // 1024}))
    if bells and not _BELL_NAME.fullmatch(bare):
        text = N_("Имя файла звонков «%(file)s» должно кончаться на .yaml, .yml или .json.")
        raise UploadRefused(Message(text, {"file": bare}))
    try:
        return SourceFile(bare, data.decode("utf-8-sig"))  # -sig: Notepad's byte-order mark is no error
    except UnicodeDecodeError:
        text = N_("Файл «%(file)s» не в кодировке UTF-8: сохраните его в UTF-8 и загрузите снова.")
        raise UploadRefused(Message(text, {"file": bare})) from None


def accept(db: content.Db, room_id: int, upload: Upload, user_id: int | None) -> dict[str, Any]:
    """Check the upload and keep it as the room's schedule; return {title, file_name, revision}.

    Raise ScheduleInvalid with every fault; the room's schedule and the school's bell files then stay
    as they were.
    """
    school_id = db.read.execute("SELECT school_id FROM room WHERE id = ?", [room_id]).fetchone()[0]
    document = checked(db.read, school_id, upload)
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    kept = {
        "title": str(document.get("title") or upload.schedule.name),
        "file_name": upload.schedule.name,
        "source": upload.schedule.text,
        "document": text,
        "revision": hashlib.sha256(text.encode()).hexdigest()[:16],
    }
    bells = {bell.name: bell.text for bell in upload.bells}
    db.write(store.save, room_id, kept, bells, user_id)
    log.info("room %s: schedule %s kept, revision %s", room_id, upload.schedule.name, kept["revision"])
    return {key: kept[key] for key in ("title", "file_name", "revision")}


def checked(db: Any, school_id: int, upload: Upload) -> dict[str, Any]:
    """Return the upload's schedule document with its content resolved; raise ScheduleInvalid."""
    stored = store.bell_files(db, school_id)
    document, faults = gevent.get_hub().threadpool.apply(_read, (upload, stored))
    if not faults:
        document, faults = _resolved(db, school_id, document, upload.schedule)
    if faults:
        log.warning(
            "schedule %s of school %s refused, %d fault(s)", upload.schedule.name, school_id, len(faults)
        )
        raise ScheduleInvalid(faults)
    Schedule.from_dict(document, upload.schedule.name)  # what a panel will do with it; checked already
    return document


# --- reading the files ------------------------------------------------------------------------------------


def _read(upload: Upload, stored: dict[str, str]) -> tuple[dict[str, Any], list[PlaylistError]]:
    """Return the checked document and the faults of every file of the upload (on a thread)."""
    with tempfile.TemporaryDirectory(prefix="classcast-schedule-") as name:
        folder = Path(name)
        for bell in (*(SourceFile(n, t) for n, t in stored.items()), *upload.bells):
            (folder / bell.name).write_text(bell.text, encoding="utf-8")
        try:
            document = playlist_check.read_text(upload.schedule.text, upload.schedule.name, folder)
            faults: list[PlaylistError] = []
        except ScheduleInvalid as invalid:
            document, faults = {}, [_named(fault, folder) for fault in invalid.errors]
    faults += [fault for bell in upload.bells for fault in _bell_faults(bell)]
    if not faults and "bells" in document and not {"playlists", "rules", "screen"} & set(document):
        text = N_("это расписание звонков, а не расписание экрана: приложите его как файл звонков")
        faults.append(PlaylistError(upload.schedule.name, 1, (), Message(text)))
    return document, list({(f.file, f.line, f.field, str(f.message)): f for f in faults}.values())


def _named(fault: PlaylistError, folder: Path) -> PlaylistError:
    """Return the fault named by the file's own name, not its place in the temporary folder."""
    file = Path(fault.file).name if fault.file.startswith(f"{folder}/") else fault.file
    message = fault.message
    if isinstance(message, Message) and "path" in message.values:  # a bell file neither sent nor stored
        text = N_("нет файла звонков «%(file)s»: приложите его к расписанию")
        message = Message(text, {"file": message.values.get("file", "")})
    return PlaylistError(file, fault.line, fault.path, message)


def _bell_faults(bell: SourceFile) -> list[PlaylistError]:
    """Return the faults of a bell file read on its own (it is kept, so even one not named is checked)."""
    try:
        document = playlist_check.read_text(bell.text, bell.name)
    except ScheduleInvalid as invalid:
        return invalid.errors
    if not isinstance(document.get("bells"), dict):
        text = N_("в файле нет расписания звонков (поля bells), записанного целиком")
        return [PlaylistError(bell.name, 1, ("bells",), Message(text))]
    return []


# --- resolving content --------------------------------------------------------------------------------------


def _resolved(
    db: Any, school_id: int, document: dict[str, Any], source: SourceFile
) -> tuple[dict[str, Any], list[PlaylistError]]:
    """Return the document with every material and sha256 item resolved, and the faults found."""
    found: list[tuple[FieldPath, Message]] = []
    playlists = []
    for p, playlist in enumerate(document.get("playlists", [])):
        items = []
        for i, item in enumerate(playlist["items"]):
            resolved, fault = _item(db, school_id, item)
            if fault is not None:
                found.append((("playlists", p, "items", i, fault[0]), fault[1]))
            items.append(resolved)
        playlists.append({**playlist, "items": items})
    lines = playlist_check.lines_of(source.text, [path for path, _ in found]) if found else []
    faults = [
        PlaylistError(source.name, line, path, message)
        for (path, message), line in zip(found, lines, strict=True)
    ]
    return ({**document, "playlists": playlists} if playlists else document), faults


def _item(db: Any, school_id: int, item: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, Message] | None]:
    """Return the item resolved (or as it was, with the fault of the field that cannot be)."""
    if "material" in item:
        material = content.get_material(db, item["material"], school_id)
        if material is None:
            text = N_("нет материала %(id)s среди материалов школы")
            return item, ("material", Message(text, {"id": item["material"]}))
    elif "sha256" in item:
        material = content.material_for_content(db, item["sha256"], school_id)
        if material is None:
            text = N_("такого файла нет среди материалов школы: загрузите его в материалы")
            return item, ("sha256", Message(text))
        if material["kind"] != item["kind"]:
            text = N_("этот файл — %(stored)s, а не %(kind)s")
            return item, ("kind", Message(text, {"stored": material["kind"], "kind": item["kind"]}))
    else:
        return item, None  # a web page or a text card: nothing to look up
    return _shown(material, item), None


def _shown(material: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Return the item with the stored content's fields, keeping its own duration, sound, lesson, title."""
    stored = {"sha256": material["sha256"], "kind": material["kind"], "mime": material["mime"]}
    detail = material["detail"] or {}
    if material["kind"] == "html5":
        stored["entry"] = detail["entry"]
    if material["kind"] == "pdf":
        stored["pages"] = [{"sha256": page["sha256"], "mime": page["mime"]} for page in detail["pages"]]
    own = {key: item[key] for key in _OWN if key in item}
    return {**stored, "title": material["title"], **own}


# --- a day's plan -----------------------------------------------------------------------------------------


def day_plan(document: dict[str, Any], day: date) -> list[dict[str, Any]]:
    """Return the day as [{start, end, playlist, screen}], times "08:00", playlists by their own names."""
    schedule = Schedule.from_dict(document)
    return [
        {
            "start": clock(segment.start),
            "end": clock(segment.end),
            "playlist": schedule.playlists[segment.playlist].name if segment.playlist else None,
            "screen": segment.screen,
        }
        for segment in schedule.day_plan(day)
    ]
