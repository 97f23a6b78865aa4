"""The content store: files kept once each, named by their SHA-256, described in the database."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from sqlite_utils import Database

from classcast.i18n import N_
from controller.timeutil import now_iso


class Writer(Protocol):
    def write(self, fn: Any, *args: Any) -> Any: ...


# The kinds of file the store accepts in this release, by what their first bytes say (never by name).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class ContentError(ValueError):
    """Content the store refuses; `code` is stable, the message (marked N_) is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff_mime(data: bytes) -> str:
    """Return the MIME type the content's own bytes show, or raise ContentError."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:12].startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    raise ContentError(
        "unsupported_type", N_("Тип файла не поддерживается: нужен PNG, JPEG, GIF, WebP или SVG.")
    )


class ContentStore:
    """Files under `root`, two levels of folders by hash prefix, each written once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Return the SHA-256 of `data`, written to the store (atomically) unless already there."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha256)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        return sha256


def add_content(db: Writer, store: ContentStore, data: bytes, title: str, school_id: int | None) -> dict:
    """Return the content record of `data`, stored and described (once, however often it is added).

    The file is written before the record, outside the single writer, so a large upload never holds
    the database's write lock; a crash in between leaves only an unreferenced file.
    """
    mime = sniff_mime(data)
    sha256 = store.put(data)
    return db.write(_describe, sha256, len(data), mime, title, school_id)


def _describe(db: Database, sha256: str, size: int, mime: str, title: str, school_id: int | None) -> dict:
    row = {
        "sha256": sha256,
        "size": size,
        "mime": mime,
        "title": title,
        "school_id": school_id,
        "created_at": now_iso(),
    }
    db["content"].insert(row, ignore=True)
    return db["content"].get(sha256)


def get_content(db: Database, sha256: str) -> dict[str, Any] | None:
    return next(iter(db.query("SELECT * FROM content WHERE sha256 = ?", [sha256])), None)
