"""Every error answered in Russian: JSON for the API, a page for people; never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_MESSAGES = {
    400: "Запрос не понят. Обновите страницу и попробуйте ещё раз.",
    401: "Нужно войти в систему.",
    403: "Недостаточно прав.",
    404: "Не найдено.",
    405: "Такое действие здесь недоступно.",
    413: "Файл слишком большой.",
    500: "Внутренняя ошибка. Мы уже записали её в журнал; попробуйте ещё раз.",
}


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
    message = _MESSAGES.get(code, _MESSAGES[400] if code < 500 else _MESSAGES[500])
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": code, "message": message}, code
    return render_template("error.html", code=code, message=message), code
