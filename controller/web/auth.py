"""Signing in and out with a password; who the current user is."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from controller.app import services
from controller.store import users
from controller.web.security import check_csrf, csrf_token

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)


def current_user() -> dict[str, Any] | None:
    """Return the signed-in user of this request, or None."""
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = users.get_user(services().db.read, user_id) if isinstance(user_id, int) else None
    return g.user


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.path.startswith("/api/"):
                return {"error": "unauthenticated", "message": "Войдите в систему."}, 401
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html")
    check_csrf()
    login_name = request.form.get("login", "").strip()
    user = users.authenticate(services().db.read, login_name, request.form.get("password", ""))
    if user is None:
        log.warning("sign-in failed for login %r from %s", login_name[:64], request.remote_addr)
        return render_template("login.html", error="Неверный логин или пароль.", login=login_name), 401
    session.clear()
    session["user_id"] = user["id"]
    log.info("user %s signed in from %s", user["id"], request.remote_addr)
    return redirect(_safe_next(request.args.get("next")))


@blueprint.post("/logout")
def logout():
    check_csrf()
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.get("/api/session")
@login_required
def session_info():
    """Return who is signed in and the CSRF token their API writes must carry (X-CSRF-Token)."""
    user = current_user()
    keep = ("id", "login", "full_name", "role", "node_type", "node_id")
    return {"user": {key: user[key] for key in keep}, "csrf_token": csrf_token()}


def _safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this site, else the home page (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("casting.home")
