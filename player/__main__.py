"""`classcast-player`: the panel's player daemon."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import argparse  # noqa: E402 - after the monkey-patch, on purpose
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from classcast import notify  # noqa: E402
from classcast.identity import ensure_identity  # noqa: E402
from classcast.journal import setup_logging  # noqa: E402
from classcast.settings import SettingsError  # noqa: E402
from player.cache import ContentCache  # noqa: E402
from player.client import ControllerLink  # noqa: E402
from player.commands import Context  # noqa: E402
from player.config import load_config  # noqa: E402
from player.kiosk import Kiosk, serve  # noqa: E402
from player.pairing import Pairing  # noqa: E402

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
    return run(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classcast-player", description="ClassCast panel player")
    parser.add_argument("--config", type=Path, help="TOML settings file (docs/configuration.md)")
    parser.add_argument("--data-dir", help="the panel's folder (identity, cache)")
    parser.add_argument("--controller", help="the controller's URL, e.g. http://controller:8080")
    parser.add_argument("--kiosk-port", type=int, help="port of the loopback kiosk page")
    parser.add_argument("--log-level")
    return parser


def run(settings: dict) -> int:
    data_dir = Path(settings["data_dir"])
    identity = ensure_identity(data_dir)
    stop = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    cache = ContentCache(data_dir / "cache", settings["controller_url"], settings["fetch_timeout"])
    kiosk = Kiosk(cache.get)
    server = serve(kiosk, settings["kiosk_host"], settings["kiosk_port"])
    print(f"kiosk page: http://{settings['kiosk_host']}:{server.server_port}/", flush=True)
    workers: list[gevent.Greenlet] = []
    watchdog = _tell_systemd_ready(server, workers)
    if not identity.enrolled:
        log.info("not enrolled yet: showing a pairing code (key fingerprint %s)", identity.fingerprint)
        retry = settings["retry_min"], settings["retry_max"]
        pairing = Pairing(data_dir, settings["controller_url"], kiosk.show_pairing, *retry)
        identity = pairing.run(stop) or identity
    if identity.enrolled:
        cache.token = identity.token
        ctx = Context(kiosk, cache, settings["show_timeout"])
        link = ControllerLink(
            settings["controller_url"], identity.token, ctx, settings["retry_min"], settings["retry_max"]
        )
        workers.append(gevent.spawn(link.run_forever))
        stop.wait()
        notify.notify(notify.STOPPING)
        gevent.killall(workers)  # before closing the link, or the worker would reconnect it
        link.close()
    else:
        notify.notify(notify.STOPPING)
    if watchdog is not None:
        watchdog.kill()
    server.stop(timeout=1)
    log.info("stopped")
    return 0


def _tell_systemd_ready(server: WSGIServer, workers: list[gevent.Greenlet]) -> gevent.Greenlet | None:
    """Return the watchdog greenlet (None when systemd asks for none), having reported READY=1.

    Ready once the page is served: the kiosk browser's unit is ordered after this one. The pings go
    on while the page server and the controller link live; a dead one stops them and systemd restarts.
    """
    notify.notify(notify.READY, f"STATUS=kiosk page on port {server.server_port}")
    interval = notify.watchdog_interval()
    if interval is None:
        return None
    return notify.spawn_watchdog(
        lambda: server.started and not any(worker.dead for worker in workers), interval, "player"
    )


if __name__ == "__main__":
    sys.exit(main())
