"""Casting: turning a teacher's choice into `show` commands to a room's panels, and their answers."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import gevent

from classcast.i18n import N_
from classcast.protocol import EVENT_SHOW
from controller import access
from controller.app import Services
from controller.stats import weeks
from controller.store import casts, content, desired, orgs, panels

log = logging.getLogger(__name__)


class CastError(ValueError):
    """A cast that cannot be made; `code` is stable, the message (marked N_) is for the user."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def item_from_content(svc: Services, sha256: str, school_id: int) -> dict[str, Any]:
    """Return the `show` item for stored content the school may use."""
    record = content.get_content(svc.db.read, sha256)
    if record is None or record["school_id"] not in (None, school_id):
        raise CastError("no_such_content", N_("Материал не найден."), 404)
    return {
        "kind": "image",
        "sha256": record["sha256"],
        "size": record["size"],
        "mime": record["mime"],
        "title": record["title"],
    }


def item_from_url(url: str, title: str | None) -> dict[str, Any]:
    """Return the `show` item for a web page, refusing anything but an http(s) address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise CastError("bad_url", N_("Ссылка должна начинаться с http:// или https:// и вести на сайт."))
    return {"kind": "page", "url": url.strip(), "title": (title or parts.hostname)[:200]}


def room_for_user(svc: Services, user: dict[str, Any], room_id: int) -> dict[str, Any]:
    """Return the room if the user may cast to it; a room outside their subtree is 'not found'."""
    room = orgs.get_room(svc.db.read, room_id)
    try:
        if room is None:
            raise access.NotFound("room")
        access.check(user, "cast", "create", access.place_of(svc.db.read, "room", room_id))
    except access.NotFound:
        raise CastError("no_such_room", N_("Кабинет не найден."), 404) from None
    except access.Forbidden:
        raise CastError(
            "forbidden", N_("Показывать на экранах может учитель или координатор школы."), 403
        ) from None
    return room


def cast_to_room(svc: Services, user: dict[str, Any], room_id: int, item: dict[str, Any]) -> list[dict]:
    """Return each panel's answer after sending `item` to every active panel of the room."""
    room_for_user(svc, user, room_id)
    targets = panels.panels_of_room(svc.db.read, room_id)
    if not targets:
        raise CastError("no_panels", N_("В этом кабинете нет подключённых экранов."), 409)
    asked_at = time.time()
    jobs = [gevent.spawn(_cast_to_panel, svc, user["id"], panel, item) for panel in targets]
    gevent.joinall(jobs)
    if user["role"] == "teacher":  # the statistics count the share of teachers who cast; after the
        # panels were sent the item, so that counting never delays what the class is waiting for
        svc.db.write(weeks.count_cast, user["id"], targets[0]["school_id"], asked_at)
    return [job.value for job in jobs]


def _create_cast(db: Any, panel: dict[str, Any], user_id: int | None, item: dict) -> int:
    """Record the cast and make it what the panel should show from now on (one transaction)."""
    cast_id = casts.create_cast(db, panel, user_id, item)
    # Also after a restart or a lost connection: the panel is sent its desired state when it connects.
    desired.update(db, panel["id"], {"show": {"cast_id": str(cast_id), "item": item}})
    return cast_id


def _cast_to_panel(svc: Services, user_id: int | None, panel: dict[str, Any], item: dict) -> dict[str, Any]:
    cast_id = svc.db.write(_create_cast, panel, user_id, item)
    answer = svc.hub.send(panel["id"], EVENT_SHOW, {"cast_id": str(cast_id), "item": item})
    svc.db.write(casts.record_answer, cast_id, answer)
    if svc.metrics is not None:
        svc.metrics.cast_answered(answer)
    if not answer.get("ok"):
        log.warning("cast %s to panel %s failed: %s", cast_id, panel["id"], answer.get("error"))
    return {"cast_id": cast_id, "panel_id": panel["id"], "panel": panel["name"], **answer}
