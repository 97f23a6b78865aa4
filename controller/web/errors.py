"""Every error answered in Russian: JSON for the API, a page for people; never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from classcast.i18n import N_, Message
from controller.i18n import translate

log = logging.getLogger(__name__)

_MESSAGES = {
    400: N_("Запрос не понят. Обновите страницу и попробуйте ещё раз."),
    401: N_("Нужно войти в систему."),
    403: N_("Недостаточно прав."),
    404: N_("Не найдено."),
    405: N_("Такое действие здесь недоступно."),
    413: N_("Файл слишком большой."),
    429: N_("Слишком много запросов. Подождите немного и попробуйте снова."),
    500: N_("Внутренняя ошибка. Мы уже записали её в журнал; попробуйте ещё раз."),
}


def invalid(fields: Mapping[str, str | Message]) -> tuple[dict[str, Any], int]:
    """Return the 400 answer for fields that failed their checks, each reason in the user's language."""
    reasons = {name: translate(reason) for name, reason in fields.items()}
    return {"error": "invalid", "message": _("Проверьте поля формы."), "fields": reasons}, 400


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _http_error(exc: HTTPException):
    code = exc.code or 500
    if code >= 500:
        log.error("%s %s: %s", request.method, request.path, exc)
    else:
        log.info("%s %s: %s %s", request.method, request.path, code, exc.description)
    return _answer(code)


def _unexpected(exc: Exception):
    log.exception("%s %s failed", request.method, request.path)
    return _answer(500)


def _answer(code: int):
    message = translate(_MESSAGES.get(code, _MESSAGES[400] if code < 500 else _MESSAGES[500]))
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": code, "message": message}, code
    return render_template("error.html", code=code, message=message), code
