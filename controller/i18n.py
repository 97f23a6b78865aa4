"""The UI's language: Russian first, English available; every user message comes through the catalogue.

Messages are written in Russian in the code (the users' language) and marked with `_` (here and in
templates) or `N_` (in store modules, which do not import Flask); `translate` renders an `N_` message
for the request. The staff pages' scripts mark theirs with `_` too (static/admin/i18n.js); each page
carries the translations of those messages for its language (`script_catalogue`). The catalogue is
controller/translations/<lang>/LC_MESSAGES/messages.po, compiled to .mo by `make` (see
docs/development.md).
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.catalog import Message as Entry
from babel.messages.pofile import read_po
from flask import Flask, Response, request
from flask_babel import Babel, get_locale, get_translations, gettext

from classcast.i18n import Message

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
_COOKIE = "classcast_lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# Where the scripts live, as the catalogue's locations (`#: controller/static/...`) name them.
_SCRIPTS = "controller/static/"


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


def script_catalogue() -> dict[str, str]:
    """Return the request's language's translations of the scripts' messages (empty for Russian)."""
    return _script_catalogue(str(get_locale()))


@functools.lru_cache(maxsize=len(LANGUAGES))
def _script_catalogue(language: str) -> dict[str, str]:
    # `language` is the cache key: the request's translations are that language's. They come from the
    # compiled .mo, as the server's own messages do, so a page and its scripts never disagree.
    translations = get_translations()
    found = {message: translations.gettext(message) for message in _script_messages()}
    return {message: text for message, text in found.items() if text != message}


@functools.cache
def _script_messages() -> tuple[str, ...]:
    """Return the catalogue's messages that the scripts use: those with a location under static/."""
    messages: set[str] = set()
    for po_path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as po:
            catalog = read_po(po)
        messages.update(entry.id for entry in catalog if isinstance(entry.id, str) and _in_a_script(entry))
    return tuple(sorted(messages))


def _in_a_script(entry: Entry) -> bool:
    return any(path.startswith(_SCRIPTS) for path, _line in entry.locations)


def language_choice() -> dict[str, str]:
    """Return the language a page offers to switch to (the one it is not in) and the switch's label."""
    current = str(get_locale())
    other = next(code for code in LANGUAGES if code != current)
    label = gettext("Перейти на русский") if other == "ru" else gettext("Перейти на английский")
    return {"code": other, "label": label}


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_domain="messages")
    app.after_request(_remember_choice)
    app.context_processor(_page_language)


def _page_language() -> dict[str, object]:
    # Functions, not values: a page that does not show them (a JSON error) does not pay for them.
    return {
        "page_language": get_locale,
        "script_catalogue": script_catalogue,
        "language_choice": language_choice,
    }


def _remember_choice(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response
