"""Names and limits of the two wire protocols (docs/protocol.md describes them; a test keeps both in step)."""

from __future__ import annotations

# Socket.IO: the controller <-> the panel's player.
PANEL_NAMESPACE = "/panel"
EVENT_SHOW = "show"  # controller -> panel, acked with {"ok", "shown_at" | "error"}
EVENT_STATE = "state"  # controller -> panel: the whole desired state, acked with {"ok", "version"}
EVENT_IDENTIFY = "identify"  # controller -> panel: name and room full-screen for `seconds`, acked {"ok"}
EVENT_SCREENSHOT = "screenshot"  # controller -> panel: acked {"ok", "mime", "data" (base64)}
EVENT_RESTART_PLAYER = "restart_player"  # acked {"ok"} before the player restarts
EVENT_REBOOT = "reboot"  # acked {"ok"} before the device reboots
EVENT_CONTROL = "control"  # controller -> panel: the remote's whole view of the cast, acked {"ok", "view"}
EVENT_ALERT = "alert"  # controller -> panel: an alert over everything, or null to clear; acked {"ok"}
PANEL_EVENTS_DOWN = (
    EVENT_SHOW,
    EVENT_STATE,
    EVENT_IDENTIFY,
    EVENT_SCREENSHOT,
    EVENT_RESTART_PLAYER,
    EVENT_REBOOT,
    EVENT_CONTROL,
    EVENT_ALERT,
)
# The remote's view of a cast on screen (docs/protocol.md): PDF page, video playing, blanked, frozen.
DEFAULT_VIEW = {"page": 0, "playing": True, "blank": False, "frozen": False}
ITEM_KINDS = ("image", "video", "pdf", "html5", "page", "text")
ALERT_LEVELS = ("info", "warning", "danger")
MAX_TEXT_CHARS = 2000  # of a text card or an alert
MAX_SCREENSHOT_BYTES = 8 * 1024 * 1024  # of the image, before base64
IDENTIFY_SECONDS = 10
PANEL_EVENTS_UP: tuple[str, ...] = ()

# Socket.IO: the controller -> the signed-in pages (the teacher's remote, alert senders).
UI_NAMESPACE = "/ui"
UI_ROOM = "room"  # controller -> page: a room's snapshot (owner, cast, view, each panel's status)
UI_TAKEN = "taken"  # controller -> page: another teacher took the user's room
UI_ALERT = "alert"  # controller -> page: an alert's summary (acknowledged, total, the panels missing)
UI_EVENTS = (UI_ROOM, UI_TAKEN, UI_ALERT)

# ZeroMQ: the panel's agent (DEALER) -> the controller (ROUTER), CURVE-encrypted.
TELEMETRY_PROTOCOL = b"classcast.telemetry/1"
FRAME_BATCH = b"batch"  # agent -> controller: [protocol, b"batch", json batch]
FRAME_ACK = b"ack"  # controller -> agent: [protocol, b"ack", json ack]
FRAME_ERROR = b"error"  # controller -> agent: [protocol, b"error", json error]
ZAP_DOMAIN = "classcast"
ERROR_REVOKED = "revoked"  # in an error frame: this panel's credentials were revoked; pair again

MAX_BATCH_EVENTS = 100
MAX_BATCH_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 16 * 1024

# The event types and their fields are declared in classcast.events.

# ZeroMQ: the panel's player (DEALER) -> its agent (ROUTER), local (docs/protocol.md, usage section).
USAGE_PROTOCOL = b"classcast.usage/1"
FRAME_EVENTS = b"events"  # player -> agent: [protocol, b"events", json events]; answered with FRAME_ACK
MAX_USAGE_EVENTS = 100
