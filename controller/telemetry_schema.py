"""The telemetry wire schema as msgspec types, made from the event dataclasses of classcast.events.

msgspec decodes and checks an event in one pass, in C: the type of every field, the words a field may
be, and no field outside the allow-list. A batch is decoded with its events left raw, so each event
is checked on its own and a bad one never costs its neighbours.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal

import msgspec

from classcast.events import EVENT_CLASSES
from classcast.protocol import MAX_EVENT_BYTES


class Batch(msgspec.Struct):
    """A batch as the agent sends it (docs/protocol.md), its events left raw: each is checked alone."""

    seq: int
    events: list[msgspec.Raw]
    sent_at: float | None = None
    sent_mono: float | None = None  # the panel's monotonic clock when it sent the batch
    boot: str = ""  # the boot that clock counts from
    clock_synced: bool | None = None  # whether the panel's wall clock was synchronised when it sent


class Rejected(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


# Bounds on every text and list, so that no event that passes can exceed MAX_EVENT_BYTES: a batch
# whose events all pass is then taken in one decode, without measuring each event.
_TEXT = Annotated[str, msgspec.Meta(max_length=256)]
_TEXTS = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=32)]
_BOUNDED = {str | None: _TEXT | None, list[str] | None: _TEXTS | None}


def _data_struct(cls: type) -> type[msgspec.Struct]:
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        kind: Any = _BOUNDED.get(hints[f.name], hints[f.name])
        if f.metadata["choices"]:
            kind = Literal[f.metadata["choices"]] | None  # type: ignore[valid-type]
        fields.append((f.name, kind, None))
    return msgspec.defstruct(
        f"{cls.__name__}Data", fields, forbid_unknown_fields=True, omit_defaults=True, kw_only=True, gc=False
    )


def _event_struct(name: str, cls: type) -> type[msgspec.Struct]:
    return msgspec.defstruct(
        f"{cls.__name__}Event",
        [
            ("id", Annotated[str, msgspec.Meta(min_length=1, max_length=80)]),
            ("wall_time", float),
            ("mono_time", float),
            ("clock_synced", bool),
            ("data", _data_struct(cls)),
            ("boot", Annotated[str, msgspec.Meta(max_length=64)], ""),  # absent from older agents
            ("time", float | None, None),  # set by the controller: the corrected time, never sent
        ],
        tag_field="type",
        tag=name,
        forbid_unknown_fields=True,
        omit_defaults=True,
        namespace={"kind": name},  # the tag is not an attribute; `kind` names the type on an instance
        gc=False,  # no cycles: untracked, the collector does not walk the many events of a busy ingest
    )


EVENT_STRUCTS = {name: _event_struct(name, cls) for name, cls in EVENT_CLASSES.items()}
Event = typing.Union[tuple(EVENT_STRUCTS.values())]  # type: ignore[valid-type]  # noqa: UP007


class CheckedBatch(msgspec.Struct):
    """A batch decoded with every event checked at once: the usual case, where all are good."""

    seq: int
    events: list[Event]  # type: ignore[valid-type]
    sent_at: float | None = None
    sent_mono: float | None = None
    boot: str = ""
    clock_synced: bool | None = None


class _Envelope(msgspec.Struct):
    events: msgspec.Raw


batch_decoder = msgspec.json.Decoder(Batch)
_envelope_decoder = msgspec.json.Decoder(_Envelope)
checked_batch_decoder = msgspec.json.Decoder(CheckedBatch)
_event_decoder = msgspec.json.Decoder(Event)
encoder = msgspec.json.Encoder()


def decode_checked(body: bytes) -> CheckedBatch | None:
    """Return the batch in `body` with all its events checked; None if any event is not good."""
    try:
        batch = checked_batch_decoder.decode(body)
    except msgspec.DecodeError:  # ValidationError included: check the events one by one
        return None
    if any(event.time is not None for event in batch.events):
        return None
    return batch


def wire_events(body: bytes | memoryview) -> str:
    """Return the events of a batch that decode_checked took, as the JSON text the panel sent.

    Stored as they are when the controller changes nothing in them: cheaper than encoding them again.
    """
    return bytes(_envelope_decoder.decode(body).events).decode()


def decode_event(raw: msgspec.Raw) -> Any:
    """Return the event in `raw`, checked; raise Rejected with the reason it cannot be taken."""
    if len(raw) > MAX_EVENT_BYTES:
        raise Rejected("too_large", f"over {MAX_EVENT_BYTES} bytes")
    try:
        event = _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise Rejected(_code(str(exc)), str(exc)[:120]) from None
    except msgspec.DecodeError as exc:  # the batch parsed, so this cannot happen; kept for safety
        raise Rejected("bad_event", str(exc)[:120]) from None
    if event.time is not None:
        raise Rejected("bad_event", "time is set by the controller")
    return event


def _code(message: str) -> str:
    if message.startswith("Object contains unknown field") and "$.data" in message:
        return "unknown_field"
    if message.startswith("Invalid value") and message.endswith("at `$.type`"):
        return "unknown_type"
    return "bad_event"
