"""Real PDFs for tests, written by hand: each page one solid colour, so its rendering is checked by pixel."""

from __future__ import annotations

from mainsystem.media import pdf_document  # the file's frame: header, objects, offsets, trailer

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
    return pdf_document(objects)
