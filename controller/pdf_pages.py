"""A PDF's pages as PNG images: rendered once on the controller, so a panel shows pictures, not PDFs.

PDFium (through pypdfium2) is not thread-safe, not even across documents, so every call to it runs on
one thread of its own, one document at a time. A thread and not the hub: a page's rendering releases
the GIL, and the server's greenlets (casts, pages) go on meanwhile.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import gevent.threadpool
import pypdfium2 as pdfium

_pool: gevent.threadpool.ThreadPool | None = None


@dataclass(frozen=True)
class PageImage:
    path: Path
    sha256: str
    size: int
    mime: str = "image/png"


class PdfError(ValueError):
    """A PDF that cannot be made into pages: `broken` (damaged, encrypted) or `too_many_pages`."""

    def __init__(self, code: str, pages: int = 0) -> None:
        super().__init__(code)
        self.code, self.pages = code, pages


def render_pages(pdf_path: Path, out_dir: Path, max_pages: int, longest_px: int) -> list[PageImage]:
    """Return the PDF's pages as PNG files in `out_dir`, each fitted into `longest_px` square pixels."""
    global _pool
    if _pool is None:
        _pool = gevent.threadpool.ThreadPool(1)
    outcome = _pool.apply(_render_or_refuse, (pdf_path, out_dir, max_pages, longest_px))
    if isinstance(outcome, PdfError):
        raise outcome
    return outcome


def _render_or_refuse(
    pdf_path: Path, out_dir: Path, max_pages: int, longest_px: int
) -> list[PageImage] | PdfError:
    # Returned, not raised: the pool would log a refused PDF's traceback as if the server had failed.
    try:
        return _render(pdf_path, out_dir, max_pages, longest_px)
    except PdfError as exc:
        return exc


def _render(pdf_path: Path, out_dir: Path, max_pages: int, longest_px: int) -> list[PageImage]:
    try:
        pdf = pdfium.PdfDocument(pdf_path)
    except pdfium.PdfiumError as exc:
        raise PdfError("broken") from exc
    try:
        count = len(pdf)
        if count == 0:
            raise PdfError("broken")
        if count > max_pages:
            raise PdfError("too_many_pages", count)
        return [_render_page(pdf, index, out_dir / f"page-{index}.png", longest_px) for index in range(count)]
    except pdfium.PdfiumError as exc:
        raise PdfError("broken") from exc
    finally:
        pdf.close()


def _render_page(pdf: pdfium.PdfDocument, index: int, path: Path, longest_px: int) -> PageImage:
    page = pdf[index]
    try:
        width, height = page.get_size()
        if min(width, height) <= 0:
            raise PdfError("broken")
        # Scaled by the longer side: a slide fills a 1920 px wide screen, a portrait page its height, and
        # a page of odd proportions (a long strip) never becomes a bitmap of hundreds of megabytes.
        bitmap = page.render(scale=longest_px / max(width, height))
        try:
            # The PIL image may share the bitmap's memory: saved before the bitmap is closed.
            bitmap.to_pil().save(path, format="PNG")
        finally:
            bitmap.close()
    finally:
        page.close()
    return _described(path)


def _described(path: Path) -> PageImage:
    with path.open("rb+") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
        os.fsync(f.fileno())
    return PageImage(path, sha256, path.stat().st_size)
