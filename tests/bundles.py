"""HTML5 bundles for tests, built in memory: a good one, and each kind of bad one a bundle check refuses."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile

INDEX = b"<!doctype html><title>Lesson</title><link rel=stylesheet href=style.css><h1>Lesson</h1>"


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Return a ZIP holding `files` (name -> bytes), in order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def good_bundle(folder: str = "") -> bytes:
    """Return a lesson bundle: index.html, a stylesheet and a script, at the root or inside `folder`."""
    prefix = f"{folder}/" if folder else ""
    return zip_of(
        {
            f"{prefix}index.html": INDEX,
            f"{prefix}style.css": b"h1 { color: #c60; }",
            f"{prefix}js/app.js": b"window.parent.postMessage({ready: true}, '*');",
        }
    )


def symlink_bundle() -> bytes:
    """Return a bundle whose second entry is a symbolic link to /etc/passwd."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("index.html", INDEX)
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return out.getvalue()


def bomb_bundle(size: int) -> bytes:
    """Return a bundle with an entry of `size` zero bytes: it packs about a thousand times smaller."""
    return zip_of({"index.html": INDEX, "data.bin": bytes(size)})


def lying_bundle(size: int, declared: int = 100) -> bytes:
    """Return a bundle whose big entry of `size` zero bytes says in both headers that it holds `declared`."""
    return patched(bomb_bundle(size), "data.bin", file_size=declared)


def random_bundle(size: int) -> bytes:
    """Return a bundle with an entry of `size` random bytes, which do not compress."""
    return zip_of({"index.html": INDEX, "data.bin": os.urandom(size)})


def many_files_bundle(count: int) -> bytes:
    return zip_of({"index.html": INDEX, **{f"f{i}.txt": b"x" for i in range(count)}})


def encrypted_bundle() -> bytes:
    """Return a bundle whose entry is flagged encrypted (the stdlib cannot encrypt; the flag is enough)."""
    return patched(good_bundle(), "index.html", flag_bits=0x1)


# Offsets of the fields patched, in a local file header and in a central directory header.
_LOCAL = {"flag_bits": (6, "<H"), "file_size": (22, "<I")}
_CENTRAL = {"flag_bits": (8, "<H"), "file_size": (24, "<I")}


def patched(data: bytes, name: str, **fields: int) -> bytes:
    """Return the ZIP with the named entry's header fields set to `fields`, in both of its headers."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = archive.getinfo(name)
        central = _central_header_offset(data, archive, name)
    for field, value in fields.items():
        at, fmt = _LOCAL[field]
        struct.pack_into(fmt, out, member.header_offset + at, value)
        at, fmt = _CENTRAL[field]
        struct.pack_into(fmt, out, central + at, value)
    return bytes(out)


def _central_header_offset(data: bytes, archive: zipfile.ZipFile, name: str) -> int:
    at = archive.start_dir
    while data[at : at + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        if data[at + 46 : at + 46 + name_len].decode() == name:
            return at
        at += 46 + name_len + extra_len + comment_len
    raise KeyError(name)
