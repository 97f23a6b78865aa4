"""The content cache: items fetched from the controller, checked against their SHA-256, kept on disk.

A download goes to a temporary file, is checked, fsynced and renamed into place, so a power cut
mid-download leaves no half file under the item's name, and a corrupted download is never shown.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 64 * 1024


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
