"""Signing in and out with a password; who the current user is; sessions that end on the server."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from classcast.i18n import N_
from controller import access
from controller.app import services
from controller.i18n import translate
from controller.store import audit, sessions, throttle, users
from controller.web.security import check_csrf, csrf_token, public

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)

GENERIC_FAILURE = N_("Неверный логин или пароль.")


def current_user() -> dict[str, Any] | None:
    """Return the signed-in user of this request (a live session on the server), or None."""
    if "user" not in g:
        g.user = None
        session_id = session.get("sid")
        if isinstance(session_id, str):
            db = services().db
            g.user = sessions.user_of(db.read, session_id)
            if g.user is not None and sessions.needs_touch(g.user):
                db.write(sessions.touch, session_id)
    return g.user


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.path.startswith("/api/"):
                return {"error": "unauthenticated", "message": _("Войдите в систему.")}, 401
            # The query string too: a scanned pairing QR code (/admin/pair?code=…) keeps its code.
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.login", next=target))
        return view(*args, **kwargs)

    return wrapped


def begin_session(user: dict[str, Any], method: str) -> None:
    """Sign `user` in on this request: a new server-side session (never the old cookie's), audited."""
    svc = services()
    session.clear()  # no session fixation: whatever the cookie held before is gone
    lifetime = svc.settings["session_lifetime_hours"] * 3600
    session["sid"] = svc.db.write(sessions.start, user["id"], request.remote_addr, method, lifetime)
    session.permanent = True
    place = access.home_of(svc.db.read, user)
    actor = audit.Actor.of(user, request.remote_addr)
    svc.db.write(audit.record, actor, "sign_in", "ok", "user", user["id"], place, {"method": method})
    log.info("user %s signed in (%s) from %s", user["id"], method, request.remote_addr)


@blueprint.route("/login", methods=["GET", "POST"])
@public("signing in")
def login():
    if request.method == "GET":
        return render_template("login.html", sso=bool(services().settings["oidc_issuer"]))
    check_csrf()
    login_name = request.form.get("login", "").strip()[:128]
    svc = services()
    keys = throttle.keys(login_name, request.remote_addr)
    if throttle.locked_for(svc.db.read, keys) > 0:
        _failed(login_name, "throttled")
        return _login_page(
            N_("Слишком много попыток входа. Подождите несколько минут и попробуйте снова."), 429
        )
    user = users.authenticate(svc.db.read, login_name, request.form.get("password", ""))
    if user is None:
        svc.db.write(throttle.record_failure, keys)
        _failed(login_name, "bad_credentials")
        return _login_page(GENERIC_FAILURE, 401)
    svc.db.write(throttle.clear, login_name)
    begin_session(user, "password")
    return redirect(safe_next(request.args.get("next")))


def _login_page(error: str, status: int) -> tuple[str, int]:
    sso = bool(services().settings["oidc_issuer"])
    return render_template(
        "login.html", error=translate(error), login=request.form.get("login", ""), sso=sso
    ), status


def _failed(login_name: str, reason: str) -> None:
    log.warning("sign-in failed for login %r from %s: %s", login_name[:64], request.remote_addr, reason)
    actor = audit.Actor(None, login_name[:128], None, request.remote_addr)
    services().db.write(audit.record, actor, "sign_in_failed", "failed", None, None, None, {"reason": reason})


@blueprint.post("/logout")
@public("signing out ends only the caller's own session")
def logout() -> Response:
    check_csrf()
    user = current_user()
    session_id = session.get("sid")
    if isinstance(session_id, str):
        services().db.write(sessions.end, session_id)
    if user is not None:
        place = access.home_of(services().db.read, user)
        actor = audit.Actor.of(user, request.remote_addr)
        services().db.write(audit.record, actor, "sign_out", "ok", "user", user["id"], place)
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.get("/api/session")
@login_required
@public("the caller's own account")
def session_info():
    """Return who is signed in and the CSRF token their API writes must carry (X-CSRF-Token)."""
    user = current_user()
    keep = ("id", "login", "full_name", "role", "node_type", "node_id")
    return {"user": {key: user[key] for key in keep}, "csrf_token": csrf_token()}


def safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this site, else the home page (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("casting.home")
