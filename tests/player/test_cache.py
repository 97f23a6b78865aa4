"""`player.cache.ContentCache` against a real HTTP server playing the controller's content endpoint."""

from __future__ import annotations

import io
import os
import socket
import zipfile
from pathlib import Path

import pytest

from player.cache import BUNDLES, DEFAULT_MAX_BYTES, CacheStatus, ContentCache, FetchError, files_of
from tests.bundles import good_bundle
from tests.player.conftest import CONTENT_PATH, HTTP_TIMEOUT, ContentServer, solid_png

RED = solid_png((255, 0, 0))


def test_fetch_lands_the_right_bytes_and_type_sending_the_token(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")

    path = cache.ensure(sha256, "image/png")

    assert path == cache.root / sha256
    assert path.read_bytes() == RED
    assert (cache.root / f"{sha256}.type").read_text() == "image/png"
    assert cache.get(sha256) == (path, "image/png")
    assert content_server.requests == [(CONTENT_PATH + sha256, f"Bearer {content_server.token}")]
    assert sorted(os.listdir(cache.root)) == [sha256, f"{sha256}.type"]  # no temporary file is left


def test_second_ensure_does_not_download_again(cache: ContentCache, content_server: ContentServer) -> None:
    sha256 = content_server.add(RED, "image/png")
    cache.ensure(sha256, "image/png")

    again = cache.ensure(sha256, "image/png")

    assert again.read_bytes() == RED
    assert content_server.content_requests(sha256) == 1


def test_cache_survives_a_new_cache_object_on_the_same_folder(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    cache.ensure(sha256, "image/png")

    restarted = ContentCache(cache.root, content_server.url, HTTP_TIMEOUT, token=content_server.token)

    assert restarted.get(sha256) == (cache.root / sha256, "image/png")
    restarted.ensure(sha256, "image/png")
    assert content_server.content_requests(sha256) == 1


def test_body_with_another_sha256_is_refused_and_never_kept(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    content_server.lies[sha256] = solid_png((0, 0, 255))

    with pytest.raises(FetchError) as caught:
        cache.ensure(sha256, "image/png")

    assert caught.value.code == "checksum_mismatch"
    assert os.listdir(cache.root) == []  # neither the item nor a temporary file
    assert cache.get(sha256) is None


@pytest.mark.parametrize("token", [None, "not-the-panel-token"])
def test_without_the_right_token_the_fetch_fails(
    token: str | None, tmp_path: Path, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    cache = ContentCache(tmp_path / "cache", content_server.url, HTTP_TIMEOUT, token=token)

    with pytest.raises(FetchError) as caught:
        cache.ensure(sha256, "image/png")

    assert caught.value.code == "fetch_failed"
    assert "401" in str(caught.value)
    assert os.listdir(cache.root) == []


def test_content_the_controller_does_not_hold_fails(
    cache: ContentCache, content_server: ContentServer
) -> None:
    with pytest.raises(FetchError) as caught:
        cache.ensure("0" * 64, "image/png")

    assert caught.value.code == "fetch_failed"
    assert "404" in str(caught.value)
    assert os.listdir(cache.root) == []


def test_download_cut_half_way_fails_and_leaves_nothing(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    content_server.cut.add(sha256)

    with pytest.raises(FetchError) as caught:
        cache.ensure(sha256, "image/png")

    assert caught.value.code == "fetch_failed"
    assert os.listdir(cache.root) == []


def test_controller_that_is_down_fails(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port that was just free on loopback: nothing listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    cache = ContentCache(tmp_path / "cache", f"http://127.0.0.1:{port}", HTTP_TIMEOUT, token="t")

    with pytest.raises(FetchError) as caught:
        cache.ensure("1" * 64, "image/png")

    assert caught.value.code == "fetch_failed"
    assert os.listdir(cache.root) == []


@pytest.mark.parametrize("sha256", ["", "abc", "g" * 64, "A" * 64, "0" * 63, "0" * 65, "../" + "0" * 61])
def test_bad_sha256_is_a_bad_item_and_nothing_is_fetched(
    sha256: str, cache: ContentCache, content_server: ContentServer
) -> None:
    with pytest.raises(FetchError) as caught:
        cache.ensure(sha256, "image/png")

    assert caught.value.code == "bad_item"
    assert cache.get(sha256) is None
    assert content_server.requests == []


# --- the cap: least recently used first, never what is needed --------------------------------------

KIB = 1024


class Clock:
    """The panel's wall clock, moved by hand: a use's time is what the order is made of."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def later(self, seconds: float = 3600.0) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def capped(
    root: Path, server: ContentServer, clock: Clock, max_bytes: int, needed: set[str] | None = None
) -> ContentCache:
    """Return a cache over `root` with a cap, told that `needed` (a set the test may change) is needed."""
    wanted = set() if needed is None else needed
    return ContentCache(
        root, server.url, HTTP_TIMEOUT, server.token, max_bytes=max_bytes, needed=lambda: wanted, clock=clock
    )


def files(server: ContentServer, count: int, size: int = KIB) -> list[str]:
    """Return the sha256 of `count` files of `size` bytes each, now held by the controller."""
    return [server.add(bytes([n]) * size, "image/png") for n in range(count)]


def fetch_in_turn(cache: ContentCache, clock: Clock, shas: list[str]) -> None:
    for sha256 in shas:
        clock.later()
        cache.ensure(sha256, "image/png")


def cached(cache: ContentCache) -> set[str]:
    """Return the items whose file is on disk (whatever the cache's memory says)."""
    return {name for name in os.listdir(cache.root) if len(name) == 64}


def test_cap_is_kept_after_each_fetch_by_removing_the_least_recently_used(
    tmp_path: Path, content_server: ContentServer, clock: Clock
) -> None:
    a, b, c, d = files(content_server, 4)
    cache = capped(tmp_path / "cache", content_server, clock, max_bytes=2 * KIB)

    fetch_in_turn(cache, clock, [a, b, c])
    assert cached(cache) == {b, c}
    fetch_in_turn(cache, clock, [d])

    assert cached(cache) == {c, d}
    assert not (cache.root / f"{a}.type").exists() and not (cache.root / f"{b}.type").exists()
    assert cache.get(a) is None and cache.get(b) is None
    assert cache.status() == CacheStatus(used_bytes=2 * KIB, max_bytes=2 * KIB, over_cap=False, items=2)


def test_a_use_moves_an_item_in_the_order_and_the_order_survives_a_restart(
    tmp_path: Path, content_server: ContentServer, clock: Clock
) -> None:
    a, b, c, d = files(content_server, 4)
    cache = capped(tmp_path / "cache", content_server, clock, max_bytes=3 * KIB)
    fetch_in_turn(cache, clock, [a, b, c])
    clock.later()
    assert cache.get(a) is not None  # `a` shown: now the most recently used

    restarted = capped(cache.root, content_server, clock, max_bytes=3 * KIB)
    fetch_in_turn(restarted, clock, [d])

    assert cached(restarted) == {a, c, d}  # `b`, the least recently used, went; `a` stayed
    assert (cache.root / a).stat().st_mtime == clock.now - 3600  # the use is kept in the file's mtime


def test_a_use_soon_after_the_last_one_writes_nothing(
    tmp_path: Path, content_server: ContentServer, clock: Clock
) -> None:
    cache = capped(tmp_path / "cache", content_server, clock, max_bytes=KIB)
    (a,) = files(content_server, 1)
    cache.ensure(a, "image/png")
    fetched = (cache.root / a).stat().st_mtime

    clock.later(60)  # a video is asked for by ranges many times a minute
    cache.get(a)

    assert (cache.root / a).stat().st_mtime == fetched
    clock.later(3600)
    cache.get(a)
    assert (cache.root / a).stat().st_mtime == clock.now


def test_the_cap_is_kept_at_start(tmp_path: Path, content_server: ContentServer, clock: Clock) -> None:
    a, b, c = files(content_server, 3)
    fetch_in_turn(capped(tmp_path / "cache", content_server, clock, max_bytes=10 * KIB), clock, [a, b, c])

    smaller = capped(tmp_path / "cache", content_server, clock, max_bytes=KIB)

    assert cached(smaller) == {c}
    assert smaller.status().used_bytes == KIB


def test_what_is_needed_stays_over_the_cap_said_once_until_it_is_needed_no_more(
    tmp_path: Path, content_server: ContentServer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, c = files(content_server, 3)
    needed = {a, b, c}
    cache = capped(tmp_path / "cache", content_server, clock, max_bytes=KIB + KIB // 2, needed=needed)

    fetch_in_turn(cache, clock, [a, b, c])

    assert cached(cache) == {a, b, c}
    assert cache.status() == CacheStatus(used_bytes=3 * KIB, max_bytes=KIB + KIB // 2, over_cap=True, items=3)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "over its cap" in r.getMessage()]
    assert len(warnings) == 1  # over the cap after `b` and after `c`: said once

    needed.clear()
    needed.add(b)
    status = cache.trim()

    assert cached(cache) == {b}
    assert status == CacheStatus(used_bytes=KIB, max_bytes=KIB + KIB // 2, over_cap=False, items=1)


def test_a_cache_told_nothing_of_what_is_needed_removes_nothing(
    tmp_path: Path, content_server: ContentServer, clock: Clock
) -> None:
    a, b = files(content_server, 2)
    cache = ContentCache(
        tmp_path / "cache", content_server.url, HTTP_TIMEOUT, content_server.token, max_bytes=0
    )

    fetch_in_turn(cache, clock, [a, b])

    assert cached(cache) == {a, b}
    assert cache.status().over_cap is True


def test_the_pages_of_a_pdf_over_the_cap_are_all_there_when_it_is_shown(
    tmp_path: Path, content_server: ContentServer, clock: Clock
) -> None:
    pages = files(content_server, 5)
    pdf = {"kind": "pdf", "pages": [{"sha256": sha256, "mime": "image/png"} for sha256 in pages]}
    cache = capped(tmp_path / "cache", content_server, clock, max_bytes=2 * KIB)

    cache.ensure_item(pdf)

    assert cached(cache) == set(pages)  # fetching the last page did not evict the first
    assert files_of([pdf, None]) == set(pages)
    assert cache.trim().used_bytes <= 2 * KIB  # once shown, it is up to `needed` to keep it


def test_a_bundle_counts_unpacked_and_goes_with_its_zip(
    tmp_path: Path, content_server: ContentServer, clock: Clock
) -> None:
    archive = good_bundle()
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        unpacked = sum(member.file_size for member in opened.infolist())
    bundle = content_server.add(archive, "application/zip")
    (other,) = files(content_server, 1)
    cache = capped(tmp_path / "cache", content_server, clock, max_bytes=len(archive) + unpacked)
    cache.ensure_item({"kind": "html5", "sha256": bundle, "mime": "application/zip", "entry": "index.html"})
    assert cache.status().used_bytes == len(archive) + unpacked
    restarted = capped(cache.root, content_server, clock, max_bytes=len(archive) + unpacked)
    assert restarted.status().used_bytes == len(archive) + unpacked  # counted again from the disk

    fetch_in_turn(restarted, clock, [other])

    assert cached(restarted) == {other}
    assert os.listdir(restarted.root / BUNDLES) == []
    assert restarted.bundle_file(bundle, "index.html") is None


# --- corruption and power cuts ----------------------------------------------------------------------


def corrupt(path: Path) -> None:
    """Flip a byte in the middle of the file, as a failing SD card may."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_file_corrupted_on_disk_is_found_removed_and_fetched_again(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    cache.ensure(sha256, "image/png")
    assert cache.verify(sha256) is True
    corrupt(cache.root / sha256)
    restarted = ContentCache(cache.root, content_server.url, HTTP_TIMEOUT, token=content_server.token)

    assert restarted.verify(sha256) is False

    assert restarted.get(sha256) is None
    assert os.listdir(restarted.root) == []
    assert restarted.ensure(sha256, "image/png").read_bytes() == RED
    assert content_server.content_requests(sha256) == 2


def test_ensure_with_verify_fetches_a_corrupted_file_again_once_per_process(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    cache.ensure(sha256, "image/png")
    corrupt(cache.root / sha256)
    restarted = ContentCache(cache.root, content_server.url, HTTP_TIMEOUT, token=content_server.token)

    path = restarted.ensure(sha256, "image/png", verify=True)
    restarted.ensure(sha256, "image/png", verify=True)

    assert path.read_bytes() == RED
    assert content_server.content_requests(sha256) == 2  # fetched again once, then known good


def test_a_corrupted_file_that_cannot_be_fetched_right_is_never_handed_out(
    cache: ContentCache, content_server: ContentServer
) -> None:
    sha256 = content_server.add(RED, "image/png")
    cache.ensure(sha256, "image/png")
    corrupt(cache.root / sha256)
    content_server.lies[sha256] = solid_png((0, 0, 255))
    restarted = ContentCache(cache.root, content_server.url, HTTP_TIMEOUT, token=content_server.token)

    with pytest.raises(FetchError) as caught:
        restarted.ensure_item({"kind": "image", "sha256": sha256, "mime": "image/png"}, verify=True)

    assert caught.value.code == "checksum_mismatch"
    assert restarted.get(sha256) is None
    assert os.listdir(restarted.root) == []


def test_what_a_power_cut_left_half_done_is_removed_at_start(
    cache: ContentCache, content_server: ContentServer
) -> None:
    kept = content_server.add(RED, "image/png")
    cache.ensure(kept, "image/png")
    half, typeless, lost = "a" * 64, "b" * 64, "c" * 64
    (cache.root / ".incoming-x1y2z3").write_bytes(b"half a download")
    (cache.root / f"{half}.type.tmp").write_bytes(b"image/")
    (cache.root / typeless).write_bytes(b"renamed, but its type never written")
    (cache.root / f"{lost}.type").write_text("image/png")  # its file removed, then the power went
    (cache.root / BUNDLES / f".{half}-x1y2z3").mkdir(parents=True)  # unpacking
    (cache.root / BUNDLES / lost / "js").mkdir(parents=True)  # its zip removed first
    (cache.root / BUNDLES / lost / "js" / "app.js").write_bytes(b"1")

    restarted = ContentCache(cache.root, content_server.url, HTTP_TIMEOUT, token=content_server.token)

    assert sorted(os.listdir(restarted.root)) == sorted([BUNDLES, kept, f"{kept}.type"])
    assert os.listdir(restarted.root / BUNDLES) == []
    assert restarted.get(kept) == (restarted.root / kept, "image/png")
    assert restarted.get(typeless) is None and restarted.get(lost) is None
    assert restarted.status() == CacheStatus(len(RED), DEFAULT_MAX_BYTES, over_cap=False, items=1)


def test_a_negative_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0 bytes or more"):
        ContentCache(tmp_path / "cache", "http://127.0.0.1:9", HTTP_TIMEOUT, max_bytes=-1)
