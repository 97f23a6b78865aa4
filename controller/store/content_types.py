"""What a stored file is, read from its own first bytes (never from its name), and why one is refused."""

from __future__ import annotations

from classcast.i18n import N_, Message


class ContentError(ValueError):
    """Content the store refuses; `code` is stable, `message` (marked N_, maybe with values) is for people."""

    def __init__(self, code: str, message: str | Message) -> None:
        super().__init__(str(message))
        self.code, self.message = code, message
        self.status = 413 if code in ("too_large", "quota_exceeded") else 400


# The kinds of file the store accepts, by what their first bytes say (never by name).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),  # an HTML5 bundle
)
# Brands of an ISO media file's `ftyp` box that browsers play as MP4; HEIF and AVIF pictures share the
# box, and their major brand tells them apart.
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}
_PICTURE_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"}
_KIND_OF_MIME = {"application/pdf": "pdf", "application/zip": "html5"}


def sniff_mime(data: bytes) -> str:
    """Return the MIME type the content's own first bytes show, or raise ContentError."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] not in _PICTURE_BRANDS and _mp4_brands(data) & _MP4_BRANDS:
        return "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3") and _ebml_doc_type(data) == b"webm":
        return "video/webm"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    raise ContentError(
        "unsupported_type",
        N_(
            "Тип файла не поддерживается. Можно загрузить картинку (PNG, JPEG, GIF, WebP, SVG), "
            "видео (MP4, WebM), PDF или HTML5-материал в ZIP-архиве с файлом index.html."
        ),
    )


def _mp4_brands(data: bytes) -> set[bytes]:
    """Return the major and compatible brands of the `ftyp` box at the start of `data`."""
    end = min(int.from_bytes(data[:4], "big"), len(data))
    return {data[8:12]} | {data[i : i + 4] for i in range(16, end - 3, 4)}


def _ebml_doc_type(data: bytes) -> bytes:
    """Return the DocType of an EBML header (webm, matroska), or b"" when it cannot be read."""
    at = data.find(b"\x42\x82", 4, 64)
    if at < 0 or at + 2 >= len(data) or not data[at + 2] & 0x80:
        return b""  # muxers write the DocType's length in one byte; anything else is not a WebM we know
    return data[at + 3 : at + 3 + (data[at + 2] & 0x7F)]


def kind_of(mime: str) -> str:
    """Return the item kind of stored content of this MIME type: image, video, pdf or html5."""
    return _KIND_OF_MIME.get(mime) or mime.split("/")[0]
