"""`player.cache.ContentCache` against a real HTTP server playing the controller's content endpoint."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from player.cache import ContentCache, FetchError
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
