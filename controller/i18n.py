"""The UI's language: Russian first, English available; every user message comes through the catalogue.

Messages are written in Russian in the code (the users' language) and marked with `_` (here and in
templates) or `N_` (in store modules, which do not import Flask); `translate` renders an `N_` message
for the request. The catalogue is controller/translations/<lang>/LC_MESSAGES/messages.po, compiled to
.mo by `make` (see docs/development.md).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import Babel, gettext

from classcast.i18n import Message

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
_COOKIE = "classcast_lang"


def select_locale() -> str:
    """Return the request's language: ?lang=, then the cookie, then the browser's preference, then Russian."""
    chosen = request.args.get("lang") or request.cookies.get(_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT)


def translate(message: str | Message, **values: object) -> str:
    """Return `message` (a Russian source message marked with N_, or a Message) in the request's language."""
    if isinstance(message, Message):
        return gettext(message.text, **dict(message.values))
    return gettext(message, **values)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_domain="messages")
    app.after_request(_remember_choice)


def _remember_choice(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response
