"""Names and limits of the two wire protocols (docs/protocol.md describes them; a test keeps both in step)."""

from __future__ import annotations

# Socket.IO: the controller <-> the panel's player.
PANEL_NAMESPACE = "/panel"
EVENT_SHOW = "show"  # controller -> panel, acked with {"ok", "shown_at" | "error"}
PANEL_EVENTS_DOWN = (EVENT_SHOW,)
PANEL_EVENTS_UP: tuple[str, ...] = ()

# ZeroMQ: the panel's agent (DEALER) -> the controller (ROUTER), CURVE-encrypted.
TELEMETRY_PROTOCOL = b"classcast.telemetry/1"
FRAME_BATCH = b"batch"  # agent -> controller: [protocol, b"batch", json batch]
FRAME_ACK = b"ack"  # controller -> agent: [protocol, b"ack", json ack]
FRAME_ERROR = b"error"  # controller -> agent: [protocol, b"error", json error]
ZAP_DOMAIN = "classcast"

MAX_BATCH_EVENTS = 100
MAX_BATCH_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 16 * 1024

# The event types and their fields are declared in classcast.events.
