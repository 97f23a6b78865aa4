"""The content store: uploads typed by their bytes, PDFs made into pages, bundles checked, quotas kept."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from classcast.bundle import BundleError, BundleLimits, check_bundle, extract_bundle
from controller.app import Services, create_app
from controller.store import content, orgs, panels
from controller.store.content import ContentError
from tests import bundles
from tests.pdfs import solid_pdf

from .conftest import World

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SMALL = BundleLimits(max_bytes=1024 * 1024, max_files=50)


def upload(svc: Services, data: bytes, school_id: int | None, **settings: Any) -> dict[str, Any]:
    return content.add_material(
        svc.db, svc.content, io.BytesIO(data), "Материал", school_id, None, {**svc.settings, **settings}
    )


def test_types_are_read_from_the_bytes_never_the_name() -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(16)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(16)
    ebml = bytes.fromhex("1a45dfa3 9f 4286810142f7810142f2810442f381084282") + b"\x84"
    assert content.sniff_mime(mp4) == "video/mp4"
    assert content.sniff_mime(ebml + b"webm" + bytes.fromhex("4287810442858102")) == "video/webm"
    assert content.sniff_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert (
        content.sniff_mime(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>')
        == "image/svg+xml"
    )
    assert content.sniff_mime(solid_pdf([(0, 0, 0)])) == "application/pdf"
    assert content.sniff_mime(bundles.good_bundle()) == "application/zip"
    for other in (heic, ebml + b"matr", b"<html><script>alert(1)</script></html>", b"PK\x05\x06" + bytes(18)):
        with pytest.raises(ContentError) as refused:
            content.sniff_mime(other)
        assert refused.value.code == "unsupported_type" and "MP4, WebM" in str(refused.value)


def test_a_bundle_whose_paths_leave_its_folder_is_refused() -> None:
    for name in (
        "../evil.html",
        "lesson/../../evil.html",
        "/etc/cron.d/evil",
        "..\\evil.html",
        "C:evil.html",
    ):
        with pytest.raises(BundleError) as refused:
            check_bundle(io.BytesIO(bundles.zip_of({"index.html": bundles.INDEX, name: b"x"})), SMALL)
        assert refused.value.code == "unsafe_path", name
        assert CYRILLIC.search(str(refused.value))
    with pytest.raises(BundleError) as refused:
        check_bundle(io.BytesIO(bundles.symlink_bundle()), SMALL)
    assert refused.value.code == "symlink"


def test_a_bundle_too_big_too_full_or_locked_is_refused() -> None:
    cases = {
        "suspicious_ratio": bundles.bomb_bundle(20 * 1024 * 1024),  # 20 MiB of zeros in ~20 KiB
        "too_large": bundles.random_bundle(2 * 1024 * 1024),
        "too_many_files": bundles.many_files_bundle(60),
        "encrypted": bundles.encrypted_bundle(),
        "no_index": bundles.zip_of({"a/index.html": bundles.INDEX, "b/app.js": b""}),
        "corrupt": b"PK\x03\x04" + bytes(40),
    }
    for code, data in cases.items():
        with pytest.raises(BundleError) as refused:
            check_bundle(io.BytesIO(data), SMALL)
        assert refused.value.code == code
        assert CYRILLIC.search(str(refused.value))


def test_a_header_that_lies_about_its_size_writes_nothing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(bundles.lying_bundle(50 * 1024 * 1024, declared=100))  # passes every header check
    with pytest.raises(BundleError) as refused:
        extract_bundle(bomb, tmp_path / "bundles" / "lesson", BundleLimits())
    assert refused.value.code == "corrupt"
    assert list((tmp_path / "bundles").iterdir()) == []  # no half-written folder, no staging left


def test_a_good_bundle_is_unpacked_whole_into_its_folder(tmp_path: Path) -> None:
    archive = tmp_path / "lesson.zip"
    archive.write_bytes(bundles.good_bundle("урок"))
    dest = tmp_path / "bundles" / "abc"
    info = extract_bundle(archive, dest, SMALL)
    assert (info.entry, info.files) == ("урок/index.html", 3)
    assert (dest / info.entry).read_bytes() == bundles.INDEX
    assert (dest / "урок" / "js" / "app.js").is_file()
    assert info.size == sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert extract_bundle(archive, dest, SMALL) == info  # unpacked before: kept as it is
    assert [p.name for p in (tmp_path / "bundles").iterdir()] == ["abc"]


def test_a_refused_upload_leaves_nothing_behind(svc: Services, world: World) -> None:
    cases: list[tuple[str, bytes, dict[str, Any], str]] = [
        ("unsupported_type", b"<html><script>alert(1)</script></html>", {}, "PNG, JPEG"),
        ("empty", b"", {}, "пуст"),
        ("too_large", PNG, {"max_upload_bytes": 10}, "МБ"),
        ("quota_exceeded", PNG, {"school_quota_bytes": 50}, "Места для материалов"),
        ("quota_exceeded", solid_pdf([(9, 9, 9)]), {"school_quota_bytes": 1000}, "Места"),  # pages count
        ("bad_bundle", bundles.zip_of({"index.html": b"", "../x.js": b""}), {}, "../x.js"),
        ("bad_bundle", bundles.bomb_bundle(2 * 1024 * 1024), {"bundle_max_ratio": 10}, "подозрительно"),
        ("bad_pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n", {}, "повреждён"),
        ("bad_pdf", solid_pdf([(1, 1, 1)] * 3), {"pdf_max_pages": 2}, "не больше 2"),
    ]
    for code, data, settings, words in cases:
        with pytest.raises(ContentError) as refused:
            upload(svc, data, world.school_a, **settings)
        status = 413 if code in ("too_large", "quota_exceeded") else 400
        assert (refused.value.code, refused.value.status) == (code, status)
        assert words in str(refused.value), code
        assert list(svc.content.root.iterdir()) == [], code  # no temporary folder, no file
    assert (svc.db.read["content"].count, svc.db.read["material"].count) == (0, 0)


def test_a_pdf_becomes_page_images_served_to_panels(svc: Services, world: World, client: FlaskClient) -> None:
    colours = [(255, 0, 0), (0, 128, 255), (20, 200, 40)]
    pdf = solid_pdf(colours)
    material = upload(svc, pdf, world.school_a)
    assert (material["kind"], material["mime"], material["pages"], material["size"]) == (
        "pdf",
        "application/pdf",
        3,
        len(pdf),
    )
    item = content.item_of(material)
    assert item["kind"] == "pdf" and item["title"] == "Материал" and len(item["pages"]) == 3
    headers = {"Authorization": f"Bearer {world.token_a}"}
    for page, colour in zip(item["pages"], colours, strict=True):
        assert content.servable(svc.db.read, page["sha256"]) == page["mime"] == "image/png"
        with client.get(f"/api/panel/v1/content/{page['sha256']}", headers=headers) as response:
            assert response.status_code == 200 and response.headers["ETag"] == f'"{page["sha256"]}"'
            assert hashlib.sha256(response.data).hexdigest() == page["sha256"]
            image = Image.open(io.BytesIO(response.data))
            assert max(image.size) == 1920
            assert image.convert("RGB").getpixel((image.width // 2, image.height // 2)) == colour
    # The usage counts the PDF and its pages; a player resumes a download with Range.
    assert content.school_usage(svc.db.read, world.school_a) == len(pdf) + sum(
        p["size"] for p in item["pages"]
    )
    url = f"/api/panel/v1/content/{material['sha256']}"
    with client.get(url, headers={**headers, "Range": "bytes=100-199"}) as partial:
        assert partial.status_code == 206 and partial.data == pdf[100:200]
        assert partial.mimetype == "application/pdf"


def test_one_file_is_stored_once_and_seen_only_by_its_schools(svc: Services, world: World) -> None:
    first = upload(svc, bundles.good_bundle(), world.school_a)
    again = upload(svc, bundles.good_bundle(), world.school_a)
    assert again == first
    assert content.item_of(first) == {
        "kind": "html5",
        "sha256": first["sha256"],
        "size": first["size"],
        "title": "Материал",
        "entry": "index.html",
    }
    other = upload(svc, bundles.good_bundle(), world.school_b)
    assert other["id"] != first["id"]
    assert svc.db.read["content"].count == 1 and svc.db.read["material"].count == 2
    assert content.get_material(svc.db.read, first["id"], world.school_b) is None
    assert content.material_for_content(svc.db.read, first["sha256"], world.school_b)["id"] == other["id"]
    shared = content.add_content(svc.db, svc.content, PNG, "Образец", None)
    assert (shared["kind"], shared["mime"], shared["title"]) == ("image", "image/png", "Образец")
    assert [m["id"] for m in content.list_materials(svc.db.read, world.school_a)] == [
        first["id"],
        shared["id"],
    ]
    assert content.get_material(svc.db.read, shared["id"], world.school_b)["sha256"] == shared["sha256"]
    assert content.school_usage(svc.db.read, world.school_a) == first["size"]  # shared ones count for none


def test_a_relative_data_folder_still_serves_panels_their_files(tmp_path: Path, monkeypatch: Any) -> None:
    """`--data-dir var/controller` is taken from the working folder, not from the package's."""
    monkeypatch.chdir(tmp_path)
    app = create_app({"data_dir": "var/controller", "secure_cookies": False})
    svc: Services = app.extensions["classcast"]
    try:
        school = svc.db.write(
            lambda db: orgs.create_school(
                db,
                orgs.create_municipality(db, orgs.create_region(db, "54", "Область"), "Город"),
                "Школа",
                "Ш",
            )
        )
        room = svc.db.write(orgs.create_room, school, "101")
        _, token = svc.db.write(panels.enroll_panel, room, "Панель", "key")
        picture = io.BytesIO()
        Image.new("RGB", (8, 8), (1, 2, 3)).save(picture, format="PNG")
        material = upload(svc, picture.getvalue(), school)
        url = f"/api/panel/v1/content/{material['sha256']}"
        with app.test_client().get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            assert (
                response.status_code == 200
                and hashlib.sha256(response.data).hexdigest() == material["sha256"]
            )
        assert svc.data_dir == tmp_path / "var" / "controller"
    finally:
        svc.db.close()
