"""The pairing screen's QR code: the approval page's address, for school IT to open on a phone."""

from __future__ import annotations

import io


def qr_svg(text: str) -> bytes:
    """Return `text` as a QR code in SVG, dark on light, with the quiet zone phones need to read it."""
    # Imported here, not at the top: only an unpaired panel draws the code, and segno was 0.9 MB of the
    # running player's RSS (bench/player_memory.py) that a paired panel carried for nothing.
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=8, border=4, dark="#10243e", light="#ffffff")
    return out.getvalue()
