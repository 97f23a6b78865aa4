"""The content cache: items fetched from the controller, checked against their SHA-256, kept on disk.

A download goes to a temporary file, is checked, fsynced and renamed into place, so a power cut
mid-download leaves no half file under the item's name, and a corrupted download is never shown.
An HTML5 bundle (a zip) is also unpacked once, checked again as the controller checked it, into
`bundles/<sha256>/`, from where the kiosk serves its files.

The cache keeps under a cap in bytes (files and unpacked bundles). Past it, the least recently used
items go first, never one the player says it still needs nor one being fetched. When an item was last
used (shown or fetched) is its file's mtime: set with one `utime`, kept across restarts, and no index
file to rewrite on an SD card (atime cannot serve: panels mount noatime).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import mimetypes
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import gevent.lock
import gevent.pool

from classcast.bundle import MIB, BundleError, BundleLimits, extract_bundle
from player.items import BUNDLE_MIME, stored_files

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 64 * 1024
BUNDLES = "bundles"
_FETCHES = 4  # files fetched at once for one item
DEFAULT_MAX_BYTES = 4096 * MIB
# A use moves an item in the order only once it is this much newer than the last one kept: a video
# served by ranges is asked for many times a minute, and each kept use is a metadata write.
_USE_RESOLUTION_S = 600.0
_TYPE = ".type"
_LEFTOVERS = (".incoming-", ".tmp")  # a download's temporary file; a type file's (see _write_atomic)
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
    """An item could not be cached; `code` is the error the player reports (docs/protocol.md).

    `lasting`: trying again will not help (the controller answered 4xx: no such file, or not for this
    panel; or the item itself is bad), as against a network that may come back.
    """

    def __init__(self, code: str, message: str, lasting: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.lasting = lasting or code == "bad_item"


@dataclass(frozen=True)
class CacheStatus:
    used_bytes: int  # files and unpacked bundles
    max_bytes: int
    over_cap: bool  # what is needed alone is over the cap: kept all the same
    items: int


@dataclass
class _Entry:
    mime: str
    size: int  # of the file
    used: float  # when last shown or fetched: the file's mtime
    bundle: int = 0  # bytes of its unpacked bundle, if any


class ContentCache:
    def __init__(
        self,
        root: Path,
        controller_url: str,
        timeout: float,
        token: str | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        needed: Callable[[], Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open the cache in `root`, clearing what a power cut left half done, and trim it to `max_bytes`.

        `needed` returns the sha256 of every file the player may show (the cast, the schedule's items):
        those are never evicted. None: the player has not said, so nothing is evicted.
        """
        if max_bytes < 0:
            raise ValueError(f"the cache's cap must be 0 bytes or more, not {max_bytes}")
        self.root = root
        self.controller_url = controller_url.rstrip("/")
        self.token = token  # set once the panel is enrolled; nothing is fetched before
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.needed = needed
        self.clock = clock
        root.mkdir(parents=True, exist_ok=True)
        self._entries: dict[str, _Entry] = {}
        self._bytes = 0
        self._pins: Counter[str] = Counter()  # files being fetched or unpacked: never evicted meanwhile
        self._checked: set[str] = set()  # files whose bytes this process checked (fetched or verified)
        self._over_cap_told = False
        # One greenlet checks and fetches a file at a time (the schedule's prefetch and its show may ask
        # at once): another asking meanwhile waits and finds it cached, or tries again. One small lock
        # per file asked for in this process: as many as the content a panel shows, no more.
        self._ensuring: dict[str, gevent.lock.Semaphore] = {}
        self._scan()
        self.trim()

    # --- what is cached ------------------------------------------------------------------------------

    def get(self, sha256: str) -> tuple[Path, str] | None:
        """Return the cached file of an item and its MIME type, or None when it is not cached."""
        entry = self._entries.get(sha256)
        if entry is None:
            return None
        self._mark_used(sha256)
        return self.root / sha256, entry.mime

    def status(self) -> CacheStatus:
        """Return how full the cache is, and whether what is needed alone is over its cap."""
        used = self._bytes
        return CacheStatus(used, self.max_bytes, used > self.max_bytes, len(self._entries))

    def verify(self, sha256: str) -> bool:
        """Return True when the cached file still has its SHA-256; a file that does not is removed.

        False too for a file not cached. Reads the whole file, in a thread: greenlets go on meanwhile.
        """
        if sha256 not in self._entries:
            return False
        try:
            digest = gevent.get_hub().threadpool.apply(_file_sha256, (self.root / sha256,))
        except OSError as exc:
            digest = f"unreadable ({exc})"
        if digest == sha256:
            self._checked.add(sha256)
            return True
        log.warning("content cache: %s… reads as %s…: removed, to be fetched again", sha256[:12], digest[:12])
        self._evict(sha256, "corrupted")
        return False

    # --- fetching ------------------------------------------------------------------------------------

    def ensure(self, sha256: str, mime: str, verify: bool = False) -> Path:
        """Return the cached file of an item, fetching and checking it first if needed.

        With `verify`, a file cached before this process started is read through once and, if it no
        longer has its SHA-256, fetched again.
        """
        if not _SHA256.fullmatch(sha256):
            raise FetchError("bad_item", "sha256 must be 64 hex digits")
        with self._ensuring.setdefault(sha256, gevent.lock.Semaphore()):
            return self._ensure(sha256, mime, verify)

    def _ensure(self, sha256: str, mime: str, verify: bool) -> Path:
        if verify and sha256 not in self._checked:
            self.verify(sha256)
        found = self.get(sha256)
        if found is not None:
            return found[0]
        with self._pinned([sha256]):
            self._fetch(sha256)
            try:
                _write_atomic(self.root / f"{sha256}{_TYPE}", mime.encode())
                self._add(sha256, mime)
            except OSError as exc:  # the card is full or read-only: without its type it is not cached
                raise FetchError("fetch_failed", f"cannot keep {sha256[:12]}…: {exc}") from exc
            self.trim()
        return self.root / sha256

    def ensure_item(self, item: dict[str, Any], verify: bool = False) -> None:
        """Return once every file a checked item needs is cached; raise FetchError otherwise.

        All of a PDF's pages are, so paging needs no controller; a bundle is unpacked too. `verify`:
        as for `ensure`, for each file.
        """
        files = dict(stored_files(item))  # a PDF's blank pages are one file

        def fetch(file: tuple[str, str]) -> FetchError | None:
            try:
                self.ensure(*file, verify=verify)
            except FetchError as exc:
                return exc  # returned, not raised: a greenlet's exception would be logged as a crash
            return None

        # Pinned: fetching its last page must not evict its first.
        with self._pinned(files):
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
        with self._pinned([sha256]):
            archive = self.ensure(sha256, BUNDLE_MIME)
            if not folder.is_dir():
                self._unpack(sha256, archive, folder, limits or BundleLimits())
        if self.bundle_file(sha256, entry) is None:
            raise FetchError("bad_item", f"the bundle has no page {entry!r}")
        return folder

    def _unpack(self, sha256: str, archive: Path, folder: Path, limits: BundleLimits) -> None:
        try:
            # In a thread: unpacking up to 100 MiB would stop every greenlet (the page, the link).
            info = gevent.get_hub().threadpool.apply(extract_bundle, (archive, folder, limits))
        except BundleError as exc:
            raise FetchError("bad_item", f"bundle refused ({exc.code}): {exc}") from exc
        entry = self._entries.get(sha256)
        if entry is not None:  # set, not added: two greenlets may have unpacked it at once
            self._bytes += info.size - entry.bundle
            entry.bundle = info.size
        self.trim()

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
        self._mark_used(sha256)
        suffix = found.suffix.lower()
        return found, _BUNDLE_TYPES.get(suffix) or mimetypes.guess_type(found.name)[
            0
        ] or "application/octet-stream"

    def _fetch(self, sha256: str) -> None:
        url = f"{self.controller_url}/api/panel/v1/content/{sha256}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=_LEFTOVERS[0])
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
            lasting = isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # a 401 or 404 still holds its connection open
            raise FetchError("fetch_failed", str(exc), lasting) from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # --- the cap -------------------------------------------------------------------------------------

    def trim(self) -> CacheStatus:
        """Return the cache's status, having evicted the least recently used items until under the cap.

        What `needed` names and what is being fetched stay, even over the cap (a warning says so once).
        """
        if self._bytes > self.max_bytes and self.needed is not None:
            keep = set(self.needed()) | set(self._pins)
            for sha256 in sorted(self._entries, key=lambda sha256: self._entries[sha256].used):
                if self._bytes <= self.max_bytes:
                    break
                if sha256 not in keep:
                    self._evict(sha256, "least recently used")
        status = self.status()
        if status.over_cap and not self._over_cap_told:
            log.warning(
                "content cache: %d MiB, over its cap of %d MiB: all of it is needed, so it stays",
                status.used_bytes // MIB,
                status.max_bytes // MIB,
            )
        self._over_cap_told = status.over_cap
        return status

    def _evict(self, sha256: str, why: str) -> None:
        entry = self._entries.pop(sha256, None)
        if entry is None:  # another greenlet got there first
            return
        self._bytes -= entry.size + entry.bundle
        self._checked.discard(sha256)
        try:
            # The type file first: without it the item is not cached, whatever a power cut leaves.
            (self.root / f"{sha256}{_TYPE}").unlink(missing_ok=True)
            _remove_tree(self.root / BUNDLES / sha256)
            (self.root / sha256).unlink(missing_ok=True)
        except OSError as exc:
            log.error("content cache: cannot remove %s…: %s", sha256[:12], exc)
            return
        log.info(
            "content cache: %s… removed (%s, %d KiB)", sha256[:12], why, (entry.size + entry.bundle) // 1024
        )

    def _add(self, sha256: str, mime: str) -> None:
        """Index a file just fetched: used now."""
        now = self.clock()
        path = self.root / sha256
        os.utime(path, (now, now))
        old = self._entries.get(sha256)  # fetched again (verified corrupt, or twice at once)
        self._bytes -= old.size if old is not None else 0
        self._entries[sha256] = _Entry(mime, path.stat().st_size, now, old.bundle if old is not None else 0)
        self._bytes += self._entries[sha256].size
        self._checked.add(sha256)

    def _mark_used(self, sha256: str) -> None:
        entry = self._entries.get(sha256)
        now = self.clock()
        # abs(): a panel has no clock of its own, and its time may jump back when it syncs.
        if entry is None or abs(now - entry.used) < _USE_RESOLUTION_S:
            return
        entry.used = now
        try:
            os.utime(self.root / sha256, (now, now))
        except OSError as exc:  # evicted meanwhile, or the card is read-only: the order is only memory
            log.warning("content cache: cannot mark %s… used: %s", sha256[:12], exc)

    @contextmanager
    def _pinned(self, files: Iterable[str]) -> Iterator[None]:
        files = list(files)
        self._pins.update(files)
        try:
            yield
        finally:
            self._pins.subtract(files)
            for sha256 in files:
                if self._pins[sha256] <= 0:
                    del self._pins[sha256]

    # --- at start ------------------------------------------------------------------------------------

    def _scan(self) -> None:
        """Index what is cached; remove what a power cut or a crash left half done."""
        for path in sorted(self.root.iterdir()):
            name = path.name
            if _SHA256.fullmatch(name) and self._index(name):
                continue
            if name == BUNDLES or (name.endswith(_TYPE) and (self.root / name.removesuffix(_TYPE)).exists()):
                continue
            if name.startswith(_LEFTOVERS[0]) or name.endswith(_LEFTOVERS[1]) or _is_item(name):
                _discard(path)
        self._scan_bundles()
        log.info(
            "content cache: %d items, %d MiB (cap %d MiB)",
            len(self._entries),
            self._bytes // MIB,
            self.max_bytes // MIB,
        )

    def _index(self, sha256: str) -> bool:
        """Return True once a cached file (one with its type) is indexed; False when it is a leftover."""
        path = self.root / sha256
        try:
            mime = (self.root / f"{sha256}{_TYPE}").read_text().strip()
            stat = path.stat()
        except (OSError, UnicodeDecodeError):
            return False
        self._entries[sha256] = _Entry(mime, stat.st_size, stat.st_mtime)
        self._bytes += stat.st_size
        return True

    def _scan_bundles(self) -> None:
        folder = self.root / BUNDLES
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            entry = self._entries.get(path.name)
            if entry is not None and path.is_dir():
                entry.bundle = _tree_size(path)
                self._bytes += entry.bundle
            else:  # a bundle whose zip is gone, or one half unpacked (.<sha256>-…)
                _discard(path)


def files_of(items: Iterable[dict[str, Any] | None]) -> set[str]:
    """Return the sha256 of every file the (checked) items need cached; None stands for no item."""
    return {sha256 for item in items if item is not None for sha256, _ in stored_files(item)}


def _is_item(name: str) -> bool:
    """Return True for a cached file or a type file (the other half of which was not found)."""
    return _SHA256.fullmatch(name.removesuffix(_TYPE)) is not None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _remove_tree(folder: Path) -> None:
    # In a thread: a bundle is up to 2000 files, and the SD card is slow to forget them.
    gevent.get_hub().threadpool.apply(shutil.rmtree, (folder,), {"ignore_errors": True})


def _discard(path: Path) -> None:
    """Remove what a power cut or a crash left half done (logged: it says the panel lost power)."""
    log.info("content cache: removing %s, left half done", path)
    try:
        if path.is_dir():
            _remove_tree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.error("content cache: cannot remove %s: %s", path, exc)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + _LEFTOVERS[1])
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
