"""The controller's commands to the player, by name: each takes the payload and returns the ack."""

from __future__ import annotations

import base64
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent

from classcast.protocol import (
    EVENT_ALERT,
    EVENT_CONTROL,
    EVENT_IDENTIFY,
    EVENT_REBOOT,
    EVENT_RESTART_PLAYER,
    EVENT_SCREENSHOT,
    EVENT_SHOW,
    EVENT_STATE,
    IDENTIFY_SECONDS,
    MAX_SCREENSHOT_BYTES,
)
from player.cache import ContentCache, FetchError
from player.desired import StateFile
from player.devtools import DevTools, DevToolsError
from player.items import parse_alert, parse_item, parse_view
from player.kiosk import Kiosk
from player.schedule import Follower

log = logging.getLogger(__name__)

ACK_GRACE_S = 0.5  # the ack of a restart or a reboot leaves before the process does


@dataclass
class Context:
    kiosk: Kiosk
    cache: ContentCache
    show_timeout: float
    state: StateFile | None = None  # the desired state kept on disk; None keeps none
    devtools: DevTools | None = None  # the kiosk browser, for screenshots; None: there is none
    reboot_command: str = "systemctl reboot"
    restart: Callable[[], None] | None = None  # replaces the player with a fresh process
    follower: Follower | None = None  # the room's schedule, between casts; None follows none


def show(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return the ack of a `show`: the time the kiosk page showed the item, or why it did not."""
    cast = _parse_show(payload)
    if cast is None:
        log.warning("show: malformed command %r", payload)
        return {"ok": False, "error": "bad_item", "message": "malformed show command"}
    if ctx.state is not None:
        # The controller made this cast the panel's desired one: after a restart offline, it stays.
        ctx.state.save_show(cast)
    if ctx.follower is not None:
        ctx.follower.casting(True)
    return _show_item(ctx, cast)


def _show_item(ctx: Context, cast: dict[str, Any]) -> dict[str, Any]:
    cast_id, item = cast["cast_id"], cast["item"]
    try:
        ctx.cache.ensure_item(item)
    except FetchError as exc:
        log.warning("show %s: %s: %s", cast_id, exc.code, exc)
        return {"ok": False, "error": exc.code, "message": str(exc)[:200]}
    answer = ctx.kiosk.show(cast_id, item, ctx.show_timeout, cast["view"])
    log.info("show %s (%s): %s", cast_id, item["kind"], "shown" if answer.get("ok") else answer.get("error"))
    return answer


def _parse_show(payload: Any) -> dict[str, Any] | None:
    """Return the cast ({"cast_id", "item", "view"}) of a `show`, checked, or None when malformed."""
    if not isinstance(payload, dict):
        return None
    item = parse_item(payload.get("item"))
    view = parse_view(payload.get("view"), item) if item is not None else None
    cast_id = _cast_id(payload.get("cast_id", ""))
    if item is None or view is None or cast_id is None:
        return None
    return {"cast_id": cast_id, "item": item, "view": view}


def _cast_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:40]


# --- the remote and alerts -------------------------------------------------------------------------


def control(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return the ack of a `control`: the view the page applied to the cast on screen, or why not."""
    parsed = _parse_control(payload, ctx.kiosk.current)
    if parsed is None:
        log.warning("control: malformed %r", payload)
        return {"ok": False, "error": "bad_control", "message": "malformed control command"}
    cast_id, view = parsed
    answer = ctx.kiosk.control(cast_id, view, ctx.show_timeout)
    log.info("control %s %s: %s", cast_id, view, "applied" if answer["ok"] else answer["error"])
    if ctx.state is not None and answer.get("error") != "not_shown":
        # Once the page has it: the fsync costs the remote nothing; a restart then shows this page.
        gevent.spawn(ctx.state.save_view, cast_id, view)
    return {"ok": True, "view": view, "shown_at": answer["shown_at"]} if answer["ok"] else answer


def _parse_control(payload: Any, current: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """Return the cast and the whole view a `control` names, or None when it is malformed."""
    if not isinstance(payload, dict) or not isinstance(payload.get("view"), dict):
        return None
    cast_id = _cast_id(payload.get("cast_id"))
    # The item on screen, when it is that cast: a PDF's page is kept to its pages.
    item = current["item"] if current is not None and current["cast_id"] == cast_id else None
    view = parse_view(payload["view"], item)
    return None if cast_id is None or view is None else (cast_id, view)


def alert(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return the ack of an `alert`: when the card went up (or, for null, came down), or why not."""
    wellformed = isinstance(payload, dict) and "alert" in payload
    parsed = parse_alert(payload["alert"]) if wellformed and payload["alert"] is not None else None
    if not wellformed or (payload["alert"] is not None and parsed is None):
        log.warning("alert: malformed %r", payload)
        return {"ok": False, "error": "bad_alert", "message": "malformed alert command"}
    if ctx.state is not None:
        ctx.state.save_alert(parsed)  # first: a panel restarted now comes back with the alert up
    answer = ctx.kiosk.show_alert(parsed, ctx.show_timeout)
    if ctx.follower is not None:
        ctx.follower.wake()  # an alert wakes a screen the schedule put off
    log.info("alert %s: %s", parsed and parsed["id"], "shown" if answer["ok"] else answer["error"])
    return {"ok": True, "shown_at": answer["shown_at"]} if answer["ok"] else answer


# --- the desired state -----------------------------------------------------------------------------


def state(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return the ack of a `state`: whether the panel now follows this version of its desired state."""
    desired = parse_state(payload)
    if desired is None:
        log.warning("state: malformed %r", payload)
        version = payload.get("version") if isinstance(payload, dict) else None
        return {"ok": False, "error": "bad_state", "version": version}
    if ctx.state is not None:
        ctx.state.save(desired)  # before applying: a restart half way still ends on this state
    answer = apply_state(ctx, desired)
    log.info("state %d: %s", desired["version"], "applied" if answer["ok"] else answer.get("error"))
    return {**answer, "version": desired["version"]}


def parse_state(payload: Any) -> dict[str, Any] | None:
    """Return the state with its parts checked (version, show, schedule, panel, alert), or None."""
    if not isinstance(payload, dict):
        return None
    version, show, panel = payload.get("version"), payload.get("show"), payload.get("panel")
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    if show is not None:
        show = _parse_show(show)
        if show is None:
            return None
    alert = payload.get("alert")
    if alert is not None:
        alert = parse_alert(alert)
        if alert is None:
            return None
    schedule = payload.get("schedule") if isinstance(payload.get("schedule"), dict) else None
    panel = panel if isinstance(panel, dict) else {}
    names = {key: panel.get(key) for key in ("id", "name", "room", "school")}
    return {"version": version, "show": show, "schedule": schedule, "panel": names, "alert": alert}


def apply_state(ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
    """Return {"ok": True} once the screen shows what `desired` says, or why it does not."""
    # The alert first: it is what must be seen at once, and it goes up in a paint.
    answers = [_apply_alert(ctx, desired["alert"]), _apply_show(ctx, desired["show"])]
    if ctx.follower is not None:
        # A schedule the player cannot read is logged and the last good one stays: the rest of the
        # state is applied all the same (the controller has checked the schedule before sending it).
        ctx.follower.set(desired["schedule"])
    return next((answer for answer in answers if not answer.get("ok")), {"ok": True})


def _apply_alert(ctx: Context, alert: dict[str, Any] | None) -> dict[str, Any]:
    if alert == ctx.kiosk.alert:
        return {"ok": True}
    answer = ctx.kiosk.show_alert(alert, ctx.show_timeout)
    if ctx.follower is not None:
        ctx.follower.wake()
    return answer


def _apply_show(ctx: Context, show: dict[str, Any] | None) -> dict[str, Any]:
    if ctx.follower is not None:
        # No cast: the schedule's item replaces the one that ended, without the idle look between.
        ctx.follower.casting(show is not None)
    if show is None:
        if ctx.follower is None and ctx.kiosk.current is not None:
            ctx.kiosk.clear()
        return {"ok": True}
    if ctx.kiosk.shown == show["cast_id"]:
        if (ctx.kiosk.current or {}).get("view") == show["view"]:
            return {"ok": True}
        answer = ctx.kiosk.control(show["cast_id"], show["view"], ctx.show_timeout)
    else:
        answer = _show_item(ctx, show)
    return {"ok": True} if answer.get("ok") else answer


# --- remote actions --------------------------------------------------------------------------------


def identify(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return {"ok": True} once the page shows the panel's name and room over the screen, or why not."""
    payload = payload if isinstance(payload, dict) else {}
    known = ctx.state.panel if ctx.state is not None else {}
    card = {key: _text(payload.get(key)) or _text(known.get(key)) for key in ("name", "room", "school")}
    seconds = payload.get("seconds", IDENTIFY_SECONDS)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        seconds = IDENTIFY_SECONDS
    card["seconds"] = min(max(seconds, 1), 60)
    answer = ctx.kiosk.identify(card, ctx.show_timeout)
    log.info("identify (%s s): %s", card["seconds"], "shown" if answer["ok"] else answer["error"])
    return {"ok": True} if answer["ok"] else answer


def _text(value: Any) -> str:
    return value[:200] if isinstance(value, str) else ""


def screenshot(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return what the screen shows as a base64 PNG, or why it cannot; nothing is kept on the panel."""
    if ctx.devtools is None:
        return {"ok": False, "error": "no_browser", "message": "this player has no browser to ask"}
    try:
        png = ctx.devtools.screenshot_png()
    except DevToolsError as exc:
        log.warning("screenshot: %s", exc)
        error = "no_browser" if exc.code == "no_browser" else "capture_failed"
        return {"ok": False, "error": error, "message": str(exc)[:200]}
    return screenshot_answer(png)


def screenshot_answer(png: bytes, limit: int = MAX_SCREENSHOT_BYTES) -> dict[str, Any]:
    """Return the ack carrying `png`, or `too_large` when it is over `limit` bytes."""
    if len(png) > limit:
        log.warning("screenshot: %d bytes, over the limit of %d", len(png), limit)
        return {"ok": False, "error": "too_large", "message": f"{len(png)} bytes, over {limit}"}
    log.info("screenshot: %d bytes sent", len(png))
    return {"ok": True, "mime": "image/png", "data": base64.b64encode(png).decode("ascii")}


def restart_player(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return {"ok": True}, then, once the ack has left, replace the player with a fresh process."""
    if ctx.restart is None:
        return {"ok": False, "error": "unsupported", "message": "this player cannot restart itself"}
    log.warning("restart asked for by the controller")
    gevent.spawn_later(ACK_GRACE_S, ctx.restart)
    return {"ok": True}


def restart_process(execv: Callable[[str, list[str]], Any] = os.execv) -> None:
    """Replace this process with a fresh player: the same PID and command line, a new start.

    The same PID is what systemd expects of its Type=notify service (it takes the new start's READY=1
    as is, and the watchdog is the same process's); without systemd, the parent still has its child.
    """
    log.warning("restarting: %s", shlex.join(sys.orig_argv))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    execv(sys.executable, sys.orig_argv)


def reboot(ctx: Context, payload: Any) -> dict[str, Any]:
    """Return {"ok": True}, then, once the ack has left, run `reboot_command`."""
    try:
        argv = shlex.split(ctx.reboot_command)
    except ValueError:  # unbalanced quotes
        argv = []
    if not argv or shutil.which(argv[0]) is None:
        log.error("reboot: cannot run %r", ctx.reboot_command)
        return {"ok": False, "error": "reboot_failed", "message": f"cannot run {ctx.reboot_command!r}"}
    log.warning("reboot asked for by the controller: %s", shlex.join(argv))
    gevent.spawn_later(ACK_GRACE_S, _run_reboot, argv)
    return {"ok": True}


def _run_reboot(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("reboot: %s failed: %s", shlex.join(argv), exc)
        return
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode(errors="replace").strip()[:300]
        log.error("reboot: %s exited with %d: %s", shlex.join(argv), done.returncode, output)


COMMANDS: dict[str, Callable[[Context, Any], dict[str, Any]]] = {
    EVENT_SHOW: show,
    EVENT_STATE: state,
    EVENT_IDENTIFY: identify,
    EVENT_SCREENSHOT: screenshot,
    EVENT_RESTART_PLAYER: restart_player,
    EVENT_REBOOT: reboot,
    EVENT_CONTROL: control,
    EVENT_ALERT: alert,
}
