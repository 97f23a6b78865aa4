"""The docs that the code generates or names are in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from classcast import docs, protocol

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_configuration_doc_lists_every_setting() -> None:
    assert (DOCS / "configuration.md").read_text(encoding="utf-8") == docs.configuration_md(), (
        "docs/configuration.md is stale: run `python -m classcast.docs`"
    )


def test_protocol_doc_has_the_generated_event_tables() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    assert text == docs.protocol_md(text), "docs/protocol.md is stale: run `python -m classcast.docs`"


def test_access_doc_has_the_policy_the_code_enforces() -> None:
    text = (DOCS / "access.md").read_text(encoding="utf-8")
    assert text == docs.access_md(text), "docs/access.md is stale: run `python -m classcast.docs`"


def test_protocol_doc_names_every_event_and_frame_the_code_uses() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    assert f"namespace `{protocol.PANEL_NAMESPACE}`" in text
    for event in (*protocol.PANEL_EVENTS_DOWN, *protocol.PANEL_EVENTS_UP):
        assert re.search(rf"^\| `{event}` \|", text, re.MULTILINE), (
            f"Socket.IO event {event!r} is undocumented"
        )
    for frame in (
        protocol.TELEMETRY_PROTOCOL,
        protocol.FRAME_BATCH,
        protocol.FRAME_ACK,
        protocol.FRAME_ERROR,
    ):
        assert f"`{frame.decode()}`" in text, f"frame {frame!r} is undocumented"
    assert f"1 to {protocol.MAX_BATCH_EVENTS} events" in text
    assert f"at most {protocol.MAX_BATCH_BYTES // (1024 * 1024)} MiB" in text


def test_every_socketio_event_the_code_handles_is_in_the_protocol_module() -> None:
    """The player's command table and the controller's sends use only the names docs/protocol.md lists."""
    from player.commands import COMMANDS

    assert set(COMMANDS) == set(protocol.PANEL_EVENTS_DOWN)
    root = Path(__file__).resolve().parent.parent
    for path in [*root.glob("controller/**/*.py"), *root.glob("player/**/*.py")]:
        for name in re.findall(r"\bemit\(\s*\"([a-z_]+)\"", path.read_text(encoding="utf-8")):
            known = (*protocol.PANEL_EVENTS_DOWN, *protocol.PANEL_EVENTS_UP, *protocol.UI_EVENTS)
            assert name in known, f"{path}: {name}"
