"""The teacher's remote for what a room's screens show: pages, play and pause, blank, freeze, stop.

The remote keeps a view of the cast (docs/protocol.md: page, playing, blank, frozen). Each action
makes a new view, kept as the room's and every panel's desired one, and sends it whole to the panels
(`control`), so a panel that missed one catches up with the next, or when it reconnects. In a lesson
set, "next" past an item's last page casts the set's next item, and "previous" before its first page
the item before, at its last page.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent

from classcast.i18n import N_
from classcast.protocol import EVENT_CONTROL, EVENT_SHOW
from controller import rooms
from controller.casting import CastError, cast, room_for_user, set_choice, show_timeout
from controller.store import desired, lesson_sets, panels, room_casts

log = logging.getLogger(__name__)

ACTIONS = ("next", "prev", "goto", "play", "pause", "blank", "unblank", "freeze", "unfreeze")
_FLAGS = {
    "play": ("playing", True),
    "pause": ("playing", False),
    "blank": ("blank", True),
    "unblank": ("blank", False),
    "freeze": ("frozen", True),
    "unfreeze": ("frozen", False),
}


def control(svc: Any, user: dict[str, Any], room_id: int, action: Any, page: Any = None) -> list[dict]:
    """Return the panels' answers to the action on what the room shows (or to the set's next item)."""
    if action not in ACTIONS:
        raise CastError("bad_action", N_("Неизвестное действие пульта."))
    room_for_user(svc, user, room_id, "control")
    current = _owned_cast(svc, user, room_id)
    pages = rooms.pages_of(current["item"])
    step = _set_step(current, action, pages)
    if step is not None:
        count = len(lesson_sets.items_of(svc.db.read, current["lesson_set_id"]))
        index = current["set_index"] + step
        if 0 <= index < count:
            choice = set_choice(svc, user, current["lesson_set_id"], index, last_page=step < 0)
            return cast(svc, user, [room_id], choice, take_over=True)
    view = next_view(current["view"], action, page, pages)
    targets = svc.db.write(_keep_view, room_id, view)
    jobs = [gevent.spawn(_send_view, svc, panel_id, show) for panel_id, show in targets]
    gevent.joinall(jobs)
    return [job.value for job in jobs]


def stop(svc: Any, user: dict[str, Any], room_id: int) -> list[dict[str, Any]]:
    """Take the room's screens back to their own schedule (or idle look); return the panels' answers."""
    room_for_user(svc, user, room_id, "control")
    _owned_cast(svc, user, room_id)
    panel_ids = svc.db.write(_end_cast, room_id)
    from controller.web.panels import send_state  # the panels' side sends a whole state

    jobs = [gevent.spawn(send_state, svc, panel_id) for panel_id in panel_ids]
    gevent.joinall(jobs)
    log.info("user %s stopped the cast in room %s", user["id"], room_id)
    return [{"panel_id": panel_id, **job.value} for panel_id, job in zip(panel_ids, jobs, strict=True)]


def next_view(view: dict[str, Any], action: str, page: Any, pages: int) -> dict[str, Any]:
    """Return the view after `action` (pages counted from 0, kept within the item's pages)."""
    if action in _FLAGS:
        key, value = _FLAGS[action]
        return {**view, key: value}
    if action == "goto":
        if isinstance(page, bool) or not isinstance(page, int):
            raise CastError("bad_page", N_("Укажите номер страницы."))
        target = page
    else:
        target = view["page"] + (1 if action == "next" else -1)
    last = pages - 1 if pages > 0 else target  # 0 pages: the item knows its own end (HTML5)
    return {**view, "page": min(max(target, 0), last)}


def _owned_cast(svc: Any, user: dict[str, Any], room_id: int) -> dict[str, Any]:
    current = room_casts.get(svc.db.read, room_id)
    if current is None:
        raise CastError("nothing_cast", N_("Сейчас на экранах кабинета ничего не показывается."), 409)
    if current["user_id"] not in (None, user["id"]) and user["role"] == "teacher":
        raise CastError("room_taken", N_("Экранами этого кабинета сейчас управляет другой учитель."), 409)
    return current


def _set_step(current: dict[str, Any], action: str, pages: int) -> int | None:
    """Return +1 or -1 when the action leaves the item for its neighbour in the lesson set."""
    if current["lesson_set_id"] is None or pages <= 0:
        return None
    if action == "next" and current["view"]["page"] >= pages - 1:
        return 1
    if action == "prev" and current["view"]["page"] <= 0:
        return -1
    return None


def _keep_view(db: Any, room_id: int, view: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """Keep the view as the room's and its panels'; return (panel id, its desired show) of each."""
    room_casts.set_view(db, room_id, view)
    targets = []
    for panel in panels.panels_of_room(db, room_id):
        show = desired.get(db, panel["id"])["show"]
        if show is not None:
            show = {**show, "view": view}
            desired.update(db, panel["id"], {"show": show})
            targets.append((panel["id"], show))
    return targets


def _end_cast(db: Any, room_id: int) -> list[int]:
    room_casts.clear(db, room_id)
    panel_ids = [panel["id"] for panel in panels.panels_of_room(db, room_id)]
    for panel_id in panel_ids:
        desired.update(db, panel_id, {"show": None})
    return panel_ids


def _send_view(svc: Any, panel_id: int, show: dict[str, Any]) -> dict[str, Any]:
    cast_id, view = show["cast_id"], show["view"]
    answer = svc.hub.send(panel_id, EVENT_CONTROL, {"cast_id": cast_id, "view": view})
    if answer.get("error") == "not_shown":
        # The panel restarted, or had not shown the cast yet: the whole cast again, at this view.
        answer = svc.hub.send(panel_id, EVENT_SHOW, show, show_timeout(svc, show["item"]))
        answer = {**answer, "view": view} if answer.get("ok") else answer
    if not answer.get("ok"):
        log.warning("control of cast %s on panel %s failed: %s", cast_id, panel_id, answer.get("error"))
    return {"panel_id": panel_id, "cast_id": cast_id, **answer}
