"""HTML5 bundles: a ZIP of a web lesson, checked before anything is unpacked, unpacked safely.

The controller checks a bundle when it is uploaded; the player checks it again when it unpacks its
cached copy, so neither trusts the other. A bundle is refused for any path that could land outside the
folder it is unpacked into (absolute, `..`, backslashes, drive letters), for symlinks, for passwords,
for too many entries or too many bytes, and for an entry compressed suspiciously well (a zip bomb).
The bytes are counted as they are decompressed, never taken from the headers alone: a header that
lies about its size cannot fill the disk.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from classcast.i18n import N_, Message

MIB = 1024 * 1024
ENTRY_PAGE = "index.html"
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_MACOS_LEFTOVERS = "__MACOSX"  # the resource-fork folder macOS adds beside a zipped folder


@dataclass(frozen=True)
class BundleLimits:
    """How large a bundle may unpack to; an entry's ratio counts only above `ratio_floor` bytes."""

    max_bytes: int = 100 * MIB
    max_files: int = 2000
    max_ratio: int = 100
    ratio_floor: int = MIB


@dataclass(frozen=True)
class BundleInfo:
    entry: str  # the start page, a path inside the bundle: index.html or folder/index.html
    files: int
    size: int  # bytes unpacked


class BundleError(ValueError):
    """A bundle refused; `code` is stable, `message` (marked N_, maybe with values) is for people."""

    def __init__(self, code: str, message: str | Message) -> None:
        super().__init__(str(message))
        self.code, self.message = code, message


def check_bundle(zip_file: str | Path | BinaryIO, limits: BundleLimits) -> BundleInfo:
    """Return what the bundle holds, having read every entry through; raise BundleError if unsafe."""
    with _opened(zip_file) as archive:
        members = _checked_members(archive, limits)
        size = _unpack(archive, members, limits, into=None)
    return BundleInfo(_entry_page(members), sum(not m.is_dir() for m in members), size)


def extract_bundle(zip_path: str | Path, dest_dir: Path, limits: BundleLimits) -> BundleInfo:
    """Return what the bundle holds, unpacked into `dest_dir`; raise BundleError if unsafe.

    The files are written into a temporary folder beside `dest_dir`, which is renamed into place once
    all is written: `dest_dir` either holds the whole bundle or is not there. A `dest_dir` already
    there (unpacked before: bundles are named by their hash) is kept as it is.
    """
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest_dir.parent, prefix=f".{dest_dir.name}-"))
    try:
        with _opened(zip_path) as archive:
            members = _checked_members(archive, limits)
            size = _unpack(archive, members, limits, into=staging)
        info = BundleInfo(_entry_page(members), sum(not m.is_dir() for m in members), size)
        if not dest_dir.exists():
            staging.rename(dest_dir)
        return info
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _opened(zip_file: str | Path | BinaryIO) -> Iterator[zipfile.ZipFile]:
    try:
        with zipfile.ZipFile(zip_file) as archive:
            yield archive
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _corrupt() from exc


def _corrupt() -> BundleError:
    return BundleError("corrupt", N_("Архив повреждён или не читается."))


def _checked_members(archive: zipfile.ZipFile, limits: BundleLimits) -> list[zipfile.ZipInfo]:
    """Return the archive's entries, each safe by what its headers say."""
    members = archive.infolist()
    if len(members) > limits.max_files:
        raise BundleError(
            "too_many_files",
            Message(
                N_("В архиве слишком много файлов: можно не больше %(limit)s."), {"limit": limits.max_files}
            ),
        )
    declared = 0
    for member in members:
        _check_member(member, limits)
        declared += member.file_size
    if declared > limits.max_bytes:
        raise _too_large(limits)
    return members


def _check_member(member: zipfile.ZipInfo, limits: BundleLimits) -> None:
    name = member.filename
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or "\\" in name or _DRIVE.match(name) or ".." in parts:
        raise BundleError(
            "unsafe_path", Message(N_("В архиве есть недопустимый путь: %(name)s"), {"name": name[:200]})
        )
    if stat.S_ISLNK(member.external_attr >> 16):
        raise BundleError(
            "symlink", Message(N_("В архиве есть символическая ссылка: %(name)s"), {"name": name[:200]})
        )
    if member.flag_bits & 0x1:
        raise BundleError("encrypted", N_("Архив защищён паролем: нужен архив без пароля."))
    if member.file_size > _most_from(member, limits):
        raise _too_compressed(name)


def _most_from(member: zipfile.ZipInfo, limits: BundleLimits) -> int:
    """Return the most bytes an entry may unpack to before its compression is suspicious."""
    return max(limits.ratio_floor, member.compress_size * limits.max_ratio)


def _too_compressed(name: str) -> BundleError:
    return BundleError(
        "suspicious_ratio",
        Message(
            N_("Файл %(name)s в архиве сжат подозрительно сильно: такие архивы не принимаются."),
            {"name": name[:200]},
        ),
    )


def _too_large(limits: BundleLimits) -> BundleError:
    return BundleError(
        "too_large",
        Message(N_("Архив в распакованном виде больше %(limit)s МБ."), {"limit": limits.max_bytes // MIB}),
    )


def _unpack(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], limits: BundleLimits, into: Path | None
) -> int:
    """Return the bytes the entries decompress to, written under `into` (or only counted)."""
    total = 0
    for member in members:
        target = None if into is None else into.joinpath(*PurePosixPath(member.filename).parts)
        try:
            if member.is_dir():
                if target is not None:
                    target.mkdir(parents=True, exist_ok=True)
                continue
            total = _unpack_file(archive, member, limits, target, total)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise _corrupt() from exc
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
            raise _corrupt() from exc  # a file and a folder of one name: a damaged or crafted archive
    return total


def _unpack_file(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: BundleLimits, target: Path | None, total: int
) -> int:
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(member) as source, _sink(target) as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            total += len(chunk)
            # Counted here, not taken from the headers: more than declared is a lie, and stops at once.
            if written > member.file_size:
                raise _corrupt()
            if written > _most_from(member, limits):
                raise _too_compressed(member.filename)
            if total > limits.max_bytes:
                raise _too_large(limits)
            sink(chunk)
    return total


@contextmanager
def _sink(target: Path | None) -> Iterator[Callable[[bytes], object]]:
    if target is None:
        yield lambda chunk: None
        return
    with target.open("xb") as f:
        yield f.write


def _entry_page(members: list[zipfile.ZipInfo]) -> str:
    """Return the bundle's start page: index.html at the root, or inside the one folder all else is in."""
    names = {m.filename for m in members if not m.is_dir()}
    if ENTRY_PAGE in names:
        return ENTRY_PAGE
    tops = {PurePosixPath(m.filename).parts[0] for m in members}
    tops.discard(_MACOS_LEFTOVERS)
    if len(tops) == 1:
        entry = f"{tops.pop()}/{ENTRY_PAGE}"
        if entry in names:
            return entry
    raise BundleError(
        "no_index",
        N_("В архиве нет страницы index.html: она должна быть в корне архива или в его единственной папке."),
    )
