"""The content store: files kept once each, named by their SHA-256, and the schools' materials made of them.

An upload is streamed into a folder of the store while it is hashed, its type read from its first bytes
(never from its name), then checked: its size, the school's quota, a PDF made into page images, an
HTML5 bundle read through. Only then are its files moved into place and described in the database, so
a refused upload leaves nothing behind, and a crash in between leaves only an unreferenced file. The
heavy work runs on threads: never on the hub (the server's greenlets go on), never in the single writer.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

import gevent
from sqlite_utils import Database

from classcast.bundle import BundleError, BundleLimits, check_bundle
from classcast.i18n import N_, Message
from controller import pdf_pages
from controller.config import SETTINGS
from controller.store.content_types import ContentError, kind_of, sniff_mime
from controller.timeutil import now_iso

T = TypeVar("T")
MIB = 1024 * 1024
_HEAD = 4096  # bytes read for the type: enough for every signature below, an SVG's prologue too
_CHUNK = MIB


class Db(Protocol):
    read: Database

    def write(self, fn: Any, *args: Any) -> Any: ...


class ContentStore:
    """Files under `root`, two levels of folders by hash prefix, each written once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    @contextmanager
    def incoming(self) -> Iterator[Path]:
        """Yield a new folder inside the store (one file system: moves are renames), removed after."""
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".incoming-") as folder:
            yield Path(folder)

    def keep(self, path: Path, sha256: str) -> None:
        """Move the (synced) file at `path` into the store under its hash, unless it is there already."""
        target = self.path_for(sha256)
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)


@dataclass(frozen=True)
class _Received:
    path: Path
    sha256: str
    size: int
    head: bytes


@dataclass(frozen=True)
class _Described:
    mime: str
    kind: str
    detail: dict[str, Any] | None
    files: list[pdf_pages.PageImage] = field(default_factory=list)  # made here, to move into the store

    def pages(self) -> list[dict[str, Any]]:
        return (self.detail or {}).get("pages", [])


def add_material(
    db: Db,
    store: ContentStore,
    upload: BinaryIO,
    title: str,
    school_id: int | None,
    user_id: int | None,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the school's material of the uploaded file, stored and described; raise ContentError.

    The same bytes uploaded again by the school give back its material as it was; school_id None
    makes a shared material, which every school sees (samples) and no quota counts.
    """
    with store.incoming() as folder:
        received = _off_hub(_receive, upload, folder / "upload", settings["max_upload_bytes"])
        own = _own_material(db.read, received.sha256, school_id)
        if own is not None:
            return own
        record = get_content(db.read, received.sha256)
        if record is None:
            described = _describe(received, folder, settings)
        else:  # another school's upload: the checks and the pages were made then
            detail = json.loads(record["detail"]) if record["detail"] else None
            described = _Described(record["mime"], record["kind"], detail)
        _check_quota(db.read, school_id, received, described, settings["school_quota_bytes"])
        store.keep(received.path, received.sha256)
        for page in described.files:
            store.keep(page.path, page.sha256)
        material_id = db.write(_record, received, described, title.strip()[:200], school_id, user_id)
    return get_material(db.read, material_id, school_id)


def add_content(db: Db, store: ContentStore, data: bytes, title: str, school_id: int | None) -> dict:
    """Return the material of `data` (sha256, size, mime, title, kind …), with the default limits."""
    defaults = {setting.name: setting.default for setting in SETTINGS}
    return add_material(db, store, io.BytesIO(data), title, school_id, None, defaults)


def _receive(upload: BinaryIO, path: Path, max_bytes: int) -> _Received:
    """Return the upload written to `path` and hashed on the way, never whole in memory."""
    digest, size, head = hashlib.sha256(), 0, b""
    with path.open("xb") as out:
        while chunk := upload.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ContentError(
                    "too_large",
                    Message(
                        N_("Файл слишком большой: можно не больше %(limit)s МБ."), {"limit": max_bytes // MIB}
                    ),
                )
            head += chunk[: _HEAD - len(head)]
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size == 0:
        raise ContentError("empty", N_("Файл пуст."))
    return _Received(path, digest.hexdigest(), size, head)


def _describe(received: _Received, folder: Path, settings: Mapping[str, Any]) -> _Described:
    """Return what the received file is, checked: a PDF's page images made, a bundle read through."""
    mime = sniff_mime(received.head)
    kind = kind_of(mime)
    if kind == "pdf":
        pages = _pdf_pages(received.path, folder, settings)
        detail = {"pages": [{"sha256": p.sha256, "size": p.size, "mime": p.mime} for p in pages]}
        return _Described(mime, kind, detail, pages)
    if kind == "html5":
        limits = BundleLimits(
            max_bytes=settings["bundle_max_bytes"],
            max_files=settings["bundle_max_files"],
            max_ratio=settings["bundle_max_ratio"],
        )
        try:
            info = _off_hub(check_bundle, received.path, limits)
        except BundleError as exc:
            raise ContentError("bad_bundle", exc.message) from exc
        return _Described(mime, kind, {"entry": info.entry, "files": info.files, "unpacked": info.size})
    return _Described(mime, kind, None)


def _pdf_pages(path: Path, folder: Path, settings: Mapping[str, Any]) -> list[pdf_pages.PageImage]:
    limit = settings["pdf_max_pages"]
    try:
        return pdf_pages.render_pages(path, folder, limit, settings["pdf_page_px"])
    except pdf_pages.PdfError as exc:
        if exc.code == "too_many_pages":
            message = N_("В PDF-файле %(pages)s страниц, а можно не больше %(limit)s.")
            raise ContentError("bad_pdf", Message(message, {"pages": exc.pages, "limit": limit})) from exc
        raise ContentError(
            "bad_pdf", N_("PDF-файл повреждён или защищён паролем: сохраните его заново без пароля.")
        ) from exc


def _check_quota(
    db: Database, school_id: int | None, received: _Received, described: _Described, quota: int
) -> None:
    if school_id is None:
        return  # shared samples, put there by the operator
    held = _held(db, school_id)
    files = {received.sha256: received.size} | {p["sha256"]: p["size"] for p in described.pages()}
    needed = sum(size for sha256, size in files.items() if sha256 not in held)
    used = sum(held.values())
    if used + needed > quota:
        message = N_(
            "Места для материалов школы не хватает: занято %(used)s МБ из %(quota)s МБ, "
            "файлу нужно %(needed)s МБ."
        )
        values = {"used": _mb(used), "quota": _mb(quota), "needed": _mb(needed)}
        raise ContentError("quota_exceeded", Message(message, values))


def _mb(size: int) -> int:
    return math.ceil(size / MIB)


@dataclass(frozen=True)
class _Refusal:
    error: Exception


def _off_hub(fn: Callable[..., T], *args: Any) -> T:
    """Return `fn(*args)`, run on gevent's thread pool: the server's greenlets go on meanwhile."""
    outcome = gevent.get_hub().threadpool.apply(_refusal_returned, (fn, args))
    if isinstance(outcome, _Refusal):
        raise outcome.error
    return outcome


def _refusal_returned(fn: Callable[..., T], args: tuple[Any, ...]) -> T | _Refusal:
    # Returned, not raised: the pool would log a refused upload's traceback as if the server had failed.
    try:
        return fn(*args)
    except (ContentError, BundleError) as exc:
        return _Refusal(exc)


def _record(
    db: Database,
    received: _Received,
    described: _Described,
    title: str,
    school_id: int | None,
    user_id: int | None,
) -> int:
    """Return the id of the school's material of the received file, recorded with its content."""
    db["content"].insert(
        {
            "sha256": received.sha256,
            "size": received.size,
            "mime": described.mime,
            "title": title,
            "school_id": school_id,
            "created_at": now_iso(),
            "kind": described.kind,
            "detail": json.dumps(described.detail) if described.detail else None,
        },
        ignore=True,
    )
    parts = [{**page, "parent": received.sha256} for page in described.pages()]
    if parts:
        db["content_part"].insert_all(parts, ignore=True)
    db.execute(
        """INSERT OR IGNORE INTO material (school_id, content_sha256, title, created_by, created_at)
        VALUES (?, ?, ?, ?, ?)""",
        [school_id, received.sha256, title, user_id, now_iso()],
    )
    return _own_material_id(db, received.sha256, school_id)


def _own_material_id(db: Database, sha256: str, school_id: int | None) -> int | None:
    row = db.execute(
        "SELECT id FROM material WHERE coalesce(school_id, 0) = coalesce(?, 0) AND content_sha256 = ?",
        [school_id, sha256],
    ).fetchone()
    return row and row[0]


def _own_material(db: Database, sha256: str, school_id: int | None) -> dict[str, Any] | None:
    material_id = _own_material_id(db, sha256, school_id)
    return None if material_id is None else get_material(db, material_id, school_id)


_MATERIALS = """SELECT m.id, m.title, c.kind, c.mime, c.size, c.detail, m.content_sha256 AS sha256,
    m.created_at, m.school_id FROM material m JOIN content c ON c.sha256 = m.content_sha256"""
_VISIBLE = "(m.school_id IS NULL OR m.school_id = :school_id)"


def _material(row: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(row.pop("detail")) if row["detail"] else None
    pages = len(detail.get("pages", [])) if detail else 0
    return {**row, "pages": pages, "detail": detail}


def list_materials(db: Database, school_id: int | None) -> list[dict[str, Any]]:
    """Return the school's materials, newest first, then the shared ones (school_id NULL)."""
    # The library's items fetched for casting are shared materials too, but found through the library.
    sql = f"""{_MATERIALS} WHERE {_VISIBLE} AND NOT (m.school_id IS NULL
        AND m.content_sha256 IN (SELECT content_sha256 FROM library_media))
        ORDER BY m.school_id IS NULL, m.created_at DESC, m.id DESC"""
    return [_material(row) for row in db.query(sql, {"school_id": school_id})]


def get_material(db: Database, material_id: int, school_id: int | None) -> dict[str, Any] | None:
    """Return the material if it is the school's own or shared; any other is None, as if not there."""
    sql = f"{_MATERIALS} WHERE m.id = :id AND {_VISIBLE}"
    row = next(iter(db.query(sql, {"id": material_id, "school_id": school_id})), None)
    return row and _material(row)


def material_for_content(db: Database, sha256: str, school_id: int | None) -> dict[str, Any] | None:
    """Return the school's material of the content `sha256` (its own before a shared one), or None."""
    sql = f"{_MATERIALS} WHERE m.content_sha256 = :sha256 AND {_VISIBLE} ORDER BY m.school_id IS NULL LIMIT 1"
    row = next(iter(db.query(sql, {"sha256": sha256, "school_id": school_id})), None)
    return row and _material(row)


def _held(db: Database, school_id: int) -> dict[str, int]:
    """Return size by SHA-256 of each file the school's materials hold: their content, their pages."""
    rows = db.execute(
        """WITH held AS (SELECT DISTINCT content_sha256 AS sha256 FROM material WHERE school_id = ?)
        SELECT c.sha256, c.size FROM content c JOIN held USING (sha256)
        UNION SELECT json_extract(page.value, '$.sha256'), json_extract(page.value, '$.size')
        FROM content c JOIN held USING (sha256), json_each(c.detail, '$.pages') AS page""",
        [school_id],
    )
    return dict(rows.fetchall())


def school_usage(db: Database, school_id: int) -> int:
    """Return the bytes the school's materials take: each distinct file and page image counted once."""
    return sum(_held(db, school_id).values())


def item_of(material: dict[str, Any], sound: bool = True) -> dict[str, Any]:
    """Return the `show` item of a material (docs/protocol.md), titled as the material is."""
    kind, title = material["kind"], material["title"]
    if kind == "pdf":
        return {"kind": kind, "title": title, "pages": [dict(page) for page in material["detail"]["pages"]]}
    item = {"kind": kind, "sha256": material["sha256"], "size": material["size"], "title": title}
    if kind == "html5":
        return {**item, "entry": material["detail"]["entry"]}
    item["mime"] = material["mime"]
    if kind == "video":
        item["sound"] = sound
    return item


def get_content(db: Database, sha256: str) -> dict[str, Any] | None:
    return next(iter(db.query("SELECT * FROM content WHERE sha256 = ?", [sha256])), None)


def servable(db: Database, sha256: str) -> str | None:
    """Return the MIME type of the stored file `sha256` (content or a page image), or None."""
    row = db.execute(
        "SELECT mime FROM content WHERE sha256 = ? UNION ALL SELECT mime FROM content_part WHERE sha256 = ?",
        [sha256, sha256],
    ).fetchone()
    return row and row[0]
