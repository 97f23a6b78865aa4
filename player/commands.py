"""The controller's commands to the player, by name: each takes the payload and returns the ack."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from classcast.protocol import EVENT_SHOW
from player.cache import ContentCache, FetchError
from player.kiosk import Kiosk

log = logging.getLogger(__name__)


@dataclass
class Context:
    kiosk: Kiosk
    cache: ContentCache
    show_timeout: float


def show(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return the ack of a `show`: the time the kiosk page showed the item, or why it did not."""
    cast_id, item = _parse_show(payload)
    if item is None:
        log.warning("show: malformed command %r", payload)
        return {"ok": False, "error": "bad_item", "message": "malformed show command"}
    if item["kind"] == "image":
        try:
            ctx.cache.ensure(item["sha256"], item["mime"])
        except FetchError as exc:
            log.warning("show %s: %s: %s", cast_id, exc.code, exc)
            return {"ok": False, "error": exc.code, "message": str(exc)[:200]}
    answer = ctx.kiosk.show(cast_id, item, ctx.show_timeout)
    log.info("show %s (%s): %s", cast_id, item["kind"], "shown" if answer.get("ok") else answer.get("error"))
    return answer


def _parse_show(payload: Any) -> tuple[str, dict[str, Any] | None]:
    if not isinstance(payload, dict) or not isinstance(payload.get("item"), dict):
        return "?", None
    cast_id, item = str(payload.get("cast_id", ""))[:40], payload["item"]
    title = item.get("title") if isinstance(item.get("title"), str) else ""
    if (
        item.get("kind") == "image"
        and isinstance(item.get("sha256"), str)
        and isinstance(item.get("mime"), str)
    ):
        if item["mime"].startswith("image/"):
            return cast_id, {"kind": "image", "sha256": item["sha256"], "mime": item["mime"], "title": title}
    if item.get("kind") == "page" and isinstance(item.get("url"), str):
        if urlsplit(item["url"]).scheme in ("http", "https"):
            return cast_id, {"kind": "page", "url": item["url"], "title": title}
    return cast_id, None


COMMANDS: dict[str, Callable[[Context, Any], dict[str, Any]]] = {EVENT_SHOW: show}
