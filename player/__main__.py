"""`classcast-player`: the panel's player daemon."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import argparse  # noqa: E402 - after the monkey-patch, on purpose
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from classcast import notify  # noqa: E402
from classcast.identity import PanelIdentity, ensure_identity, forget_enrollment  # noqa: E402
from classcast.journal import setup_logging  # noqa: E402
from classcast.settings import SettingsError  # noqa: E402
from player import desired, schedule  # noqa: E402
from player.cache import MIB, ContentCache, FetchError, files_of  # noqa: E402
from player.client import ControllerLink  # noqa: E402
from player.commands import Context, apply_state, parse_state, restart_process  # noqa: E402
from player.config import load_config  # noqa: E402
from player.desired import StateFile  # noqa: E402
from player.devtools import DevTools  # noqa: E402
from player.kiosk import Kiosk, serve  # noqa: E402
from player.pairing import Pairing, forget_pending  # noqa: E402
from player.recovery import BrowserWatch  # noqa: E402
from player.schedule import Follower  # noqa: E402
from player.screen import ScreenConfigError, ScreenPower, make_backend  # noqa: E402
from player.showings import Showings  # noqa: E402
from player.usage import UsageOutbox  # noqa: E402

log = logging.getLogger("player")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_config(
            args.config,
            {
                "data_dir": args.data_dir,
                "controller_url": args.controller,
                "kiosk_port": args.kiosk_port,
                "log_level": args.log_level,
            },
        )
    except SettingsError as exc:
        print(f"classcast-player: настройки: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings["log_level"], "classcast-player")
    try:
        return run(settings)
    except ScreenConfigError as exc:
        print(f"classcast-player: настройка screen_power: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classcast-player", description="ClassCast panel player")
    parser.add_argument("--config", type=Path, help="TOML settings file (docs/configuration.md)")
    parser.add_argument("--data-dir", help="the panel's folder (identity, cache)")
    parser.add_argument("--controller", help="the controller's URL, e.g. http://controller:8080")
    parser.add_argument("--kiosk-port", type=int, help="port of the loopback kiosk page")
    parser.add_argument("--log-level")
    return parser


def run(settings: dict) -> int:
    """Serve the kiosk page; pair, stay connected until revoked, pair again; until told to stop."""
    data_dir = Path(settings["data_dir"])
    identity = ensure_identity(data_dir)
    stop, restarting = gevent.event.Event(), gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    backend = make_backend(settings["screen_power"], output=settings["screen_output"])
    cache = ContentCache(
        data_dir / "cache",
        settings["controller_url"],
        settings["fetch_timeout"],
        max_bytes=int(settings["cache_max_mb"] * MIB),
    )
    kiosk = Kiosk(cache.get, cache.bundle_file)
    outbox = UsageOutbox(data_dir, settings["usage_endpoint"])
    showings = Showings(outbox)
    kiosk.on_screen = showings.changed
    kiosk.on_alert = showings.alert_changed
    screen = ScreenPower(backend, showings.screen_changed, check_every=settings["screen_check_interval"])
    outbox.start()
    showings.start()
    screen.start()
    server = serve(kiosk, settings["kiosk_host"], settings["kiosk_port"])
    page_url = f"http://{settings['kiosk_host']}:{server.server_port}/"
    print(f"kiosk page: {page_url}", flush=True)
    workers: list[gevent.Greenlet] = []
    watch = _watch_browser(settings, kiosk, outbox, page_url)
    watchdog = _tell_systemd_ready(server, workers, watch)
    restarting.rawlink(lambda _: stop.set())  # a restart is a stop, then an exec
    ctx = _context(settings, kiosk, cache, page_url, restarting.set, screen)
    cache.needed = lambda: _needed_files(ctx)
    cache.token = identity.token
    kept = gevent.spawn(_apply_kept_state, ctx)
    ctx.follower.start()
    while not stop.is_set():
        identity = _paired(identity, data_dir, settings, kiosk, stop)
        if identity is None or not _connected_until_revoked(ctx, identity, settings, stop, workers):
            break
        identity = _forget_revoked(ctx, data_dir)
    if not restarting.is_set():
        notify.notify(notify.STOPPING)
    kept.kill()
    ctx.follower.stop()
    if watch is not None:
        watch.stop()
    screen.stop()
    showings.stop()
    outbox.close()
    if watchdog is not None:
        watchdog.kill()
    server.stop(timeout=1)
    log.info("stopped")
    if restarting.is_set():
        restart_process()
    return 0


def _context(
    settings: dict,
    kiosk: Kiosk,
    cache: ContentCache,
    page_url: str,
    restart: Callable[[], None],
    screen: ScreenPower,
) -> Context:
    """Return what the controller's commands act on, the room's schedule among them."""
    data_dir = Path(settings["data_dir"])
    return Context(
        kiosk,
        cache,
        settings["show_timeout"],
        StateFile(data_dir / desired.FILE),
        DevTools(settings["devtools_url"], page_url),
        settings["reboot_command"],
        restart,
        Follower(kiosk, cache, StateFile(data_dir / schedule.FILE), settings["show_timeout"], screen),
    )


def _watch_browser(settings: dict, kiosk: Kiosk, outbox: UsageOutbox, page_url: str) -> BrowserWatch | None:
    """Return the started watch of the kiosk browser (docs/architecture.md, Recovery); None when off."""
    if settings["browser_check_interval"] <= 0:
        return None
    watch = BrowserWatch(
        DevTools(settings["devtools_url"], page_url),
        lambda: kiosk.pages > 0,
        outbox,
        settings["browser_restart_command"],
        settings["browser_check_interval"],
        settings["browser_grace"],
    )
    watch.start()
    return watch


def _apply_kept_state(ctx: Context) -> None:
    """Show what the last desired state said, before the controller is reachable (it may never be)."""
    kept = parse_state(ctx.state.last) if ctx.state is not None else None
    if kept is None:
        return
    if kept["show"] is not None:
        try:  # cached before this process started: read through once, a damaged file fetched again
            ctx.cache.ensure_item(kept["show"]["item"], verify=True)
        except FetchError as exc:
            log.warning("the kept cast's files cannot be checked: %s", exc)
    answer = apply_state(ctx, kept)
    log.info("kept state %d applied at start: %s", kept["version"], answer.get("error", "ok"))


def _needed_files(ctx: Context) -> set[str]:
    """Return the files the cache must keep: the cast kept and on screen, and the schedule's."""
    kept = parse_state(ctx.state.last) if ctx.state is not None else None
    casts = [kept and kept["show"], ctx.kiosk.current]
    items = [cast["item"] for cast in casts if cast is not None]
    return files_of(items) | (ctx.follower.needed_files() if ctx.follower is not None else set())


def _paired(
    identity: PanelIdentity, data_dir: Path, settings: dict, kiosk: Kiosk, stop: gevent.event.Event
) -> PanelIdentity | None:
    """Return the enrolled identity, pairing first when there is none; None if told to stop meanwhile."""
    if identity.enrolled:
        return identity
    log.info("not enrolled yet: showing a pairing code (key fingerprint %s)", identity.fingerprint)
    retry = settings["retry_min"], settings["retry_max"]
    return Pairing(data_dir, settings["controller_url"], kiosk.show_pairing, *retry).run(stop)


def _connected_until_revoked(
    ctx: Context,
    identity: PanelIdentity,
    settings: dict,
    stop: gevent.event.Event,
    workers: list[gevent.Greenlet],
) -> bool:
    """Return True once the controller revoked these credentials; False when told to stop first."""
    ctx.cache.token = identity.token
    link = ControllerLink(
        settings["controller_url"], identity.token, ctx, settings["retry_min"], settings["retry_max"]
    )
    worker = gevent.spawn(link.run)
    workers.append(worker)
    gevent.wait([stop, worker], count=1)
    link.close()  # when stopping, the controller learns at once that this panel is gone; `run` returns
    worker.join(timeout=5)
    worker.kill()  # a connection attempt still under way
    workers.remove(worker)
    # True: revoked. get() re-raises what killed the link, if anything did: systemd restarts the player.
    return worker.get() is True


def _forget_revoked(ctx: Context, data_dir: Path) -> PanelIdentity:
    """Return the panel's new, unenrolled identity: the revoked one and what it was told are gone."""
    identity = forget_enrollment(data_dir)
    forget_pending(data_dir)
    if ctx.state is not None:
        ctx.state.forget()
    if ctx.follower is not None:
        ctx.follower.set(None)  # the schedule was the room's: a panel to pair again has none
    ctx.kiosk.clear()
    if ctx.kiosk.alert is not None:  # the pairing screen must be seen; the alert was the school's
        gevent.spawn(ctx.kiosk.show_alert, None, ctx.show_timeout)
    ctx.cache.token = None
    log.warning("revoked: credentials and kept state forgotten; new key %s", identity.fingerprint)
    return identity


def _tell_systemd_ready(
    server: WSGIServer, workers: list[gevent.Greenlet], watch: BrowserWatch | None
) -> gevent.Greenlet | None:
    """Return the watchdog greenlet (None when systemd asks for none), having reported READY=1.

    Ready once the page is served: the kiosk browser's unit is ordered after this one. The pings go
    on while the page server, the controller link and the browser watch live (the watch also stuck
    in a look counts as dead); a dead one stops them and systemd restarts.
    """
    notify.notify(notify.READY, f"STATUS=kiosk page on port {server.server_port}")
    interval = notify.watchdog_interval()
    if interval is None:
        return None
    return notify.spawn_watchdog(
        lambda: (
            server.started and not any(worker.dead for worker in workers) and (watch is None or watch.alive())
        ),
        interval,
        "player",
    )


if __name__ == "__main__":
    sys.exit(main())
