"""The intake: the ROUTER on which the player hands its usage events to the agent, acked once spooled.

The player (player/usage.py) keeps each event in its outbox until the agent acks it, and the agent
acks only after `Spool.flush` has committed the events: an event is on disk at one end or the other
at every moment, across a restart of either program. A lost ack makes the player send the events
again; the spool's meta row `usage:<outbox id>` holds the highest local id taken from that outbox,
committed in the same transaction as the events, so a repeat is acked without being spooled twice.

An event the agent cannot take (an unknown type or field, a value of the wrong kind) is settled too,
as rejected, so the player does not send it for ever; its neighbours are spooled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sqlite3
import typing
from pathlib import Path
from typing import Any

import zmq

from agent.clock import Stamp
from agent.spool import Spool
from classcast.events import EVENT_CLASSES, OUTBOX_TYPES
from classcast.protocol import FRAME_ACK, FRAME_EVENTS, MAX_EVENT_BYTES, MAX_USAGE_EVENTS, USAGE_PROTOCOL

log = logging.getLogger(__name__)

SOCKET_FILE = "usage.sock"
MAX_OUTBOX_ID = 64  # characters of an outbox id
MAX_BOOT_ID = 64  # characters of a boot id


def usage_endpoint(configured: str, data_dir: Path) -> str:
    """Return the endpoint of the usage channel: `configured`, or by default a socket in `data_dir`."""
    return configured or f"ipc://{data_dir / SOCKET_FILE}"


class Rejected(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


class Intake:
    """Takes the player's usage events at `endpoint` into `spool`; `receive` when `socket` is readable."""

    def __init__(self, context: zmq.Context, spool: Spool, endpoint: str) -> None:
        self.spool = spool
        self.socket = context.socket(zmq.ROUTER)
        self.socket.linger = 0
        # libzmq refuses a larger message before it is read: the most the protocol allows, with room.
        self.socket.maxmsgsize = 2 * MAX_USAGE_EVENTS * MAX_EVENT_BYTES
        self.socket.bind(endpoint)
        self.endpoint = self.socket.last_endpoint.decode()  # a port picked by the system, for one
        # Highest local id appended per outbox: a flush that failed keeps its events in the spool's
        # memory, so their resend must not append them again.
        self._appended: dict[str, int] = {}
        self._failing = False

    def receive(self) -> None:
        """Handle every message the player has sent, without blocking."""
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._handle(frames)

    def close(self) -> None:
        self.socket.close(linger=0)

    def _handle(self, frames: list[bytes]) -> None:
        if len(frames) != 4 or frames[1] != USAGE_PROTOCOL or frames[2] != FRAME_EVENTS:
            log.warning("ignored a local message that is not %s events", USAGE_PROTOCOL.decode())
            return
        peer, body = frames[0], frames[3]
        try:
            outbox, events = _message(body)
        except Rejected as exc:
            log.warning("ignored a usage message that cannot be read (%s)", exc)
            return
        ids, rejected = self._spool(outbox, events)
        if ids is None:
            return  # not committed: no ack, the player sends the events again later
        ack = json.dumps({"ids": ids, "rejected": rejected}, separators=(",", ":")).encode()
        try:
            self.socket.send_multipart([peer, USAGE_PROTOCOL, FRAME_ACK, ack], zmq.NOBLOCK)
        except zmq.Again:  # the player is gone or not reading: it resends, and the repeat is acked then
            log.debug("could not ack %d usage events; the player will send them again", len(ids))

    def _spool(self, outbox: str, events: list[Any]) -> tuple[list[int] | None, list[dict[str, Any]]]:
        """Return the local ids settled (None if the spool could not commit them) and those rejected."""
        key = f"usage:{outbox}"
        high = max(int(self.spool.meta(key) or 0), self._appended.get(outbox, 0))
        ids: list[int] = []
        rejected: list[dict[str, Any]] = []
        first = ""  # the first rejection, for the log
        for event in events:
            local_id = event.get("local_id") if isinstance(event, dict) else None
            if not (isinstance(local_id, int) and not isinstance(local_id, bool) and local_id > 0):
                log.warning("ignored a usage event without a local id from outbox %s", outbox)
                continue
            ids.append(local_id)
            if local_id <= high:
                continue  # taken before: its ack was lost, or its events await a flush
            high = local_id
            try:
                usage_event, when = parse_event(event)
            except Rejected as exc:
                rejected.append({"id": local_id, "error": exc.code})
                first = first or f"{local_id} ({exc})"
                continue
            self.spool.append(usage_event, when=when)
        self._appended[outbox] = high
        if rejected:
            log.warning("rejected %d usage events from outbox %s, e.g. %s", len(rejected), outbox, first)
        return (ids if self._flush({key: str(high)}) else None), rejected

    def _flush(self, meta: dict[str, str]) -> bool:
        """Return True once the spool has committed what was appended, with `meta`; False if it could not."""
        try:
            self.spool.flush(meta=meta)
        except sqlite3.Error as exc:  # a full disk, most likely; logged once, not at every resend
            if not self._failing:
                log.error("cannot commit usage events to the spool (%s); not acking them until it can", exc)
            self._failing = True
            return False
        if self._failing:
            log.info("usage events are committed to the spool again")
        self._failing = False
        return True


def _message(body: bytes) -> tuple[str, list[Any]]:
    """Return the outbox id and the events of a message's JSON body, or raise Rejected."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise Rejected("bad_message", "not JSON") from exc
    if not isinstance(message, dict):
        raise Rejected("bad_message", "not a JSON object")
    outbox, events = message.get("outbox"), message.get("events")
    if not (isinstance(outbox, str) and 0 < len(outbox) <= MAX_OUTBOX_ID):
        raise Rejected("bad_message", f"outbox must be a string of 1 to {MAX_OUTBOX_ID} characters")
    if not (isinstance(events, list) and 1 <= len(events) <= MAX_USAGE_EVENTS):
        raise Rejected("bad_message", f"events must be a list of 1 to {MAX_USAGE_EVENTS}")
    return outbox, events


def parse_event(event: dict[str, Any]) -> tuple[Any, Stamp]:
    """Return the usage event's dataclass and its stamp, or raise Rejected naming what is wrong."""
    if len(json.dumps(event, separators=(",", ":"))) > MAX_EVENT_BYTES:
        raise Rejected("too_large", f"over {MAX_EVENT_BYTES} bytes")
    if event.get("type") not in OUTBOX_TYPES:
        raise Rejected("unknown_type", repr(event.get("type"))[:40])
    data = event.get("data")
    if not isinstance(data, dict):
        raise Rejected("bad_event", "data must be an object")
    when = _stamp(event)
    kinds = _KINDS[event["type"]]
    unknown = set(data) - set(kinds)
    if unknown:
        raise Rejected("unknown_field", ", ".join(sorted(unknown))[:80])
    for name, value in data.items():
        if not _fits(value, *kinds[name]):
            raise Rejected("bad_value", f"{name}: {repr(value)[:40]}")
    if event["type"] == "dropped" and (
        data.get("reason") != "outbox_full" or {"first_seq", "last_seq"} & set(data)
    ):  # sequence numbers name the spool's events, which the controller would then take as held
        raise Rejected(
            "bad_value", "an outbox's dropped notice has reason outbox_full and no sequence numbers"
        )
    return EVENT_CLASSES[event["type"]](**data), when


def _stamp(event: dict[str, Any]) -> Stamp:
    for name in ("wall_time", "mono_time"):
        if event.get(name) is None or not _fits(event[name], float):
            raise Rejected("bad_event", f"{name} must be a number")
    if not isinstance(event.get("clock_synced"), bool):
        raise Rejected("bad_event", "clock_synced must be true or false")
    if not (isinstance(event.get("boot"), str) and len(event["boot"]) <= MAX_BOOT_ID):
        raise Rejected("bad_event", f"boot must be a string of at most {MAX_BOOT_ID} characters")
    return Stamp(
        wall_time=event["wall_time"],
        mono_time=event["mono_time"],
        clock_synced=event["clock_synced"],
        boot=event["boot"],
    )


def _kinds(cls: type) -> dict[str, tuple[Any, tuple[str, ...]]]:
    """Return each field of the event class `cls` with its declared type (None left out) and its words."""
    hints = typing.get_type_hints(cls)
    kinds = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        # A field is of one kind or absent: `float | None`, `list[str] | None`.
        (kind,) = [option for option in typing.get_args(hint) or (hint,) if option is not type(None)]
        kinds[f.name] = (kind, f.metadata.get("choices", ()))
    return kinds


_KINDS = {name: _kinds(EVENT_CLASSES[name]) for name in OUTBOX_TYPES}


def _fits(value: Any, kind: Any, choices: tuple[str, ...] = ()) -> bool:
    """Return True if the JSON `value` is null or of `kind` (and then one of `choices`, if any)."""
    if value is None:
        return True
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(v is not None and _fits(v, item) for v in value)
    if kind is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, kind)
    return fits and (not choices or value in choices)
