"""`player.recovery`: the browser watch against real headless Chromium showing the kiosk page.

The watch runs as a greenlet in the test's thread, the kiosk in its own hub's thread (conftest's
`kiosk`), Chromium as real processes. Its recoveries go to a real usage outbox that is never started,
so what it recorded stays on disk to be read. Where a browser must be restarted, the restart command
is `KioskLauncher`'s: it starts Chromium in a session of its own with DevTools on a fixed port, as
systemd's classcast-kiosk.service does on a panel.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import gevent
import pytest
import websocket

from player.devtools import DevTools, DevToolsError
from player.recovery import BrowserWatch
from player.usage import FILE, UsageOutbox
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.player.conftest import ContentServer, KioskBrowser, KioskThread, request
from tests.player.standin import PlayerProcess

pytestmark = pytest.mark.timeout(120)

WAIT_S = 40.0  # only ever waited out when a test fails
CARD = {"name": "Панель у доски", "room": "Кабинет 12", "school": "Школа № 1", "seconds": 1}
# The timings of a watch under test: quick, but a browser still gets time to start before a second go.
QUICK = {"interval": 0.3, "grace": 3.0}


# --- helpers -----------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Return the condition's first true value, letting the watch's greenlet run meanwhile."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        gevent.sleep(0.1)
    return value


def recorded(outbox_file: Path) -> list[dict[str, Any]]:
    """Return the data of every `recovery` event in the outbox file, oldest first."""
    with closing(sqlite3.connect(outbox_file)) as db:
        bodies = [json.loads(body) for (body,) in db.execute("SELECT body FROM events ORDER BY local_id")]
    return [body["data"] for body in bodies if body["type"] == "recovery"]


def free_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_attached(devtools: DevTools) -> bool:
    """Return whether the kiosk page is open and its event stream to the kiosk server is open too."""
    quick = DevTools(devtools.url, devtools.page_url, timeout=2)
    try:
        target = quick.kiosk_page()
        if target is None:
            return False
        answer = quick.call(
            "Runtime.evaluate", {"expression": "events.readyState", "returnByValue": True}, target
        )
    except DevToolsError:
        return False
    return answer.get("result", {}).get("value") == 1  # EventSource.OPEN


def shows_a_card(kiosk: KioskThread) -> bool:
    """Return whether a page attached to the kiosk shows a name card and reports it shown."""
    return kiosk.call(kiosk.kiosk.identify, CARD, 10.0).result(WAIT_S)["ok"] is True


def send_unanswered(target: dict[str, Any], method: str, params: dict[str, Any]) -> None:
    """Send a DevTools command to the page and go, not waiting for an answer that may never come."""
    connection = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=5, suppress_origin=True)
    try:
        connection.send(json.dumps({"id": 1, "method": method, "params": params}))
    finally:
        connection.close()


class KioskLauncher:
    """The tests' restart command: a headless Chromium on the kiosk page, DevTools on a fixed port,
    started in a session of its own (so it outlives the command, as a systemd unit's browser does).

    The command appends each browser's pid (also its process group's id) to `pids_file`, and reads
    the kiosk page's address from `url_file` when it runs.
    """

    def __init__(self, folder: Path, kiosk_url: str = "") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.pids_file, self.url_file, profiles = folder / "browsers.pids", folder / "kiosk.url", folder
        self.port = free_port()
        self.devtools_url = f"http://127.0.0.1:{self.port}"
        if kiosk_url:
            self.url_file.write_text(kiosk_url)
        script = (
            'pids=$1 profiles=$2 url=$(cat "$3"); shift 3; '
            'setsid "$@" --user-data-dir="$(mktemp -d -p "$profiles")" "$url" </dev/null >/dev/null 2>&1 & '
            'echo $! >> "$pids"'
        )
        chromium = [
            CHROMIUM,
            *CHROMIUM_ARGS,
            "--headless=new",
            "--kiosk",
            f"--remote-debugging-port={self.port}",
        ]
        argv = ["sh", "-c", script, "sh", str(self.pids_file), str(profiles), str(self.url_file), *chromium]
        self.command = shlex.join(argv)

    def start(self) -> None:
        """Start a browser, as systemd would."""
        subprocess.run(shlex.split(self.command), check=True, timeout=30)  # as the watch runs it

    def pids(self) -> list[int]:
        return [int(line) for line in self.pids_file.read_text().split()] if self.pids_file.exists() else []

    def kill(self, pid: int) -> None:
        """Kill -9 the browser and its helpers: its whole process group."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # gone already

    def stop(self) -> None:
        for pid in self.pids():
            self.kill(pid)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[UsageOutbox]:
    with UsageOutbox(tmp_path / "panel") as box:  # never started: what is recorded stays in the file
        yield box


@pytest.fixture
def start_watch(kiosk: KioskThread, outbox: UsageOutbox) -> Iterator[Callable[..., BrowserWatch]]:
    """Start a watch of the browser at a DevTools address over the kiosk; each is stopped at the end."""
    watches: list[BrowserWatch] = []

    def start(devtools_url: str, **settings: Any) -> BrowserWatch:
        devtools = DevTools(devtools_url, kiosk.url + "/", timeout=2)
        watch = BrowserWatch(devtools, lambda: kiosk.kiosk.pages > 0, outbox, **{**QUICK, **settings})
        watch.start()
        watches.append(watch)
        return watch

    yield start
    for watch in watches:
        watch.stop()


@pytest.fixture
def launcher(tmp_path: Path, kiosk: KioskThread) -> Iterator[KioskLauncher]:
    browsers = KioskLauncher(tmp_path / "browsers", kiosk.url + "/")
    try:
        yield browsers
    finally:
        browsers.stop()


# --- the page -------------------------------------------------------------------------------------------


def test_a_hung_page_is_replaced_by_a_fresh_one_that_attaches(
    kiosk: KioskThread,
    kiosk_browser: KioskBrowser,
    outbox: UsageOutbox,
    start_watch: Callable[..., BrowserWatch],
) -> None:
    watch = start_watch(kiosk_browser.devtools_url())  # no restart command: the page must be enough
    wait_for(lambda: watch.seen, "the watch to see the kiosk page")
    hung = watch.devtools.kiosk_page()
    assert hung is not None

    send_unanswered(hung, "Runtime.evaluate", {"expression": "while (true) {}"})

    assert wait_for(lambda: recorded(outbox.path), "a recovery") == [
        {"action": "page_reload", "cause": "hung"}
    ]
    # Closed, and its renderer with it (Chromium closes a page in its own time: a moment).
    wait_for(
        lambda: hung["id"] not in [page["id"] for page in watch.devtools.pages()], "the hung page to close"
    )
    assert wait_for(lambda: page_attached(watch.devtools), "the fresh page to attach")
    assert shows_a_card(kiosk)
    assert watch.recoveries == {("page_reload", "hung"): 1}


def test_a_crashed_renderer_is_reloaded_and_attaches_again(
    kiosk: KioskThread,
    kiosk_browser: KioskBrowser,
    outbox: UsageOutbox,
    start_watch: Callable[..., BrowserWatch],
) -> None:
    watch = start_watch(kiosk_browser.devtools_url())
    wait_for(lambda: watch.seen, "the watch to see the kiosk page")
    crashed = watch.devtools.kiosk_page()
    assert crashed is not None

    send_unanswered(crashed, "Page.crash", {})

    assert wait_for(lambda: recorded(outbox.path), "a recovery") == [
        {"action": "page_reload", "cause": "crashed"}
    ]
    assert [page["id"] for page in watch.devtools.pages()] == [crashed["id"]]  # reloaded in place
    assert watch.devtools.renderer_state(crashed) == "ok"
    assert wait_for(lambda: page_attached(watch.devtools), "the reloaded page to attach")
    assert shows_a_card(kiosk)


def test_a_browser_gone_from_the_kiosk_page_is_brought_back_to_it(
    kiosk: KioskThread,
    kiosk_browser: KioskBrowser,
    outbox: UsageOutbox,
    start_watch: Callable[..., BrowserWatch],
) -> None:
    watch = start_watch(kiosk_browser.devtools_url())
    wait_for(lambda: watch.seen, "the watch to see the kiosk page")

    watch.devtools.call("Page.navigate", {"url": "about:blank"})  # the screen shows nothing of ours

    assert wait_for(lambda: recorded(outbox.path), "a recovery") == [
        {"action": "page_reload", "cause": "blank"}
    ]
    assert [page["url"] for page in watch.devtools.pages()] == [kiosk.url + "/"]  # the blank one closed
    assert wait_for(lambda: page_attached(watch.devtools), "the kiosk page to attach")
    assert shows_a_card(kiosk)


def test_a_page_that_no_page_step_mends_ends_in_a_browser_restart(
    tmp_path: Path, content_server: ContentServer, outbox: UsageOutbox
) -> None:
    content_server.pages["/busy"] = (b"<!doctype html><script>while (true) {}</script>", "text/html")
    busy_url = content_server.url + "/busy"  # every page opened there hangs at once
    browser = KioskBrowser(busy_url, tmp_path / "chromium")
    runs = tmp_path / "runs"
    try:
        devtools = DevTools(browser.devtools_url(), busy_url, timeout=2)
        wait_for(lambda: devtools.kiosk_page(), "the busy page to open")
        watch = BrowserWatch(devtools, lambda: True, outbox, shlex.join(["touch", str(runs)]), **QUICK)
        watch.seen = True  # as if it had answered once: this page never does
        watch.start()
        try:
            wait_for(runs.exists, "the restart command to run")
        finally:
            watch.stop()
    finally:
        browser.stop()

    assert watch.incident is not None
    assert (watch.incident.cause, watch.incident.page_steps, watch.incident.restarts) == ("hung", 2, 1)
    assert recorded(outbox.path) == []  # never well again: nothing to count


# --- the browser ----------------------------------------------------------------------------------------


def test_a_browser_that_came_back_by_itself_is_one_recovery_and_not_restarted_again(
    kiosk: KioskThread, launcher: KioskLauncher, outbox: UsageOutbox, start_watch: Callable[..., BrowserWatch]
) -> None:
    launcher.start()
    watch = start_watch(launcher.devtools_url, restart_command=launcher.command, grace=30.0)
    wait_for(lambda: watch.seen and not watch.incident and page_attached(watch.devtools), "the page, watched")

    launcher.kill(launcher.pids()[0])
    wait_for(lambda: watch.incident is not None, "the watch to notice")
    launcher.start()  # as systemd does for a browser that exited (Restart=always)

    assert wait_for(lambda: recorded(outbox.path), "a recovery") == [
        {"action": "browser_restart", "cause": "exited"}
    ]
    assert len(launcher.pids()) == 2  # the watch left the restart to "systemd"
    assert wait_for(lambda: page_attached(watch.devtools), "the new browser's page to attach")
    assert shows_a_card(kiosk)


def test_a_browser_that_stays_away_is_restarted_with_backoff_and_nothing_recorded(
    tmp_path: Path, kiosk_browser: KioskBrowser, outbox: UsageOutbox, start_watch: Callable[..., BrowserWatch]
) -> None:
    runs = tmp_path / "runs"
    stamp = "import sys, time; open(sys.argv[1], 'a').write(f'{time.monotonic()}\\n')"
    command = shlex.join([sys.executable, "-c", stamp, str(runs)])  # restarts nothing: notes the time
    grace = 0.4
    watch = start_watch(kiosk_browser.devtools_url(), restart_command=command, interval=0.1, grace=grace)
    wait_for(lambda: watch.seen, "the watch to see the kiosk page")

    kiosk_browser.stop()
    stopped_at = time.monotonic()
    times = wait_for(
        lambda: runs.exists() and len(runs.read_text().split()) >= 4 and runs.read_text().split(),
        "four runs of the restart command",
    )

    first, *later = [float(t) for t in times]
    assert first - stopped_at >= grace  # systemd's turn first
    gaps = [b - a for a, b in zip([first, *later], later, strict=False)]
    assert all(gap >= grace * 2**i for i, gap in enumerate(gaps)), gaps  # each wait twice the last
    assert recorded(outbox.path) == []  # nothing came back: no recovery to count
    assert watch.incident is not None and watch.incident.restarts >= 4


def test_a_browser_never_seen_is_never_restarted(tmp_path: Path, outbox: UsageOutbox) -> None:
    runs = tmp_path / "runs"
    devtools = DevTools(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:1/", timeout=2)
    watch = BrowserWatch(
        devtools, lambda: False, outbox, shlex.join(["touch", str(runs)]), interval=0, grace=0
    )

    for _ in range(5):
        watch.step()
        time.sleep(0.01)

    assert watch.look() is not None and watch.look().cause == "exited"
    assert not watch.seen
    assert not runs.exists()
    assert watch.incident is None and recorded(outbox.path) == []


# --- the watchdog ---------------------------------------------------------------------------------------


def test_the_watch_is_alive_while_it_looks_and_not_once_stuck_or_stopped(
    kiosk_browser: KioskBrowser, start_watch: Callable[..., BrowserWatch]
) -> None:
    watch = start_watch(kiosk_browser.devtools_url(), interval=0.1)
    first = watch.beat
    wait_for(lambda: watch.beat > first, "a second look")

    assert watch.alive()
    assert watch.alive(now=watch.beat + watch.stuck_after - 0.1)
    assert not watch.alive(now=watch.beat + watch.stuck_after + 0.1)  # no look begun for that long: stuck
    watch.stop()
    assert not watch.alive()


# --- the player, a real process --------------------------------------------------------------------------


def test_the_player_restarts_a_killed_browser_and_its_page_is_back_within_10_s(
    tmp_path: Path, start_player: Callable[..., PlayerProcess]
) -> None:
    browsers = KioskLauncher(tmp_path / "browsers")
    env = {
        "CLASSCAST_PLAYER_DEVTOOLS_URL": browsers.devtools_url,
        "CLASSCAST_PLAYER_BROWSER_RESTART_COMMAND": browsers.command,
        "CLASSCAST_PLAYER_BROWSER_CHECK_INTERVAL": "0.5",
        "CLASSCAST_PLAYER_BROWSER_GRACE": "3",
    }
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # the usage socket's path has at most 107 bytes
        data_dir = Path(short)
        player = start_player(data_dir, "http://127.0.0.1:9", env)  # no controller: the page shows anyway
        kiosk_url = player.kiosk_url() + "/"
        browsers.url_file.write_text(kiosk_url)
        try:
            browsers.start()
            devtools = DevTools(browsers.devtools_url, kiosk_url)
            wait_for(lambda: page_attached(devtools), "the first browser to show the kiosk page")
            wait_for(lambda: "kiosk page is in sight" in player.log_text(), "the player to watch the browser")

            browsers.kill(browsers.pids()[0])
            killed_at = time.monotonic()
            wait_for(lambda: page_attached(devtools), "a new browser to show the kiosk page")
            back_after = time.monotonic() - killed_at

            assert back_after < 10, f"the kiosk page was back only after {back_after:.1f} s"
            assert request(kiosk_url + "healthz").body == b"attached"
            assert len(browsers.pids()) >= 2  # the player ran the restart command
            events = wait_for(lambda: recorded(data_dir / FILE), "the recovery to be recorded")
            assert events == [{"action": "browser_restart", "cause": "exited"}]
            assert player.stop() == 0
            assert recorded(data_dir / FILE) == events  # one incident, one event
        finally:
            browsers.stop()
