"""The pairing screen's QR code: the approval page's address, for school IT to open on a phone."""

from __future__ import annotations

import io

import segno


def qr_svg(text: str) -> bytes:
    """Return `text` as a QR code in SVG, dark on light, with the quiet zone phones need to read it."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=8, border=4, dark="#10243e", light="#ffffff")
    return out.getvalue()
