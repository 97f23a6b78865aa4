"""Refusing requests whose length is ambiguous: Content-Length beside Transfer-Encoding (smuggling).

When two servers on the way (nginx, then the controller) disagree about where a request ends, the
rest of it is read as a second request nobody sent: request smuggling (RFC 9112 6.3; the classic
CL.TE and TE.CL). The controller refuses any request that carries both headers, or a Transfer-Encoding
other than a single "chunked", with 400, and closes the connection. gevent's server drops the
Content-Length of a chunked request before the WSGI environ is made, so it is checked twice: on the
raw headers by `StrictHandler` (the gevent server's handler), and in the environ by `refuse_ambiguous`
(for any other WSGI server, and a Transfer-Encoding gevent lets through).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from geventwebsocket.handler import WebSocketHandler

from classcast.i18n import N_

log = logging.getLogger(__name__)

_BODY = json.dumps(
    {
        "error": "ambiguous_length",
        # Before the app, so before the request's language is known: the users' language, Russian.
        "message": N_("Запрос отклонён: длина его тела указана неоднозначно."),
    },
    ensure_ascii=False,
).encode()


def ambiguous(content_length: list[str], transfer_encoding: list[str]) -> str | None:
    """Return why a request with these header values has no one length, or None if it has one."""
    if transfer_encoding and content_length:
        return "Content-Length beside Transfer-Encoding"
    if transfer_encoding and [value.strip().lower() for value in transfer_encoding] != ["chunked"]:
        return f"Transfer-Encoding {', '.join(transfer_encoding)[:40]!r}"
    if len(content_length) > 1:
        return "more than one Content-Length"
    return None


class StrictHandler(WebSocketHandler):
    """gevent's request handler, refusing an ambiguous request from its raw headers (400, closed)."""

    def MessageClass(self, *args: Any) -> Any:  # noqa: N802 - gevent's name for the headers factory
        headers = super().MessageClass(*args)
        why = ambiguous(headers.get_all("content-length") or [], headers.get_all("transfer-encoding") or [])
        if why is not None:
            # A ValueError from reading the request is gevent's "400 Bad Request, connection closed".
            raise ValueError(f"ambiguous request length: {why}")
        return headers


def refuse_ambiguous(app: Callable) -> Callable:
    """Return `app` behind a check of the environ: an ambiguous request gets 400 and a closed connection."""

    def guarded(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        length = [environ["CONTENT_LENGTH"]] if environ.get("CONTENT_LENGTH") else []
        encoding = [environ["HTTP_TRANSFER_ENCODING"]] if "HTTP_TRANSFER_ENCODING" in environ else []
        why = ambiguous(length, encoding)
        if why is None:
            return app(environ, start_response)
        log.warning("refused a request from %s: %s", environ.get("REMOTE_ADDR"), why)
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(_BODY))),
                ("Connection", "close"),
            ],
        )
        return [_BODY]

    return guarded
