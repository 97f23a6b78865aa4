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

from classcast.identity import ensure_identity  # noqa: E402
from classcast.settings import SettingsError  # noqa: E402
from player.cache import ContentCache  # noqa: E402
from player.client import ControllerLink  # noqa: E402
from player.commands import Context  # noqa: E402
from player.config import load_config  # noqa: E402
from player.kiosk import Kiosk, serve  # noqa: E402

log = logging.getLogger("player")
_ENROLMENT_POLL_S = 2.0


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
    logging.basicConfig(
        level=getattr(logging, settings["log_level"].upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
    if not identity.enrolled:
        log.info("not enrolled yet; panel key fingerprint %s", identity.fingerprint)
    while not identity.enrolled and not stop.wait(_ENROLMENT_POLL_S):
        identity = ensure_identity(data_dir)
    if identity.enrolled:
        cache.token = identity.token
        ctx = Context(kiosk, cache, settings["show_timeout"])
        link = ControllerLink(
            settings["controller_url"], identity.token, ctx, settings["retry_min"], settings["retry_max"]
        )
        worker = gevent.spawn(link.run_forever)
        stop.wait()
        worker.kill()
        link.close()
    server.stop(timeout=1)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
