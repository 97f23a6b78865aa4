"""The library and the journal as the teacher's page uses them: search, an item, today's lessons."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, request

from classcast.i18n import N_
from controller import access, journal, library
from controller.app import services
from controller.casting import CastError
from controller.i18n import translate
from controller.web.auth import current_user
from controller.web.guard import guarded, public

log = logging.getLogger(__name__)
blueprint = Blueprint("library", __name__, url_prefix="/api")


@blueprint.get("/library/search")
@guarded("library", "read")
def search_api():
    """Items of the library matching `q` (page `page`); from the local index when the library is down."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    query = request.args.get("q", "")
    return _answer(lambda user: _translated(library.search(services(), user, query, page)))


@blueprint.get("/library/items/<item_id>")
@public("a library item is no object of the hierarchy: the caller's role is checked here, as @guarded would")
def item_api(item_id: str):
    user = current_user()
    if user is None:
        return {"error": "unauthenticated", "message": translate(N_("Войдите в систему."))}, 401
    try:
        access.check(user, "library", "read", access.home_of(services().db.read, user))
    except access.Forbidden:
        return {"error": "forbidden", "message": translate(N_("Недостаточно прав."))}, 403
    return _answer(lambda user: library.details(services(), user, item_id))


@blueprint.get("/journal/today")
@guarded("journal", "read")
def today_api():
    """The teacher's lessons today: the one in progress, the next, all of them."""
    return _answer(lambda user: journal.today(services(), user))


def _translated(answer: dict[str, Any]) -> dict[str, Any]:
    if "message" in answer:
        answer["message"] = translate(answer["message"])
    return answer


def _answer(act: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    user = current_user()
    if user["node_type"] != "school":
        return {"error": "not_found", "message": translate(N_("Не найдено."))}, 404
    try:
        return act(user)
    except CastError as exc:
        log.info("user %s: %s (%s)", user["id"], exc.code, request.path)
        # Not connected to a main system is how this controller is set up, not a failure of the moment.
        status = 409 if exc.code == "not_configured" else exc.status
        return {"error": exc.code, "message": translate(exc.message)}, status
