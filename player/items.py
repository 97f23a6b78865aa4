"""What the controller may ask a panel to show, checked: items, the remote's view, alerts.

Each parser returns the value normalised (only the known fields, of the right types and lengths) or
None when it is malformed; the commands answer None with `bad_item`, `bad_control` or `bad_alert`.
Nothing here raises on what a payload holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from classcast.protocol import ALERT_LEVELS, DEFAULT_VIEW, MAX_TEXT_CHARS

IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
VIDEO_MIMES = ("video/mp4", "video/webm")
PAGE_MIMES = ("image/png", "image/jpeg", "image/webp")  # a PDF's page images, made by the controller
BUNDLE_MIME = "application/zip"
MAX_TITLE_CHARS = 200
MAX_PAGES = 2000  # of a PDF
MAX_PAGE = 100_000  # of a view: any page past a PDF's last shows its last
MAX_URL_CHARS = 2048
MAX_ID_CHARS = 64  # of an alert
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ENTRY = re.compile(r"[A-Za-z0-9._~!$&'()+,;=@%-]+(/[A-Za-z0-9._~!$&'()+,;=@%-]+)*")


def parse_item(item: Any) -> dict[str, Any] | None:
    """Return the item with only its kind's fields, checked, or None when it is malformed."""
    if not isinstance(item, dict):
        return None
    kind = item.get("kind")
    parse = _KINDS.get(kind) if isinstance(kind, str) else None  # a list or a dict is no key
    parsed = parse(item) if parse is not None else None
    if parsed is None:
        return None
    if isinstance(item.get("library"), bool):
        parsed["library"] = item["library"]
    return {"kind": kind, **parsed, "title": _title(item.get("title"))}


def _image(item: dict[str, Any]) -> dict[str, Any] | None:
    return _stored(item, IMAGE_MIMES)


def _video(item: dict[str, Any]) -> dict[str, Any] | None:
    stored = _stored(item, VIDEO_MIMES)
    sound = item.get("sound", False)
    if stored is None or not isinstance(sound, bool):
        return None
    return {**stored, "sound": sound}


def _pdf(item: dict[str, Any]) -> dict[str, Any] | None:
    pages = item.get("pages")
    if not isinstance(pages, list) or not 1 <= len(pages) <= MAX_PAGES:
        return None
    checked = [_stored(page, PAGE_MIMES) if isinstance(page, dict) else None for page in pages]
    if any(page is None for page in checked):
        return None
    return {"pages": checked}


def _html5(item: dict[str, Any]) -> dict[str, Any] | None:
    stored = _stored({**item, "mime": BUNDLE_MIME}, (BUNDLE_MIME,))  # a zip, whatever it is called
    entry = item.get("entry")
    if stored is None or not isinstance(entry, str) or len(entry) > 255 or not _ENTRY.fullmatch(entry):
        return None
    if any(part in (".", "..") for part in entry.split("/")):
        return None
    return {**stored, "entry": entry}


def _page(item: dict[str, Any]) -> dict[str, Any] | None:
    url = item.get("url")
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        return None
    try:
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname
    except ValueError:  # a malformed IPv6 host or port
        return None
    return {"url": url} if scheme in ("http", "https") and host else None


def _text(item: dict[str, Any]) -> dict[str, Any] | None:
    text = item.get("text")
    return {"text": text} if isinstance(text, str) and len(text) <= MAX_TEXT_CHARS else None


_KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "image": _image,
    "video": _video,
    "pdf": _pdf,
    "html5": _html5,
    "page": _page,
    "text": _text,
}


def _stored(item: dict[str, Any], mimes: tuple[str, ...]) -> dict[str, Any] | None:
    """Return {"sha256", "mime"[, "size"]} of a file of the content store, or None when malformed."""
    sha256, mime, size = item.get("sha256"), item.get("mime"), item.get("size")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256) or mime not in mimes:
        return None
    if size is None:  # optional: the checksum is what proves the file
        return {"sha256": sha256, "mime": mime}
    if not _count(size):
        return None
    return {"sha256": sha256, "mime": mime, "size": size}


def _title(value: Any) -> str:
    """Return the title cut to its length; a title that is not a string is no title (not an error)."""
    return value[:MAX_TITLE_CHARS] if isinstance(value, str) else ""


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def stored_files(item: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (sha256, mime) of every file the item needs in the cache before it is shown."""
    if item["kind"] == "pdf":
        return [(page["sha256"], page["mime"]) for page in item["pages"]]
    if item["kind"] in ("image", "video", "html5"):
        return [(item["sha256"], item["mime"])]
    return []


# --- the view and alerts ----------------------------------------------------------------------------


def parse_view(view: Any, item: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Return the whole view (a part left out takes its default), or None when a part is malformed.

    A page past a PDF's last is its last: the ack tells the controller where the panel stands.
    """
    if view is None:
        view = {}
    if not isinstance(view, dict):
        return None
    parsed = {**DEFAULT_VIEW, **{key: view[key] for key in DEFAULT_VIEW if key in view}}
    if not _count(parsed["page"]) or parsed["page"] > MAX_PAGE:
        return None
    if not all(isinstance(parsed[key], bool) for key in ("playing", "blank", "frozen")):
        return None
    if item is not None and item["kind"] == "pdf":
        parsed["page"] = min(parsed["page"], len(item["pages"]) - 1)
    return parsed


def parse_alert(alert: Any) -> dict[str, Any] | None:
    """Return the alert ({"id", "title", "text", "level"}) checked, or None when it is malformed."""
    if not isinstance(alert, dict):
        return None
    alert_id, title, text = alert.get("id"), alert.get("title", ""), alert.get("text")
    if not isinstance(alert_id, str) or not 1 <= len(alert_id) <= MAX_ID_CHARS:
        return None
    if not isinstance(title, str) or len(title) > MAX_TITLE_CHARS:
        return None
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS or alert.get("level") not in ALERT_LEVELS:
        return None
    return {"id": alert_id, "title": title, "text": text, "level": alert["level"]}
