"""Casting: what a teacher chose, sent to the screens of one or more rooms; one cast per room at a time.

A cast makes the item every panel's desired `show` (so a panel that restarts or reconnects shows it
again) and the room's cast (its owner, the item, the remote's view). Another teacher's room is taken
only when the caster confirms (`take_over`), and its owner is told. Each panel's answer comes back to
the caster and to every open page of the school (controller.web.live).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import gevent

from classcast.i18n import N_
from classcast.protocol import DEFAULT_VIEW, EVENT_SHOW, MAX_TEXT_CHARS
from controller import access, rooms
from controller.stats import weeks
from controller.store import casts, content, desired, lesson_sets, orgs, panels, room_casts

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200
MAX_ROOMS = 50  # of one cast: a school's rooms, not a broadcast (that is what alerts are for)
FILE_WAIT_FACTOR = 6  # a show that downloads files first may take this many times `cast_ack_timeout`


class CastError(ValueError):
    """A cast that cannot be made; `code` is stable, the message (marked N_) is for the user."""

    def __init__(self, code: str, message: str, status: int = 400, **detail: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.detail = code, message, status, detail


@dataclass
class Choice:
    """What to show: the item, and the lesson set (id, index) it is part of, if any."""

    item: dict[str, Any]
    lesson_set: tuple[int, int] | None = None
    view: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_VIEW))


# --- what to show ----------------------------------------------------------------------------------


def choice_from(svc: Any, user: dict[str, Any], fields: dict[str, Any]) -> Choice:
    """Return what the request asks to show: a material, stored content, a link, a text or a lesson set."""
    school_id = user["node_id"]
    if fields.get("library") not in (None, ""):
        from controller import library  # it reports its refusals as CastError: imported when used

        return Choice(library.show_item(svc, user, str(fields["library"])))
    if fields.get("lesson_set") not in (None, ""):
        return set_choice(svc, user, _int(fields["lesson_set"], "no_such_set"), _int(fields.get("index", 0)))
    if fields.get("material") not in (None, ""):
        material = content.get_material(svc.db.read, _int(fields["material"], "no_such_content"), school_id)
        return Choice(item_of_material(material, fields.get("title")))
    if fields.get("content"):
        material = content.material_for_content(svc.db.read, str(fields["content"]), school_id)
        return Choice(item_of_material(material, fields.get("title")))
    if fields.get("url"):
        return Choice(item_from_url(str(fields["url"]), fields.get("title")))
    if fields.get("text") not in (None, ""):
        return Choice(item_from_text(fields["text"], fields.get("title")))
    raise CastError("no_item", N_("Выберите материал или вставьте ссылку."))


def item_of_material(material: dict[str, Any] | None, title: Any = None) -> dict[str, Any]:
    if material is None:
        raise CastError("no_such_content", N_("Материал не найден."), 404)
    item = content.item_of(material)
    if isinstance(title, str) and title.strip():
        item["title"] = title.strip()[:MAX_TITLE_CHARS]
    return item


def item_from_url(url: str, title: Any) -> dict[str, Any]:
    """Return the `show` item for a web page, refusing anything but an http(s) address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise CastError("bad_url", N_("Ссылка должна начинаться с http:// или https:// и вести на сайт."))
    name = title.strip() if isinstance(title, str) and title.strip() else parts.hostname
    return {"kind": "page", "url": url.strip(), "title": name[:MAX_TITLE_CHARS]}


def item_from_text(text: Any, title: Any) -> dict[str, Any]:
    """Return the `show` item of a text card (shown as text, never as markup)."""
    if not isinstance(text, str) or not text.strip():
        raise CastError("no_item", N_("Напишите текст."))
    if len(text) > MAX_TEXT_CHARS:
        raise CastError("too_long", N_("Текст длиннее 2000 знаков."))
    name = title.strip()[:MAX_TITLE_CHARS] if isinstance(title, str) else ""
    return {"kind": "text", "title": name, "text": text.strip()}


def set_choice(svc: Any, user: dict[str, Any], set_id: int, index: int, last_page: bool = False) -> Choice:
    """Return item `index` of the user's lesson set (at its last page with `last_page`)."""
    found = lesson_sets.get(svc.db.read, set_id)
    if found is None or found["user_id"] != user["id"]:
        raise CastError("no_such_set", N_("Набор уроков не найден."), 404)
    if not 0 <= index < len(found["items"]):
        raise CastError("no_such_item", N_("В наборе нет такого пункта."))
    entry = found["items"][index]
    if entry["material"] is not None:
        item = item_of_material(content.get_material(svc.db.read, entry["material"], user["node_id"]))
        item["title"] = entry["title"] or item["title"]
    else:
        item = item_from_url(entry["url"], entry["title"])
    view = dict(DEFAULT_VIEW, page=max(rooms.pages_of(item) - 1, 0) if last_page else 0)
    return Choice(item, (set_id, index), view)


def _int(value: Any, code: str = "bad_request") -> int:
    if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
        raise CastError(code, N_("Неверный номер в запросе."))
    return int(value)


# --- where, and whose ------------------------------------------------------------------------------


def room_for_user(svc: Any, user: dict[str, Any], room_id: int, action: str = "create") -> dict[str, Any]:
    """Return the room if the user may cast to it (or, `control`, use the remote of what it shows).

    A room outside the user's subtree is 'not found'; so is an archived room, for a new cast.
    """
    room = orgs.get_room(svc.db.read, room_id)
    try:
        if room is None and action == "create":
            raise access.NotFound("room")
        access.check(user, "cast", action, access.place_of(svc.db.read, "room", room_id))
    except access.NotFound:
        raise CastError("no_such_room", N_("Кабинет не найден."), 404) from None
    except access.Forbidden:
        raise CastError(
            "forbidden", N_("Показывать на экранах может учитель или координатор школы."), 403
        ) from None
    return room or {"id": room_id}


def room_ids_from(fields: dict[str, Any]) -> list[int]:
    """Return the rooms a request names (`room_id`, or a list `room_ids`), each once."""
    named = fields.get("room_ids")
    if named is None:
        named = [fields.get("room_id")]
    if not isinstance(named, list) or not named or len(named) > MAX_ROOMS:
        raise CastError("bad_room", N_("Выберите кабинет."))
    ids = [_int(value, "bad_room") if value not in (None, "") else None for value in named]
    if None in ids:
        raise CastError("bad_room", N_("Выберите кабинет."))
    return list(dict.fromkeys(ids))  # type: ignore[arg-type] - None was refused above


def taken_by_others(svc: Any, user: dict[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the rooms among `found` whose screens another teacher has now, with who it is."""
    held = room_casts.of_rooms(svc.db.read, [room["id"] for room in found])
    others = [room for room in found if held.get(room["id"], {}).get("user_id") not in (None, user["id"])]
    names = _names(svc.db.read, [held[room["id"]]["user_id"] for room in others])
    return [
        {"room_id": room["id"], "name": room["name"], "owner": {"user_id": owner, "name": names.get(owner)}}
        for room in others
        for owner in [held[room["id"]]["user_id"]]
    ]


def _still_asking(svc: Any, user: dict[str, Any], taken: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the taken rooms the caster must confirm taking.

    All of them, unless `room_owner_rule` is `timetable`: then the room of the caster's lesson in
    progress is theirs without asking. When the journal cannot tell (no lesson now, the journal down),
    the usual question is asked.
    """
    if svc.settings["room_owner_rule"] != "timetable":
        return taken
    from controller import journal  # reads the main system: imported when the rule is on

    try:
        lesson_room = journal.current_room(svc, user)
    except CastError as exc:
        log.info("room owner by timetable: user %s: %s", user["id"], exc.code)
        return taken
    return [room for room in taken if room["room_id"] != lesson_room]


def _names(db: Any, user_ids: list[int]) -> dict[int, str]:
    marks = ", ".join("?" * len(user_ids))
    sql = f"SELECT id, full_name FROM user WHERE id IN ({marks})"
    return {row[0]: row[1] for row in db.execute(sql, user_ids).fetchall()} if user_ids else {}


# --- sending ---------------------------------------------------------------------------------------


def cast(
    svc: Any, user: dict[str, Any], room_ids: list[int], choice: Choice, take_over: bool = False
) -> list[dict[str, Any]]:
    """Return each panel's answer after sending the choice to every active panel of the rooms.

    Raises CastError `room_taken` (409, with the rooms and their owners) when another teacher has one
    of the rooms and `take_over` is not set.
    """
    found = [room_for_user(svc, user, room_id) for room_id in room_ids]
    taken = taken_by_others(svc, user, found)
    asking = taken if take_over or not taken else _still_asking(svc, user, taken)
    if asking and not take_over:
        raise CastError(
            "room_taken", N_("Кабинет занят: сейчас на его экранах показ другого учителя."), 409, rooms=taken
        )
    targets = [panel for room in found for panel in panels.panels_of_room(svc.db.read, room["id"])]
    if not targets:
        raise CastError("no_panels", N_("В этом кабинете нет подключённых экранов."), 409)
    asked_at = time.time()
    cast_ids = svc.db.write(_start_casts, found, targets, user["id"], choice)
    jobs = [gevent.spawn(_send_show, svc, panel, cast_ids[panel["id"]], choice) for panel in targets]
    svc.live.rooms_sent(found[0]["school_id"], [room["id"] for room in found])
    gevent.joinall(jobs)
    answers = [job.value for job in jobs]
    svc.db.write(_record_answers, answers)
    for room in taken:
        owner = room["owner"]["user_id"]
        log.info("room %s taken from user %s by user %s", room["room_id"], owner, user["id"])
        svc.live.room_taken(
            room["owner"]["user_id"], {"id": room["room_id"], "name": room["name"]}, user["full_name"]
        )
    if user["role"] == "teacher":  # the statistics count the share of teachers who cast; after the
        # panels were sent the item, so that counting never delays what the class is waiting for
        svc.db.write(weeks.count_cast, user["id"], found[0]["school_id"], asked_at)
    return answers


def _start_casts(
    db: Any, found: list[dict[str, Any]], targets: list[dict[str, Any]], user_id: int, choice: Choice
) -> dict[int, int]:
    """Record the casts and make them what the rooms and panels show from now on (one transaction)."""
    for room in found:
        room_casts.start(db, room["id"], user_id, choice.item, choice.view, choice.lesson_set)
    cast_ids = {}
    for panel in targets:
        cast_ids[panel["id"]] = casts.create_cast(db, panel, user_id, choice.item)
        show = {"cast_id": str(cast_ids[panel["id"]]), "item": choice.item, "view": choice.view}
        # Also after a restart or a lost connection: the panel is sent its desired state when it connects.
        desired.update(db, panel["id"], {"show": show})
    return cast_ids


def show_timeout(svc: Any, item: dict[str, Any]) -> float:
    """Return how long to wait for a panel's answer to a `show` of `item`.

    A panel answers once the item is on screen; a PDF's pages, a video or a bundle are downloaded first
    (every page, so that paging works offline), which on a school's Wi-Fi takes longer than a page.
    """
    return svc.hub.ack_timeout * (FILE_WAIT_FACTOR if item["kind"] in ("pdf", "video", "html5") else 1)


def _send_show(svc: Any, panel: dict[str, Any], cast_id: int, choice: Choice) -> dict[str, Any]:
    payload = {"cast_id": str(cast_id), "item": choice.item, "view": choice.view}
    answer = svc.hub.send(panel["id"], EVENT_SHOW, payload, show_timeout(svc, choice.item))
    if svc.metrics is not None:
        svc.metrics.cast_answered(answer)
    if not answer.get("ok"):
        log.warning("cast %s to panel %s failed: %s", cast_id, panel["id"], answer.get("error"))
    return {
        "cast_id": cast_id,
        "panel_id": panel["id"],
        "panel": panel["name"],
        "room_id": panel["room_id"],
        **answer,
    }


def _record_answers(db: Any, answers: list[dict[str, Any]]) -> None:
    for answer in answers:
        casts.record_answer(db, answer["cast_id"], answer)
