"""The desired state the player last received, kept on disk: a restarted offline panel follows it.

The controller sends the whole state (`state` event) every time the panel connects; the player keeps
the last one in `<data_dir>/state.json` and applies it at start, before the controller is reachable.
The commands between two states change it too: a `show` its cast, a `control` the cast's view (the
page the remote reached), an `alert` the alert; so a restarted panel comes back as it was.
The file is replaced through a temporary file, fsync and a rename, so a power cut leaves either the
old state or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE = "state.json"
EMPTY: dict[str, Any] = {"version": 0, "show": None, "schedule": None, "panel": {}, "alert": None}


class StateFile:
    """`last`: the state as it was received (None before the first one); `save` and `forget` change it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: dict[str, Any] | None = self._read()

    def _read(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("%s cannot be read, ignored: %s", self.path, exc)
            return None
        return state if isinstance(state, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_folder(self.path.parent)
        self.last = state

    def save_show(self, show: dict[str, Any]) -> None:
        """Keep `show` as the cast to show, the rest of the last state as it was (a `show` command)."""
        self.save({**EMPTY, **(self.last or {}), "show": show})

    def save_view(self, cast_id: str, view: dict[str, Any]) -> None:
        """Keep `view` as the kept cast's view, if `cast_id` is still the kept cast (a `control`)."""
        show = (self.last or {}).get("show")
        if isinstance(show, dict) and show.get("cast_id") == cast_id and show.get("view") != view:
            self.save({**EMPTY, **(self.last or {}), "show": {**show, "view": view}})

    def save_alert(self, alert: dict[str, Any] | None) -> None:
        """Keep `alert` as the one to show over everything, or none (an `alert` command)."""
        self.save({**EMPTY, **(self.last or {}), "alert": alert})

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
        self.last = None

    @property
    def panel(self) -> dict[str, Any]:
        """Return the panel's names from the last state ({"id", "name", "room", "school"}), or {}."""
        panel = (self.last or {}).get("panel")
        return panel if isinstance(panel, dict) else {}


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable: without this a power cut may bring back the old file."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
