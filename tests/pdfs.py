"""Real PDFs for tests, written by hand: each page one solid colour, so its rendering is checked by pixel."""

from __future__ import annotations

PAGE_WIDTH, PAGE_HEIGHT = 160, 90  # points: a 16:9 slide


def solid_pdf(colours: list[tuple[int, int, int]]) -> bytes:
    """Return a PDF of one page per colour, page i filled with colours[i] (RGB, 0-255)."""
    count = len(colours)
    pages = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{pages}] /Count {count} >>".encode(),
    ]
    for i, colour in enumerate(colours):
        r, g, b = (f"{c / 255:.4f}" for c in colour)
        stream = f"{r} {g} {b} rg 0 0 {PAGE_WIDTH} {PAGE_HEIGHT} re f".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            f"/Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    return _document(objects)


def _document(objects: list[bytes]) -> bytes:
    """Return the file: header, numbered objects, the cross-reference table of their offsets, trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
