"""A file served to the kiosk browser, whole or by a byte range (RFC 9110 §14), streamed from disk.

Chromium asks for a video by ranges, and seeks by them: without `206 Partial Content` it can neither
seek nor, for some files, start. One range per request; a request for several is served whole, as
the RFC allows. An HTML5 bundle's files carry a policy of their own (`bundle_headers`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]+")  # what may stand for the kiosk's own origin in a policy
_CHUNK = 64 * 1024
StartResponse = Callable[..., Any]


class Unsatisfiable(ValueError):
    """The range asked for lies past the end of the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the first and last byte a Range header asks for, or None for the whole file.

    Raises Unsatisfiable for a range that starts past the end (or a suffix of no bytes).
    """
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last `last` bytes
        if int(last) == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - int(last)), size - 1
    if int(first) >= size or (last != "" and int(last) < int(first)):
        raise Unsatisfiable(header)
    return int(first), size - 1 if last == "" else min(int(last), size - 1)


def ranged_file(
    environ: dict[str, Any],
    start_response: StartResponse,
    path: Path,
    mime: str,
    headers: list[tuple[str, str]],
) -> Iterator[bytes] | list[bytes]:
    """Return the WSGI body of `path`: 200 whole, 206 the range asked for, or 416."""
    size = path.stat().st_size
    common = [("Content-Type", mime), ("Accept-Ranges", "bytes"), *headers]
    try:
        wanted = byte_range(environ.get("HTTP_RANGE"), size)
    except Unsatisfiable:
        start_response("416 Range Not Satisfiable", [*common, ("Content-Range", f"bytes */{size}")])
        return [b""]
    if wanted is None:
        start_response("200 OK", [*common, ("Content-Length", str(size))])
        return _read(path, 0, size)
    first, last = wanted
    start_response(
        "206 Partial Content",
        [
            *common,
            ("Content-Length", str(last - first + 1)),
            ("Content-Range", f"bytes {first}-{last}/{size}"),
        ],
    )
    return _read(path, first, last - first + 1)


def _read(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(offset)
        while length > 0 and (chunk := f.read(min(_CHUNK, length))):
            length -= len(chunk)
            yield chunk


def bundle_headers(host: str, sha256: str) -> list[tuple[str, str]]:
    """Return the headers of a bundle's file: the bundle may load its own files and nothing else."""
    own = f"http://{host}/bundle/{sha256}/" if _HOST.fullmatch(host) else "'none'"
    policy = (
        f"default-src {own} data: blob: 'unsafe-inline' 'unsafe-eval'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )
    return [
        ("Content-Security-Policy", policy),
        # The frame's origin is opaque: without this its module scripts and fetches of its own files fail.
        ("Access-Control-Allow-Origin", "*"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]
