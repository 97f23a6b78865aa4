"""Every item kind, the remote's view and alerts on the kiosk page in a real Chromium, read in pixels.

One kiosk, one content server and one browser page serve the whole module (a browser start is the
dear part); each test puts its own cast on screen first. The video is made in the browser itself
(a canvas recorded by MediaRecorder into WebM), so no encoder is needed on the machine.
"""

from __future__ import annotations

import base64
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from classcast.protocol import DEFAULT_VIEW
from player.cache import ContentCache
from player.commands import Context, alert, control, show
from tests.player.conftest import (
    HTTP_TIMEOUT,
    ContentServer,
    KioskThread,
    _handler_for,  # the content server's handler, served here once for the module
    close_to,
    count_near,
    pixel,
    request,
    solid_png,
)
from tests.player.standin import wait_for

pytestmark = pytest.mark.timeout(90)

RED, BLUE, BLACK, WHITE = (255, 0, 0), (0, 0, 255), (0, 0, 0), (255, 255, 255)
VIDEO_GREEN = (0, 192, 0)
YELLOW, MAGENTA = (255, 255, 0), (255, 0, 255)
CHALKBOARD = (0x1F, 0x4E, 0x3D)
DANGER = (0xC6, 0x28, 0x28)
WAIT = 20.0  # longer than the player's show timeout: a slow screen fails as the player's answer
# Run in a page: record a green canvas for `ms` into a WebM; give back its bytes in base64.
RECORD_WEBM = """async (ms) => {
  const canvas = Object.assign(document.createElement("canvas"), { width: 160, height: 90 });
  const g = canvas.getContext("2d");
  const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm;codecs=vp8" });
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  const draw = () => { g.fillStyle = "#00c000"; g.fillRect(0, 0, 160, 90); };
  draw();
  recorder.start(100);
  const timer = setInterval(draw, 40);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  recorder.stop();
  await stopped;
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""
# Run in the kiosk page: count each moment the stage holds nothing on screen (a black gap).
WATCH_GAPS = """() => {
  const stage = document.getElementById("stage");
  window.gaps = 0;
  new MutationObserver(() => {
    if (!stage.querySelector(":scope > :not(.loading)")) window.gaps += 1;
  }).observe(stage, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
}"""
# A bundle that paints the remote's page (0 yellow, 1 magenta), and turns red if it can reach
# anything of the kiosk's: its parent's document, or the kiosk's own endpoints.
BUNDLE_PAGE = b"""<!doctype html><html><body style="margin:0;background:#fff">
<script src="app.js"></script></body></html>"""
BUNDLE_SCRIPT = b"""
const colours = ["#ffff00", "#ff00ff"];
let escaped = false;
try { escaped = Boolean(parent.document.body); } catch (e) {}
fetch("/healthz").then(() => { escaped = true; document.body.style.background = "#ff0000"; }, () => {});
window.addEventListener("message", (event) => {
  if (event.data && event.data.classcast === "page" && !escaped) {
    document.body.style.background = colours[event.data.page % 2];
  }
});
"""


@dataclass
class Rig:
    content: ContentServer
    kiosk: KioskThread
    ctx: Context


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The content server, the kiosk and the player's command context over them, for the module."""
    content = ContentServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(content))
    content.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    cache = ContentCache(tmp_path_factory.mktemp("cache"), content.url, HTTP_TIMEOUT, content.token)
    kiosk = KioskThread(cache.get).start()
    kiosk.kiosk.bundle_file = cache.bundle_file
    try:
        yield Rig(content, kiosk, Context(kiosk.kiosk, cache, show_timeout=10.0))
    finally:
        kiosk.stop()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def screen(browser: Browser, rig: Rig) -> Iterator[Page]:
    """The kiosk page in Chromium, 640×360, attached to the kiosk's events for the whole module."""
    context = browser.new_context(viewport={"width": 640, "height": 360})
    page = context.new_page()
    page.goto(rig.kiosk.url + "/")
    wait_for(lambda: request(rig.kiosk.url + "/healthz").body == b"attached", 10, "the page to attach")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def run(rig: Rig, screen: Page) -> Callable[..., dict[str, Any]]:
    """Run a command (show, control, alert) in the kiosk's hub, the page on screen; return its ack."""

    def call(command: Callable[..., dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
        return rig.kiosk.call(command, rig.ctx, payload).result(WAIT)

    return call


def shown(run: Callable[..., dict[str, Any]], cast_id: str, item: dict[str, Any], **view: Any) -> None:
    answer = run(show, {"cast_id": cast_id, "item": item, "view": {**DEFAULT_VIEW, **view}})
    assert answer["ok"] is True, answer


def steer(run: Callable[..., dict[str, Any]], cast_id: str, **view: Any) -> dict[str, Any]:
    """Send the remote's whole view of `cast_id`; return the applied view from the ack."""
    answer = run(control, {"cast_id": cast_id, "view": {**DEFAULT_VIEW, **view}})
    assert answer["ok"] is True, answer
    return answer["view"]


def centre(screen: Page) -> tuple[int, int, int]:
    return pixel(screen.screenshot(), 0.5, 0.5)


def near(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return close_to(colour, expected, tolerance=40)


def image(content: ContentServer, rgb: tuple[int, int, int], title: str = "") -> dict[str, Any]:
    return {
        "kind": "image",
        "sha256": content.add(solid_png(rgb), "image/png"),
        "mime": "image/png",
        "title": title,
    }


def video_state(screen: Page) -> dict[str, Any]:
    return screen.evaluate(
        "(() => { const v = document.querySelector('#stage video');"
        " return v && { paused: v.paused, time: v.currentTime, muted: v.muted }; })()"
    )


# --- the kinds --------------------------------------------------------------------------------------


def test_video_plays_muted_pauses_for_an_alert_and_on_the_remote(
    rig: Rig, screen: Page, run: Callable[..., dict[str, Any]]
) -> None:
    content = rig.content
    shown(run, "red", image(content, RED))
    recorder = screen.context.new_page()
    webm = base64.b64decode(recorder.evaluate(RECORD_WEBM, 2500))
    recorder.close()
    item = {"kind": "video", "sha256": content.add(webm, "video/webm"), "mime": "video/webm", "title": "Опыт"}

    screen.evaluate(WATCH_GAPS)

    shown(run, "video", item)

    assert screen.evaluate("window.gaps") == 0  # the image stayed until the video was ready
    playing = wait_for(
        lambda: (v := video_state(screen)) and not v["paused"] and v["time"] > 0.2 and v, 5, "play"
    )
    assert playing["muted"] is True
    assert near(centre(screen), VIDEO_GREEN), centre(screen)
    assert screen.locator("#stage img").count() == 0  # the image made way for it
    # Under an alert the video waits, and goes on once the alert is gone.
    assert run(alert, {"alert": {"id": "a1", "title": "", "text": "Перемена", "level": "info"}})["ok"] is True
    assert video_state(screen)["paused"] is True
    assert run(alert, {"alert": None})["ok"] is True
    assert video_state(screen)["paused"] is False

    assert steer(run, "video", playing=False)["playing"] is False

    held = video_state(screen)
    assert held["paused"] is True
    assert video_state(screen)["time"] == held["time"]
    assert near(centre(screen), VIDEO_GREEN), centre(screen)  # the frame stays


def test_pdf_pages_follow_the_remote_frozen_holds_and_blank_hides(
    rig: Rig, screen: Page, run: Callable[..., dict[str, Any]]
) -> None:
    content = rig.content
    pages = [{"sha256": content.add(solid_png(rgb), "image/png"), "mime": "image/png"} for rgb in (RED, BLUE)]
    shown(run, "pdf", {"kind": "pdf", "title": "Урок", "pages": pages})
    assert near(centre(screen), RED)
    assert screen.locator("#caption").inner_text() == "Урок · 1 / 2"

    assert steer(run, "pdf", page=1)["page"] == 1  # "next"

    assert near(centre(screen), BLUE), centre(screen)
    assert screen.locator("#caption").inner_text() == "Урок · 2 / 2"

    steer(run, "pdf", page=0)
    steer(run, "pdf", page=0, frozen=True)
    steer(run, "pdf", page=1, frozen=True)  # the teacher pages on; the class still sees page 1
    assert near(centre(screen), RED), centre(screen)
    assert screen.evaluate("document.body.dataset.page") == "0"

    steer(run, "pdf", page=1)  # unfrozen: the page the teacher reached

    assert near(centre(screen), BLUE), centre(screen)

    steer(run, "pdf", page=1, blank=True)

    png = screen.screenshot()
    for x, y in ((0.5, 0.5), (0.5, 0.97), (0.05, 0.05)):  # the caption too
        assert close_to(pixel(png, x, y), BLACK), (x, y, pixel(png, x, y))

    steer(run, "pdf", page=1)

    assert near(centre(screen), BLUE), centre(screen)
    assert screen.locator("#caption").inner_text() == "Урок · 2 / 2"


def test_html5_bundle_draws_in_its_sandbox_and_follows_the_page(
    rig: Rig, screen: Page, run: Callable[..., dict[str, Any]]
) -> None:
    content = rig.content
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("lesson/index.html", BUNDLE_PAGE)
        bundle.writestr("lesson/app.js", BUNDLE_SCRIPT)
    sha256 = content.add(archive.getvalue(), "application/zip")

    shown(run, "html5", {"kind": "html5", "sha256": sha256, "entry": "lesson/index.html", "title": ""})

    wait_for(lambda: near(centre(screen), YELLOW), 5, "the bundle to paint page 0")
    frame = screen.locator("#stage iframe")
    assert frame.get_attribute("sandbox") == "allow-scripts"  # no allow-same-origin: an opaque origin

    steer(run, "html5", page=1)

    wait_for(lambda: near(centre(screen), MAGENTA), 5, "the bundle to paint page 1")


def test_text_card_shows_its_text_as_text(rig: Rig, screen: Page, run: Callable[..., dict[str, Any]]) -> None:
    item = {"kind": "text", "title": "<b>Тема</b>", "text": "Строка 1\n<img src=x onerror=alert(1)>"}

    shown(run, "text", item)

    png = screen.screenshot()
    assert close_to(pixel(png, 0.02, 0.03), CHALKBOARD), pixel(png, 0.02, 0.03)
    assert count_near(png, WHITE, (0.05, 0.1, 0.95, 0.9)) > 300  # the words are drawn
    assert screen.locator("#stage h1").inner_text() == "<b>Тема</b>"
    assert screen.locator("#stage b, #stage img").count() == 0  # no markup was made of it
    assert screen.locator("#caption").inner_text() == ""  # the title is on the card, not again below


def test_alert_covers_the_cast_until_cleared(
    rig: Rig, screen: Page, run: Callable[..., dict[str, Any]]
) -> None:
    shown(run, "blue", image(rig.content, BLUE, "Синий"))
    warning = {"id": "a2", "title": "Внимание", "text": "<i>Учебная</i> тревога", "level": "danger"}

    answer = run(alert, {"alert": warning})

    assert answer["ok"] is True
    png = screen.screenshot()
    for x, y in ((0.03, 0.03), (0.97, 0.97), (0.5, 0.97)):  # over the image and its caption
        assert close_to(pixel(png, x, y), DANGER), (x, y, pixel(png, x, y))
    assert screen.locator("#alert-text").inner_text() == "<i>Учебная</i> тревога"
    # A new cast goes on under the alert; the alert stays over it.
    shown(run, "red", image(rig.content, RED))
    assert close_to(pixel(screen.screenshot(), 0.5, 0.03), DANGER)

    assert run(alert, {"alert": None})["ok"] is True

    assert near(centre(screen), RED), centre(screen)
    assert screen.locator("#alert").is_hidden()


def test_a_scheduled_video_come_in_late_starts_where_the_rooms_other_panels_are(
    rig: Rig, screen: Page, run: Callable[..., dict[str, Any]]
) -> None:
    """The schedule's video shown 1.5 s into its turn (a restart, a cast that ended) begins there."""
    content = rig.content
    recorder = screen.context.new_page()
    webm = base64.b64decode(recorder.evaluate(RECORD_WEBM, 3000))
    recorder.close()
    item = {"kind": "video", "sha256": content.add(webm, "video/webm"), "mime": "video/webm", "title": ""}
    rig.ctx.cache.ensure_item(item)

    answer = rig.kiosk.call(rig.kiosk.kiosk.show, "schedule:x:0:late", item, WAIT, None, None, 1.5).result(
        WAIT
    )

    assert answer["ok"] is True, answer
    assert video_state(screen)["time"] >= 1.5
    assert near(centre(screen), VIDEO_GREEN), centre(screen)
