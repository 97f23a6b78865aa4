"""The content cache: items fetched from the controller, checked against their SHA-256, kept on disk.

A download goes to a temporary file, is checked, fsynced and renamed into place, so a power cut
mid-download leaves no half file under the item's name, and a corrupted download is never shown.
An HTML5 bundle (a zip) is also unpacked once, checked again as the controller checked it, into
`bundles/<sha256>/`, from where the kiosk serves its files.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import mimetypes
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import gevent
import gevent.pool

from classcast.bundle import BundleError, BundleLimits, extract_bundle
from player.items import BUNDLE_MIME, stored_files

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 64 * 1024
BUNDLES = "bundles"
_FETCHES = 4  # files fetched at once for one item
# What a bundle's files are served as where Python's table (the system's mime.types) may differ.
_BUNDLE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}


class FetchError(Exception):
    """An item could not be cached; `code` is the error the player reports (docs/protocol.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ContentCache:
    def __init__(self, root: Path, controller_url: str, timeout: float, token: str | None = None) -> None:
        self.root = root
        self.controller_url = controller_url.rstrip("/")
        self.token = token  # set once the panel is enrolled; nothing is fetched before
        self.timeout = timeout
        root.mkdir(parents=True, exist_ok=True)

    def get(self, sha256: str) -> tuple[Path, str] | None:
        """Return the cached file of an item and its MIME type, or None when it is not cached."""
        if not _SHA256.fullmatch(sha256):
            return None
        path = self.root / sha256
        try:
            return path, (self.root / f"{sha256}.type").read_text().strip()
        except FileNotFoundError:
            return None

    def ensure(self, sha256: str, mime: str) -> Path:
        """Return the cached file of an item, fetching and checking it first if needed."""
        if not _SHA256.fullmatch(sha256):
            raise FetchError("bad_item", "sha256 must be 64 hex digits")
        found = self.get(sha256)
        if found is not None:
            return found[0]
        self._fetch(sha256)
        _write_atomic(self.root / f"{sha256}.type", mime.encode())
        return self.root / sha256

    def ensure_item(self, item: dict[str, Any]) -> None:
        """Return once every file a checked item needs is cached; raise FetchError otherwise.

        All of a PDF's pages are, so paging needs no controller; a bundle is unpacked too.
        """
        files = dict(stored_files(item))  # a PDF's blank pages are one file

        def fetch(file: tuple[str, str]) -> FetchError | None:
            try:
                self.ensure(*file)
            except FetchError as exc:
                return exc  # returned, not raised: a greenlet's exception would be logged as a crash
            return None

        # A few at a time: a PDF's pages are many small files, each a round trip.
        for failed in gevent.pool.Pool(_FETCHES).imap_unordered(fetch, files.items()):
            if failed is not None:
                raise failed
        if item["kind"] == "html5":
            self.ensure_bundle(item["sha256"], item["entry"])

    def ensure_bundle(self, sha256: str, entry: str, limits: BundleLimits | None = None) -> Path:
        """Return the folder the bundle is unpacked in, fetching and unpacking it first if needed.

        Raises FetchError: `bad_item` for a bundle that is unsafe or has no `entry` page.
        """
        folder = self.root / BUNDLES / sha256
        if not folder.is_dir():
            archive = self.ensure(sha256, BUNDLE_MIME)
            try:
                # In a thread: unpacking up to 100 MiB would stop every greenlet (the page, the link).
                gevent.get_hub().threadpool.apply(extract_bundle, (archive, folder, limits or BundleLimits()))
            except BundleError as exc:
                raise FetchError("bad_item", f"bundle refused ({exc.code}): {exc}") from exc
        if self.bundle_file(sha256, entry) is None:
            raise FetchError("bad_item", f"the bundle has no page {entry!r}")
        return folder

    def bundle_file(self, sha256: str, path: str) -> tuple[Path, str] | None:
        """Return a file of an unpacked bundle and its MIME type, or None when it is not one of its files."""
        parts = path.split("/")
        if not _SHA256.fullmatch(sha256) or any(part in ("", ".", "..") for part in parts):
            return None
        if "\\" in path or "\x00" in path:
            return None
        folder = self.root / BUNDLES / sha256
        try:
            found = folder.joinpath(*parts).resolve(strict=True)
            inside = found.is_relative_to(folder.resolve(strict=True)) and found.is_file()
        except (OSError, RuntimeError):  # not there, or a symlink loop
            return None
        if not inside:
            return None
        suffix = found.suffix.lower()
        return found, _BUNDLE_TYPES.get(suffix) or mimetypes.guess_type(found.name)[
            0
        ] or "application/octet-stream"

    def _fetch(self, sha256: str) -> None:
        url = f"{self.controller_url}/api/panel/v1/content/{sha256}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            digest = hashlib.sha256()
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(request, timeout=self.timeout) as response,
            ):
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise FetchError(
                    "checksum_mismatch", f"got {digest.hexdigest()[:12]}…, expected {sha256[:12]}…"
                )
            os.replace(tmp, self.root / sha256)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            # HTTPException: a download cut mid-chunk (IncompleteRead) or an answer that is not HTTP
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # a 401 or 404 still holds its connection open
            raise FetchError("fetch_failed", str(exc)) from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
