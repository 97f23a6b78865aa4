"""The generic proxy: `GET /api/main/<upstream>/<path>`, an allow-listed path of the journal or the library.

The path must have the shape of one template of `main_allowed_paths` exactly; everything else about
the call (the URL, the headers, the credential, the caps) is `controller.upstream`'s. The library is
for those who cast (teachers and school IT); the journal for teachers, each their own timetable only,
and of it only what a lesson is (no class lists, no marks) comes back. A template ending in `/media`
answers the item's bytes, any other JSON.
"""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext as _
from werkzeug.wsgi import wrap_file

from controller import access
from controller.app import services
from controller.i18n import translate
from controller.store import audit
from controller.upstream import UPSTREAMS, UpstreamError, teacher_id
from controller.web.auth import current_user, login_required
from controller.web.security import public

blueprint = Blueprint("proxy", __name__)

LESSON_FIELDS = ("number", "start", "end", "class", "subject", "room", "topic")
_SPOOL_IN_MEMORY = 1024 * 1024  # bytes of a media answer held in memory; the rest waits on disk


# `merge_slashes=False`: `//host` in the path stays in it (and matches no template) instead of being
# redirected to a merged path.
@blueprint.get("/api/main/<upstream>/<path:path>", merge_slashes=False)
@login_required
@public(
    "the object is the main system's, not a node of ours: the view asks access.POLICY for the upstream "
    "(library, journal) in the caller's own school, and the journal's teacher must be the caller"
)
def forward(upstream: str, path: str) -> Any:
    user, main = current_user(), services().main
    if upstream not in UPSTREAMS:
        main.refused(user, upstream, path, UpstreamError("not_allowed", "library", detail="no such upstream"))
        return {"error": "not_allowed", "message": _("Не найдено.")}, 404
    try:
        access.check(user, upstream, "read", access.home_of(services().db.read, user))
    except access.Forbidden:
        return _forbidden(user, upstream)
    try:
        template, params = main.match(upstream, path)
        if upstream == "journal" and params.get("teacher") != teacher_id(user):
            raise UpstreamError("not_allowed", upstream, detail="another teacher's journal")
    except UpstreamError as error:
        return _refuse(user, upstream, path, error)
    try:
        if template.endswith("/media"):
            return _media(main, upstream, template, params, user)
        answer = main.get_json(upstream, template, params, request.args, user, request.headers.items())
    except UpstreamError as error:
        return _error(error)
    return jsonify(_journal_view(answer) if upstream == "journal" else answer)


def _media(main: Any, upstream: str, template: str, params: dict[str, str], user: dict[str, Any]) -> Response:
    """Return the item's bytes, spooled (memory, then disk) so that a refused download sends nothing."""
    spool = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY, dir=services().data_dir)
    try:
        mime, size = main.fetch_to(upstream, template, params, spool, user, None, request.headers.items())
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    response = Response(wrap_file(request.environ, spool), content_type=mime, direct_passthrough=True)
    response.content_length = size
    # The library's bytes are not our pages: no script of theirs runs with the controller's origin.
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _journal_view(answer: Any) -> Any:
    """Return the timetable with only what a lesson is: class lists, marks and the rest stay behind."""
    answer = answer if isinstance(answer, dict) else {}
    lessons = answer.get("lessons")
    kept = [
        {name: lesson[name] for name in LESSON_FIELDS if name in lesson}
        for lesson in (lessons if isinstance(lessons, list) else [])
        if isinstance(lesson, dict)
    ]
    return {"teacher": answer.get("teacher"), "date": answer.get("date"), "lessons": kept}


def _error(error: UpstreamError) -> tuple[dict[str, Any], int]:
    body: dict[str, Any] = {"error": error.code, "message": translate(error.message)}
    return body, error.status


def _refuse(
    user: dict[str, Any], upstream: str, path: str, error: UpstreamError
) -> tuple[dict[str, Any], int]:
    services().main.refused(user, upstream, path, error)
    return _error(error)


def _forbidden(user: dict[str, Any], upstream: str) -> tuple[dict[str, Any], int]:
    svc = services()
    actor = audit.Actor.of(user, request.remote_addr)
    detail = {"route": request.path[:200], "status": 403, "action": "read"}
    svc.db.write(
        audit.record, actor, "denied", "denied", upstream, None, access.home_of(svc.db.read, user), detail
    )
    return {"error": "forbidden", "message": _("Недостаточно прав.")}, 403
