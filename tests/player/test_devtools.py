"""`player.devtools`: the DevTools client against a real headless Chromium showing the kiosk page."""

from __future__ import annotations

import io
import socket

import pytest
import requests
from PIL import Image

from player.devtools import DevTools, DevToolsError
from tests.player.conftest import ContentServer, KioskBrowser, KioskThread, close_to, pixel

pytestmark = pytest.mark.timeout(60)

IDLE_BLUE = (0x10, 0x24, 0x3E)


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_targets_list_the_kiosk_page(kiosk: KioskThread, kiosk_browser: KioskBrowser) -> None:
    devtools = DevTools(kiosk_browser.devtools_url(), kiosk.url + "/")

    pages = [t for t in devtools.targets() if t["type"] == "page"]

    assert [t["url"] for t in pages] == [kiosk.url + "/"]
    assert devtools.page()["id"] == pages[0]["id"]


def test_page_prefers_the_kiosk_page_over_any_other(kiosk: KioskThread, kiosk_browser: KioskBrowser) -> None:
    url = kiosk_browser.devtools_url()
    opened = requests.put(f"{url}/json/new?about:blank", timeout=5)  # a second tab, opened last
    opened.raise_for_status()

    assert len([t for t in DevTools(url).targets() if t["type"] == "page"]) == 2
    assert DevTools(url, kiosk.url + "/").page()["url"] == kiosk.url + "/"
    assert DevTools(url, "http://127.0.0.1:1/").page()["type"] == "page"  # no kiosk page: any page will do


def test_call_runs_in_the_kiosk_page(kiosk: KioskThread, kiosk_browser: KioskBrowser) -> None:
    devtools = DevTools(kiosk_browser.devtools_url(), kiosk.url + "/")

    result = devtools.call("Runtime.evaluate", {"expression": "document.title", "returnByValue": True})

    assert result["result"]["value"] == "ClassCast"


def test_screenshot_is_a_png_of_what_the_page_shows(kiosk: KioskThread, kiosk_browser: KioskBrowser) -> None:
    devtools = DevTools(kiosk_browser.devtools_url(), kiosk.url + "/")
    viewport = "[innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]"

    png = devtools.screenshot_png()

    screen = devtools.call("Runtime.evaluate", {"expression": viewport, "returnByValue": True})
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert list(image.size) == screen["result"]["value"]  # the whole screen, not a part of it
    assert close_to(pixel(png, 0.05, 0.5), IDLE_BLUE), pixel(png, 0.05, 0.5)


def test_unknown_method_is_a_failed_call(kiosk: KioskThread, kiosk_browser: KioskBrowser) -> None:
    devtools = DevTools(kiosk_browser.devtools_url(), kiosk.url + "/")

    with pytest.raises(DevToolsError) as caught:
        devtools.call("Page.noSuchMethod")

    assert caught.value.code == "call_failed"
    assert "noSuchMethod" in str(caught.value)


@pytest.mark.parametrize("where", ["nothing listening", "not a browser"])
def test_no_browser_is_said_so(where: str, content_server: ContentServer) -> None:
    url = f"http://127.0.0.1:{closed_port()}" if where == "nothing listening" else content_server.url
    devtools = DevTools(url, timeout=2)

    for attempt in (devtools.targets, devtools.page, devtools.screenshot_png):
        with pytest.raises(DevToolsError) as caught:
            attempt()
        assert caught.value.code == "no_browser"
