"""The library's media, made in code when the stand-in starts: SVG and PNG pictures, PDFs, HTML5 bundles.

Nothing binary is kept in the repository. A picture or a PDF page is a field of the subject's colour
with the item's title on it; the text is drawn with DejaVu Sans when the machine has it (Chromium's
Debian package brings it), and left out otherwise, since Pillow's own font has no Cyrillic letters.
A PDF is written by hand, like tests/pdfs.py: one solid page per colour, the text laid on as a picture
(a PDF's standard fonts have no Cyrillic either, and embedding a font is more than a stand-in needs).
"""

from __future__ import annotations

import html
import io
import zipfile
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]
WIDTH, HEIGHT = 1280, 720  # pixels of a picture; a PDF page is this many points
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
_INK = (255, 255, 255)


def svg(title: str, subject: str, colour: Colour) -> bytes:
    """Return an SVG picture: the subject's colour, a circle, the subject and the title."""
    fill = "#{:02x}{:02x}{:02x}".format(*colour)
    lines = "".join(
        f'<text x="80" y="{330 + 70 * i}" font-size="56">{html.escape(line)}</text>'
        for i, line in enumerate(_wrap_chars(title, 34))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" fill="#fff">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{fill}"/>'
        f'<circle cx="1100" cy="560" r="240" fill="#fff" fill-opacity="0.15"/>'
        f'<text x="80" y="160" font-size="36" fill-opacity="0.8">{html.escape(subject)}</text>'
        f"{lines}</svg>"
    ).encode()


def png(title: str, subject: str, colour: Colour) -> bytes:
    """Return a PNG picture of the same design as `svg`."""
    picture = Image.new("RGB", (WIDTH, HEIGHT), colour)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((860, 320, 1340, 800), fill=lighter(colour))
    _text(draw, (80, 120), subject, 36)
    _text(draw, (80, 280), title, 56)
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=False)
    return out.getvalue()


def pdf(pages: list[tuple[str, Colour]]) -> bytes:
    """Return a PDF of one page per (text, colour): the page filled with the colour, the text on it."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for text, colour in pages:
        page, contents, image = len(objects) + 1, len(objects) + 2, len(objects) + 3
        kids.append(f"{page} 0 R")
        r, g, b = (f"{c / 255:.4f}" for c in colour)
        stream = f"{r} {g} {b} rg 0 0 {WIDTH} {HEIGHT} re f 1 1 1 rg q {WIDTH} 0 0 {HEIGHT} 0 0 cm /T Do Q"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] /Contents {contents} 0 R "
            f"/Resources << /XObject << /T {image} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream.encode()))
        objects.append(_stencil_object(_page_picture(text)))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return pdf_document(objects)


def bundle(title: str, body: str) -> bytes:
    """Return an HTML5 bundle (a ZIP): index.html with `body` (HTML and an inline script) and a stylesheet."""
    index = (
        '<!doctype html><html lang="ru"><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><link rel=stylesheet href=style.css>"
        f"<h1>{html.escape(title)}</h1>{body}</html>"
    )
    style = (
        "body{font:28px 'DejaVu Sans',sans-serif;background:#123;color:#fff;margin:40px}"
        "button{font:inherit;margin:8px;padding:8px 24px}.ok{color:#7f7}.no{color:#f77}"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", index.encode())
        archive.writestr("style.css", style.encode())
    return out.getvalue()


def _page_picture(text: str) -> Image.Image:
    """Return the page's text as a 1-bit picture, 2 px per point, so it stays sharp on a large panel."""
    picture = Image.new("1", (WIDTH * 2, HEIGHT * 2), 0)
    _text(ImageDraw.Draw(picture), (160, 400), text, 104, ink=1)
    return picture


def _stencil_object(picture: Image.Image) -> bytes:
    """Return the picture as a PDF stencil mask: its set pixels are painted in the current colour."""
    data = zlib.compress(picture.tobytes(), 6)
    width, height = picture.size
    return (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ImageMask true /BitsPerComponent 1 "
        b"/Decode [1 0] /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
        % (width, height, len(data), data)
    )


def pdf_document(objects: list[bytes]) -> bytes:
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


def _text(
    draw: ImageDraw.ImageDraw, at: tuple[int, int], text: str, size: int, ink: int | Colour = _INK
) -> None:
    """Draw `text` wrapped to the picture's width, if there is a font with Cyrillic letters."""
    font = _font(size)
    if font is None:
        return
    x, y = at
    limit = draw.im.size[0] - 2 * x
    for line in _wrap(text, lambda s: font.getlength(s) <= limit):
        draw.text((x, y), line, font=font, fill=ink)
        y += int(size * 1.3)


def _wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and fits(f"{lines[-1]} {word}"):
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _wrap_chars(text: str, width: int) -> list[str]:
    return _wrap(text, lambda s: len(s) <= width)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | None:
    path = next((p for p in _FONTS if Path(p).is_file()), None)
    return ImageFont.truetype(path, size) if path else None


def lighter(colour: Colour) -> Colour:
    """Return the colour a sixth of the way to white."""
    r, g, b = colour
    return (r + (255 - r) // 6, g + (255 - g) // 6, b + (255 - b) // 6)
