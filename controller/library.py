"""The main system's library of verified content, through the controller: search, details, and media.

Every search result and item seen is kept (its description, never anything of the journal) in a
full-text index, so that teachers can still find what they used when the library is out of reach.
A library item cast to a room is fetched once into the content store; every panel of every school
then gets it from there, and the statistics count its minutes as library minutes (`library`).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from typing import Any

from sqlite_utils import Database

from classcast.i18n import N_
from controller.casting import CastError
from controller.store import content
from controller.upstream import UpstreamError

log = logging.getLogger(__name__)

SEARCH = "/api/v1/items"
ITEM = "/api/v1/items/{item}"
MEDIA = "/api/v1/items/{item}/media"
PAGE_SIZE = 20
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TEXT_LIMITS = {"title": 200, "subject": 100, "grades": 20, "kind": 20, "description": 2000, "updated_at": 40}
_WORD = re.compile(r"\w+", re.UNICODE)
# When the library does not answer, the local index does; these say so in the user's language.
LOCAL_NOTICE = N_("Библиотека сейчас недоступна: показаны материалы, найденные раньше.")


def search(svc: Any, user: dict[str, Any], query: str, page: int) -> dict[str, Any]:
    """Return a page of items matching `query`: from the library, else from the local index."""
    query = query.strip()[:200]
    try:
        answer = svc.main.get_json("library", SEARCH, {}, {"q": query, "page": str(page)}, user)
    except UpstreamError as exc:
        log.info("library search from the local index: %s", exc.code)
        return {
            "items": local_search(svc.db.read, query, page),
            "page": page,
            "source": "local",
            "message": LOCAL_NOTICE,
        }
    found = [item for item in map(checked_item, _list(answer, "items")) if item is not None]
    if found:
        svc.db.write(remember, found)
    total = answer.get("total") if isinstance(answer.get("total"), int) else len(found)
    return {"items": found, "total": total, "page": page, "source": "upstream"}


def details(svc: Any, user: dict[str, Any], item_id: str) -> dict[str, Any]:
    """Return the item's description, from the library, else as the local index last saw it."""
    if not _ID.fullmatch(item_id):
        raise CastError("no_such_item", N_("Материал библиотеки не найден."), 404)
    try:
        item = checked_item(svc.main.get_json("library", ITEM, {"item": item_id}, None, user))
    except UpstreamError as exc:
        item = known(svc.db.read, item_id)
        if item is None:
            raise CastError(exc.code, exc.message, exc.status) from None
        return {**item, "source": "local"}
    if item is None or item["id"] != item_id:
        raise CastError("bad_response", N_("Библиотека ответила непонятно. Попробуйте позже."), 502)
    svc.db.write(remember, [item])
    return {**item, "source": "upstream"}


def show_item(svc: Any, user: dict[str, Any], item_id: str) -> dict[str, Any]:
    """Return the `show` item of a library item, its media fetched into the content store if new."""
    stored = svc.db.read.execute(
        "SELECT content_sha256 FROM library_media WHERE item_id = ?", [item_id]
    ).fetchone()
    entry = known(svc.db.read, item_id) if stored else details(svc, user, item_id)
    material = content.material_for_content(svc.db.read, stored[0], None) if stored else None
    if material is None:
        material = _fetch(svc, user, entry)
    item = content.item_of(material)
    return {**item, "title": entry["title"] if entry else item["title"], "library": True}


def _fetch(svc: Any, user: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """Return the material made of the item's media, fetched from the library once."""
    started = time.monotonic()
    with tempfile.TemporaryFile(dir=svc.data_dir) as media:
        try:
            svc.main.fetch_to("library", MEDIA, {"item": entry["id"]}, media, user)
        except UpstreamError as exc:
            raise CastError(exc.code, exc.message, exc.status) from None
        media.seek(0)
        try:
            material = content.add_material(
                svc.db, svc.content, media, entry["title"], None, user["id"], svc.settings
            )
        except content.ContentError as exc:
            raise CastError(exc.code, exc.message, exc.status) from None
    svc.db.write(_keep_media, entry["id"], material["sha256"])
    log.info(
        "library item %s fetched in %.1f s (%s bytes)",
        entry["id"],
        time.monotonic() - started,
        material["size"],
    )
    return material


def checked_item(raw: Any) -> dict[str, Any] | None:
    """Return the library item with only its known fields, each a bounded string; None if unusable."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not _ID.fullmatch(raw["id"]):
        return None
    item: dict[str, Any] = {"id": raw["id"]}
    for name, limit in _TEXT_LIMITS.items():
        value = raw.get(name)
        item[name] = value[:limit] if isinstance(value, str) else ""
    media = raw.get("media") if isinstance(raw.get("media"), dict) else {}
    item["mime"] = media.get("mime")[:100] if isinstance(media.get("mime"), str) else None
    item["size"] = media.get("size") if isinstance(media.get("size"), int) else None
    return item if item["title"] else None


def remember(db: Database, items: list[dict[str, Any]]) -> None:
    now = time.time()
    db["library_item"].upsert_all([{**item, "seen_at": now} for item in items], pk="id")


def known(db: Database, item_id: str) -> dict[str, Any] | None:
    row = next(iter(db.query("SELECT * FROM library_item WHERE id = ?", [item_id])), None)
    return _public(row) if row else None


def local_search(db: Database, query: str, page: int) -> list[dict[str, Any]]:
    """Return a page of the items seen before that match every word of `query` (as word prefixes)."""
    words = _WORD.findall(query.lower())[:8]
    offset = max(page - 1, 0) * PAGE_SIZE
    if not words:
        rows = db.query(
            "SELECT * FROM library_item ORDER BY seen_at DESC LIMIT ? OFFSET ?", [PAGE_SIZE, offset]
        )
    else:
        match = " ".join(f'"{word}"*' for word in words)  # \w+ holds no quote: nothing to escape
        rows = db.query(
            """SELECT library_item.* FROM library_item_fts JOIN library_item
               ON library_item.rowid = library_item_fts.rowid
               WHERE library_item_fts MATCH ? ORDER BY rank LIMIT ? OFFSET ?""",
            [match, PAGE_SIZE, offset],
        )
    return [_public(row) for row in rows]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "seen_at"}


def _keep_media(db: Database, item_id: str, sha256: str) -> None:
    db.execute(
        """INSERT INTO library_media (item_id, content_sha256, fetched_at) VALUES (?, ?, ?)
           ON CONFLICT (item_id) DO UPDATE SET content_sha256 = excluded.content_sha256,
               fetched_at = excluded.fetched_at""",
        [item_id, sha256, time.time()],
    )


def _list(answer: Any, key: str) -> list[Any]:
    value = answer.get(key) if isinstance(answer, dict) else None
    return value if isinstance(value, list) else []
