"""The controller's one door to the main system (the journal and the library): httpx, nothing else.

Every upstream URL is a configured base plus an allow-listed path template whose `{name}`s are filled
with plain identifiers, so no caller, and no client of the generic proxy, can make the controller ask
for anything else. The credential (the service token, or the user's own single sign-on token) is added
last, after the client's headers were filtered: hop-by-hop headers, any header the client's
`Connection` names, cookies and the client's Authorization never go upstream. Redirects are not
followed; answers are read streamed up to a cap and within a deadline; a response whose length is
ambiguous (Content-Length beside Transfer-Encoding) is refused. Each call is audited as metadata only.
docs/proxy.md tells the whole story.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx
from flask import has_request_context, request, session

from classcast.settings import SettingsError
from controller import access
from controller.store import audit, sessions
from controller.upstream_checks import (
    CONTROL,
    UPSTREAMS,
    VALUE,
    UpstreamError,
    allow_list,
    base_url,
    check_head,
    checked_query,
    forwarded_headers,
    mime_of,
    printable,
)

__all__ = ["UPSTREAMS", "MainSystem", "UpstreamError", "teacher_id"]

log = logging.getLogger(__name__)
# httpx logs every request with its URL (a search's text is in it) at INFO: the audit log records
# each call once, as metadata; the log records each failure once, below.
logging.getLogger("httpx").setLevel(logging.WARNING)

# A media download may take this many times main_timeout in all (a JSON answer: main_timeout).
MEDIA_DEADLINE_FACTOR = 60
_CHUNK = 64 * 1024


def teacher_id(user: Mapping[str, Any]) -> str:
    """Return the teacher's id at the main system: their single sign-on subject, else their login."""
    subject = user.get("oidc_subject")
    return subject.split("|", 1)[1] if subject and "|" in subject else user["login"]


class MainSystem:
    """The journal and the library as the settings name them; `svc.main`, made in create_app."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        db: Any,
        transport: httpx.BaseTransport | None = None,
        user_token: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        self._db = db
        self._bases = {name: base_url(f"{name}_url", settings[f"{name}_url"]) for name in UPSTREAMS}
        self._allowed = allow_list(settings["main_allowed_paths"])
        self._credentials = settings["main_credentials"]
        if self._credentials not in ("service", "user"):
            raise SettingsError(f"main_credentials: expected service or user, got {self._credentials!r}")
        if self._credentials == "service" and any(self._bases.values()) and not settings["main_token"]:
            raise SettingsError("main_token: empty, but main_credentials is service and an upstream is set")
        self._token = settings["main_token"]
        self._user_token = user_token or self._session_token
        self._timeout = float(settings["main_timeout"])
        self.max_response_bytes = int(settings["main_max_response_bytes"])
        self.max_media_bytes = int(settings["main_max_media_bytes"])
        timeout = httpx.Timeout(self._timeout, connect=float(settings["main_connect_timeout"]))
        # No redirects, no proxies or certificates from the environment: the URL is exactly what is built.
        self._client = httpx.Client(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
        )

    def __repr__(self) -> str:  # never the token
        return f"MainSystem(journal={self._bases['journal']}, library={self._bases['library']})"

    def configured(self, upstream: str) -> bool:
        return self._bases.get(upstream) is not None

    def match(self, upstream: str, path: str) -> tuple[str, dict[str, str]]:
        """Return the allow-listed template `path` has the shape of, and its values; not_allowed if none."""
        if upstream not in UPSTREAMS:
            raise UpstreamError("not_allowed", "library", detail="no such upstream")
        segments = path.removeprefix("/").split("/")
        for template in self._allowed[upstream].values():
            params = template.match(segments, upstream)
            if params is not None:
                return template.text, params
        raise UpstreamError("not_allowed", upstream, detail="no allow-listed template has this shape")

    def get_json(
        self,
        upstream: str,
        template: str,
        params: Mapping[str, str],
        query: Mapping[str, str] | None = None,
        user: Mapping[str, Any] | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Any:
        """Return the main system's JSON answer to GET base+template (at most max_response_bytes)."""
        buffer = bytearray()
        with self._audited(upstream, template, params, user) as call:
            outgoing = self._request(upstream, template, params, query, user, headers, True)
            self._receive(call, upstream, outgoing, buffer.extend, self.max_response_bytes, self._timeout)
            try:
                return json.loads(bytes(buffer))
            except ValueError:
                raise UpstreamError("bad_response", upstream, call.status, "not JSON") from None

    def fetch_to(
        self,
        upstream: str,
        template: str,
        params: Mapping[str, str],
        out: BinaryIO,
        user: Mapping[str, Any] | None = None,
        max_bytes: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> tuple[str, int]:
        """Write the main system's bytes for GET base+template to `out`; return (mime, size).

        On an UpstreamError `out` may hold a part: the caller throws it away.
        """
        cap = self.max_media_bytes if max_bytes is None else max_bytes
        with self._audited(upstream, template, params, user) as call:
            outgoing = self._request(upstream, template, params, None, user, headers, False)
            self._receive(call, upstream, outgoing, out.write, cap, self._timeout * MEDIA_DEADLINE_FACTOR)
        return call.mime, call.size

    def refused(self, user: Mapping[str, Any] | None, upstream: str, path: str, error: UpstreamError) -> None:
        """Log and audit a request of the generic proxy refused before any call (no template fits it)."""
        who = user["id"] if user else None
        shown = printable(path, 100)
        log.warning("main system %s path %r refused for user %s: %s", upstream, shown, who, error)
        self._audit(user, upstream, None, {}, _outcome(error), path=printable(path, 200), error=error.code)

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _audited(
        self, upstream: str, template: str, params: Mapping[str, str], user: Mapping[str, Any] | None
    ) -> Iterator[_Call]:
        """Audit the call made inside: once, as metadata (the template, its ids, status, bytes, ms).

        An upstream that is not configured is no access at all: nothing is audited, and the log says
        so at INFO (a page asks for the timetable on every visit).
        """
        call = _Call(time.monotonic())
        try:
            yield call
        except UpstreamError as error:
            who = user["id"] if user else None
            level = logging.INFO if error.code == "not_configured" else logging.WARNING
            log.log(
                level, "main system %s %s for user %s: %s", upstream, printable(template, 100), who, error
            )
            if error.code == "not_configured":
                raise
            status = error.upstream_status or call.status
            detail = {"status": status, "bytes": call.size, "ms": call.ms(), "error": error.code}
            self._audit(user, upstream, template, params, _outcome(error), **detail)
            raise
        self._audit(user, upstream, template, params, "ok", status=call.status, bytes=call.size, ms=call.ms())

    def _request(
        self,
        upstream: str,
        template: str,
        params: Mapping[str, str],
        query: Mapping[str, str] | None,
        user: Mapping[str, Any] | None,
        headers: Iterable[tuple[str, str]],
        is_json: bool,
    ) -> httpx.Request:
        """Return the request to send: base + filled template, the query, few headers, the credential."""
        if upstream not in UPSTREAMS or template not in self._allowed[upstream]:
            raise UpstreamError("not_allowed", upstream, detail=f"template {printable(template, 100)!r}")
        base = self._bases[upstream]
        if base is None:
            raise UpstreamError("not_configured", upstream)
        url = httpx.URL(str(base) + self._allowed[upstream][template].fill(params, upstream))
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise UpstreamError("not_allowed", upstream, detail="the built URL left the base")  # defence
        sent = forwarded_headers(headers, upstream)
        sent["accept"] = "application/json" if is_json else "*/*"
        sent["accept-encoding"] = "identity"  # what is counted against the cap is what is kept
        sent["authorization"] = f"Bearer {self._credential(upstream, user)}"  # last, over anything
        return self._client.build_request("GET", url, params=checked_query(query, upstream), headers=sent)

    def _credential(self, upstream: str, user: Mapping[str, Any] | None) -> str:
        token = self._token if self._credentials == "service" else (user and self._user_token(user))
        if not token:
            raise UpstreamError("sso_required", upstream)
        if not token.isascii() or CONTROL.search(token):
            raise UpstreamError("bad_value", upstream, detail="the credential is not printable ASCII")
        return token

    def _session_token(self, user: Mapping[str, Any]) -> str | None:
        """Return the single sign-on access token of this request's session, if it is `user`'s own."""
        session_id = session.get("sid") if has_request_context() else None
        if not isinstance(session_id, str):
            return None
        return sessions.sso_token(self._db.read, session_id, user["id"])

    def _receive(
        self,
        call: _Call,
        upstream: str,
        outgoing: httpx.Request,
        sink: Callable[[bytes], Any],
        cap: int,
        seconds: float,
    ) -> None:
        """Send `outgoing` and pass its body to `sink`: a plain 200, at most `cap` bytes, within `seconds`."""
        deadline = call.started + seconds
        try:
            with contextlib.closing(self._client.send(outgoing, stream=True)) as response:
                call.status = response.status_code
                check_head(upstream, response, cap)
                call.mime = mime_of(response.headers.get("content-type", ""))
                for chunk in response.iter_bytes(_CHUNK):  # identity only: as they came
                    call.size += len(chunk)
                    if call.size > cap:
                        raise UpstreamError("too_large", upstream, detail=f"over {cap} bytes")
                    if time.monotonic() > deadline:
                        raise UpstreamError("timeout", upstream, detail="the whole answer took too long")
                    sink(chunk)
                # Leaving unread bytes behind closes the connection: it is never reused half-read.
        except httpx.TimeoutException as exc:
            raise UpstreamError("timeout", upstream, detail=type(exc).__name__) from None
        except httpx.RequestError as exc:
            code = "bad_response" if isinstance(exc, httpx.ProtocolError) else "down"
            raise UpstreamError(code, upstream, detail=f"{type(exc).__name__}: {printable(exc)}") from None

    def _audit(
        self,
        user: Mapping[str, Any] | None,
        upstream: str,
        template: str | None,
        params: Mapping[str, str],
        outcome: str,
        **detail: Any,
    ) -> None:
        ip = request.remote_addr if has_request_context() else None
        account = dict(user) if user else None
        place = access.home_of(self._db.read, account) if account else access.Place()
        kind = upstream if upstream in UPSTREAMS else None
        # Which template with which ids, the status, the size and the time: never a body, never a query.
        ids = {
            name: value for name, value in params.items() if isinstance(value, str) and VALUE.fullmatch(value)
        }
        found = {"upstream": kind, "template": template, "params": ids or None, **detail}
        row = {key: value for key, value in found.items() if value is not None}
        self._db.write(audit.record, audit.Actor.of(account, ip), "proxy", outcome, kind, None, place, row)


@dataclass
class _Call:
    """What one call to the main system came to, as it goes: for the audit log and the caller."""

    started: float
    status: int | None = None
    size: int = 0
    mime: str = "application/octet-stream"

    def ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def _outcome(error: UpstreamError) -> str:
    return "denied" if error.code in ("not_allowed", "bad_value") else "failed"
