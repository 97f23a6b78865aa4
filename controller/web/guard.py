"""The one door every API route, view and Socket.IO handler goes through: `@guarded` or `@public`.

`@guarded(kind, action, ...)` finds the object the request names, its place in the hierarchy, and
asks `controller.access` whether the signed-in user may take the action there: outside their subtree
the answer is 404 (the object does not exist for them), a forbidden action 403, each denial audited.
`@public(reason)` marks what needs no object check (sign-in, health, the panels' token routes). The
authorization matrix test fails on any API route that carries neither.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from classcast.i18n import N_
from controller import access
from controller.app import services
from controller.i18n import translate
from controller.store import audit
from controller.web.auth import current_user
from controller.web.security import public

__all__ = ["Guard", "guarded", "public"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Guard:
    kind: str
    action: str
    id_arg: str | None = None  # the view argument that names the object
    parent: str | None = None  # for create: the kind whose id the body's "<parent>_id" names
    of_arg: str | None = None  # the view argument naming the kind of object id_arg names, if not `kind`
    id_kind: str | None = None  # the kind of object id_arg names, if not `kind` (the room a cast is in)


def guarded(
    kind: str,
    action: str,
    *,
    id_arg: str | None = None,
    parent: str | None = None,
    of_arg: str | None = None,
    id_kind: str | None = None,
) -> Callable:
    guard = Guard(kind, action, id_arg, parent, of_arg, id_kind)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return {"error": "unauthenticated", "message": _("Войдите в систему.")}, 401
            try:
                g.place = _authorize(user, guard, kwargs)
            except access.NotFound as missing:
                message = translate(_NOT_FOUND.get(str(missing), N_("Не найдено.")))
                return _deny(user, guard, kwargs, 404, message)
            except access.Forbidden:
                return _deny(user, guard, kwargs, 403, _("Недостаточно прав."))
            except BadParent as exc:
                return {"error": "invalid", "message": translate(exc.message)}, 400
            return view(*args, **kwargs)

        wrapped.guard = guard  # type: ignore[attr-defined] - read by the authorization matrix test
        return wrapped

    return decorate


_NOT_FOUND = {
    "region": N_("Регион не найден."),
    "municipality": N_("Муниципалитет не найден."),
    "school": N_("Школа не найдена."),
    "room": N_("Кабинет не найден."),
    "panel": N_("Панель не найдена."),
    "user": N_("Учётная запись не найдена."),
    "cast": N_("Показ не найден."),
}


class BadParent(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _authorize(user: dict[str, Any], guard: Guard, kwargs: dict[str, Any]) -> access.Place:
    db = services().db.read
    where = None
    if guard.id_arg is not None and guard.of_arg is not None:
        where = kwargs[guard.of_arg]  # the statistics of a region, a school, a panel…
        place = access.Place() if where == "all" else access.place_of(db, where, kwargs[guard.id_arg])
    elif guard.id_arg is not None:
        where = guard.id_kind
        place = access.place_of(db, guard.id_kind or guard.kind, kwargs[guard.id_arg])
    elif guard.parent == "home":
        place = access.home_of(db, user)  # created in the user's own node (their school's content)
    elif guard.parent == "node":
        place = _node_place(db)  # an account: the node the body binds it to
    elif guard.parent is not None:
        place = access.place_of(db, guard.parent, _parent_id(guard.parent))
    else:
        # A listing, or a top-level object: the collection is everyone's to see (filtered by the view),
        # so what remains to ask is whether the role may take the action at all.
        place = access.home_of(db, user)
    if guard.parent in access.LEVELS or guard.parent == "room":
        where = guard.parent
    access.check(user, guard.kind, guard.action, place, where)
    return place


def _node_place(db: Any) -> access.Place:
    body = request.get_json(silent=True)
    node_type = body.get("node_type") if isinstance(body, dict) else None
    if node_type is None:
        role = body.get("role") if isinstance(body, dict) else None
        node_type = access.ROLE_LEVEL.get(role) if isinstance(role, str) else None
    if node_type is None:
        return access.Place()  # an operator's account: above every subtree
    if node_type not in access.LEVELS:
        raise BadParent(N_("Укажите узел: region, municipality или school."))
    return access.place_of(db, node_type, _parent_id("node"))


def _parent_id(parent: str) -> int:
    body = request.get_json(silent=True) if request.is_json else request.form
    value = (body or {}).get(f"{parent}_id")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadParent(_PARENT_MISSING.get(parent, N_("Укажите, к чему это относится.")))
    return int(value)


_PARENT_MISSING = {
    "region": N_("Укажите регион."),
    "municipality": N_("Укажите муниципалитет."),
    "school": N_("Укажите школу."),
    "room": N_("Укажите кабинет."),
    "node": N_("Укажите узел учётной записи."),
}


def _deny(user: dict[str, Any], guard: Guard, kwargs: dict[str, Any], status: int, message: str) -> Any:
    object_id = kwargs.get(guard.id_arg) if guard.id_arg else None
    log.warning(
        "denied %s %s %s#%s to user %s (%s)",
        status,
        guard.action,
        guard.kind,
        object_id,
        user["id"],
        user["role"],
    )
    actor = audit.Actor.of(user, request.remote_addr)
    detail = {"route": request.path[:200], "status": status, "action": guard.action}
    home = access.home_of(services().db.read, user)
    services().db.write(audit.record, actor, "denied", "denied", guard.kind, object_id, home, detail)
    return {"error": "not_found" if status == 404 else "forbidden", "message": message}, status
