"""What may go to the main system and what may come back: the allow-list, the values, the headers.

The rules `controller.upstream` (the one door) applies before a request leaves and before an answer's
body is read; each broken rule is an UpstreamError whose message (N_) is for the person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from classcast.i18n import N_
from classcast.settings import SettingsError

UPSTREAMS = ("journal", "library")
# What a template's {name} may be filled with: letters, digits, _ and -, and dots inside (logins such
# as ivanova.m), never two together nor first (no "." or ".." segment can be made of it).
VALUE = re.compile(r"(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_NAME = re.compile(r"\{([a-z_]{1,32})\}")
_LITERAL = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63}")  # a literal segment; never "." or ".."
_QUERY_KEY = re.compile(r"[A-Za-z0-9_]{1,32}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # CR, LF, NUL and the rest: refused in anything forwarded
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
_MAX_QUERY = 16  # parameters in one query
_MAX_QUERY_VALUE = 512  # characters of one query value
# RFC 9110 7.6.1, and what proxies have long treated so.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
     "te", "trailer", "transfer-encoding", "upgrade"}
)  # fmt: skip
# The only client headers that may go upstream (the main system may answer in the user's language).
_FORWARDED = frozenset({"accept-language"})

_STATUS = {
    "not_configured": 503,
    "not_allowed": 404,
    "bad_value": 400,
    "sso_required": 401,
    "down": 502,
    "timeout": 504,
    "too_large": 502,
    "redirect": 502,
    "bad_response": 502,
    "refused": 502,
}
_MESSAGES = {
    ("library", "not_configured"): N_("Библиотека не подключена. Обратитесь к оператору системы."),
    ("journal", "not_configured"): N_("Журнал не подключён. Обратитесь к оператору системы."),
    ("library", "not_allowed"): N_("Такой запрос к библиотеке не разрешён."),
    ("journal", "not_allowed"): N_("Такой запрос к журналу не разрешён."),
    ("library", "bad_value"): N_("Запрос к библиотеке содержит недопустимые символы."),
    ("journal", "bad_value"): N_("Запрос к журналу содержит недопустимые символы."),
    ("library", "sso_required"): N_("Чтобы открыть библиотеку, войдите через ЕСИА."),
    ("journal", "sso_required"): N_("Чтобы открыть журнал, войдите через ЕСИА."),
    ("library", "down"): N_("Библиотека недоступна. Попробуйте позже."),
    ("journal", "down"): N_("Журнал недоступен. Попробуйте позже."),
    ("library", "timeout"): N_("Библиотека не ответила вовремя. Попробуйте ещё раз."),
    ("journal", "timeout"): N_("Журнал не ответил вовремя. Попробуйте ещё раз."),
    ("library", "too_large"): N_("Ответ библиотеки слишком большой, он не принят."),
    ("journal", "too_large"): N_("Ответ журнала слишком большой, он не принят."),
    ("library", "refused_access"): N_("Библиотека отказала в доступе. Обратитесь к оператору системы."),
    ("journal", "refused_access"): N_("Журнал отказал в доступе. Обратитесь к оператору системы."),
    ("library", "missing"): N_("В библиотеке такого нет."),
    ("journal", "missing"): N_("В журнале такого нет."),
    ("library", "failed"): N_("Библиотека ответила с ошибкой. Попробуйте позже."),
    ("journal", "failed"): N_("Журнал ответил с ошибкой. Попробуйте позже."),
}


class UpstreamError(Exception):
    """A call to the main system that did not give an answer: `message` (N_) is for the person."""

    def __init__(
        self, code: str, upstream: str, upstream_status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(f"{upstream}: {code}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.upstream = upstream
        self.status = _STATUS[code]
        self.upstream_status = upstream_status  # the main system's own status, for `refused`
        self.detail = detail  # for the log only: never shown, never content
        self.message = (
            _MESSAGES.get((upstream, _message_key(code, upstream_status)))
            or _MESSAGES[(upstream if upstream in UPSTREAMS else "library", "failed")]
        )


def _message_key(code: str, upstream_status: int | None) -> str:
    if code == "refused":
        return {401: "refused_access", 403: "refused_access", 404: "missing"}.get(
            upstream_status or 0, "failed"
        )
    return "failed" if code in ("redirect", "bad_response") else code


@dataclass(frozen=True)
class Template:
    """An allow-listed path of an upstream: literal segments and `{name}` ones."""

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        if not text.startswith("/") or text.endswith("/") or "//" in text:
            raise ValueError(f"{text!r} must start with / and hold no empty segment")
        segments = tuple(text[1:].split("/"))
        for segment in segments:
            if not (_NAME.fullmatch(segment) or _LITERAL.fullmatch(segment)):
                raise ValueError(f"{text!r}: segment {segment!r} is neither a plain word nor a {{name}}")
        return cls(text, segments)

    def match(self, segments: list[str], upstream: str) -> dict[str, str] | None:
        """Return the values of the `{name}`s when `segments` has this shape; None when it has not."""
        if len(segments) != len(self.segments):
            return None
        params = {}
        for mine, theirs in zip(self.segments, segments, strict=True):
            name = _NAME.fullmatch(mine)
            if name is None:
                if mine != theirs:
                    return None
                continue
            params[name.group(1)] = theirs
        return {name: _checked_value(value, upstream) for name, value in params.items()}

    def fill(self, params: Mapping[str, str], upstream: str) -> str:
        """Return the path with each `{name}` replaced by its checked value (bad_value otherwise)."""
        parts = []
        for segment in self.segments:
            name = _NAME.fullmatch(segment)
            if name is None:
                parts.append(segment)
            elif name.group(1) not in params:
                raise UpstreamError("bad_value", upstream, detail=f"no value for {name.group(1)}")
            else:
                parts.append(_checked_value(params[name.group(1)], upstream))
        return "/" + "/".join(parts)


def _checked_value(value: Any, upstream: str) -> str:
    if not isinstance(value, str) or not VALUE.fullmatch(value):
        raise UpstreamError("bad_value", upstream, detail="a path value outside the allowed characters")
    return value


def allow_list(text: str) -> dict[str, dict[str, Template]]:
    """Return the templates of `main_allowed_paths` by upstream; SettingsError names a bad entry."""
    found: dict[str, dict[str, Template]] = {name: {} for name in UPSTREAMS}
    for entry in text.split():
        upstream, _, path = entry.partition(":")
        if upstream not in UPSTREAMS:
            raise SettingsError(f"main_allowed_paths: {entry!r} must start with journal: or library:")
        try:
            found[upstream][path] = Template.parse(path)
        except ValueError as exc:
            raise SettingsError(f"main_allowed_paths: {exc}") from None
    return found


def base_url(name: str, text: str) -> httpx.URL | None:
    """Return an upstream's base URL (None when empty); SettingsError when it is not a plain http(s) URL."""
    if not text.strip():
        return None
    try:
        url = httpx.URL(text.strip().rstrip("/"))
    except httpx.InvalidURL as exc:
        raise SettingsError(f"{name}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment or url.userinfo:
        raise SettingsError(f"{name}: expected http(s)://host[:port][/path], no query, no user, got {text!r}")
    return url


def forwarded_headers(incoming: Iterable[tuple[str, str]], upstream: str) -> dict[str, str]:
    """Return the client's headers that may go upstream: few, none hop-by-hop, none its Connection names.

    A value holding CR, LF or another control character is refused (bad_value), not cleaned.
    """
    pairs = list(incoming)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    kept = {}
    for name, value in pairs:
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower in named or lower not in _FORWARDED:
            continue
        if not value.isascii() or CONTROL.search(value):
            raise UpstreamError("bad_value", upstream, detail=f"header {lower}: not printable ASCII")
        kept[lower] = value
    return kept


def check_head(upstream: str, response: httpx.Response, cap: int) -> None:
    """Refuse a response that is not a plain 200 of a length the cap allows, before its body is read."""
    status = response.status_code
    if 300 <= status < 400:
        location = printable(response.headers.get("location", ""), 100)
        raise UpstreamError("redirect", upstream, status, f"to {location!r}, not followed")
    if status != 200:
        raise UpstreamError("refused", upstream, status, f"status {status}")
    headers = response.headers
    if "transfer-encoding" in headers and "content-length" in headers:
        # Two framings: whoever trusts the other one reads a different body (response smuggling).
        raise UpstreamError("bad_response", upstream, status, "Content-Length beside Transfer-Encoding")
    if len(headers.get_list("content-length")) > 1:
        raise UpstreamError("bad_response", upstream, status, "more than one Content-Length")
    if headers.get("content-encoding", "identity").lower() != "identity":
        raise UpstreamError("bad_response", upstream, status, "an encoding that was not asked for")
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise UpstreamError("too_large", upstream, status, f"Content-Length {length} over {cap}")


def checked_query(query: Mapping[str, str] | None, upstream: str) -> dict[str, str]:
    """Return the query to send: plain keys, values without control characters (httpx encodes them)."""
    query = dict(query or {})
    if len(query) > _MAX_QUERY:
        raise UpstreamError("bad_value", upstream, detail="too many query parameters")
    for key, value in query.items():
        if not isinstance(key, str) or not _QUERY_KEY.fullmatch(key):
            raise UpstreamError("bad_value", upstream, detail="a query key outside [A-Za-z0-9_]")
        if not isinstance(value, str) or len(value) > _MAX_QUERY_VALUE or CONTROL.search(value):
            raise UpstreamError("bad_value", upstream, detail=f"query {key}: a control character or too long")
    return query


def mime_of(content_type: str) -> str:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime if _MIME.fullmatch(mime) else "application/octet-stream"


def printable(text: Any, limit: int = 64) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", str(text))[:limit]
