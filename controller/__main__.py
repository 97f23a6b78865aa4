"""`classcast-controller`: serve, run the demo, prepare the database, enrol a panel."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import argparse  # noqa: E402 - after the monkey-patch, on purpose
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from classcast.settings import SettingsError  # noqa: E402

log = logging.getLogger("controller")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except SettingsError as exc:
        print(f"classcast-controller: настройки: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML settings file (docs/configuration.md)")
    common.add_argument("--data-dir", help="folder of the database, content and keys")
    common.add_argument("--log-level", default="INFO")
    parser = argparse.ArgumentParser(prog="classcast-controller", description="ClassCast controller")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the controller")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--telemetry-bind", help="ZeroMQ endpoint, e.g. tcp://0.0.0.0:5556")
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo", parents=[common], help="a controller with simulated panels on this machine"
    )
    demo.add_argument("--panels", type=int, default=3, help="how many panels (default 3)")
    demo.add_argument("--duration", type=float, help="exit after this many seconds with a summary")
    demo.add_argument("--no-browser", action="store_true", help="do not start a kiosk browser per panel")
    demo.set_defaults(run=_demo)

    init_db = commands.add_parser("init-db", parents=[common], help="create or migrate the database")
    init_db.set_defaults(run=_init_db)

    panel = commands.add_parser(
        "enroll-panel", parents=[common], help="enrol a panel; prints its credentials"
    )
    panel.add_argument("--room-id", type=int, required=True)
    panel.add_argument("--name", required=True)
    panel.add_argument("--public-key", required=True, help="the panel's CURVE public key (Z85)")
    panel.set_defaults(run=_enroll_panel)
    return parser


def _overrides(args: argparse.Namespace, *names: str) -> dict:
    return {name: getattr(args, name, None) for name in ("data_dir", *names)}


def _serve(args: argparse.Namespace) -> int:
    from controller.app import create_app
    from controller.server import ControllerServer

    app = create_app(_overrides(args, "host", "port", "telemetry_bind"), args.config)
    server = ControllerServer(app)
    server.start()
    stop = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    print(f"ClassCast controller: {server.url}", flush=True)
    print(f"telemetry: {server.svc.ingest.endpoint}", flush=True)
    stop.wait()
    log.info("stopping")
    server.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from controller.demo import run_demo

    data_dir = Path(args.data_dir or "var/demo")
    return run_demo(data_dir, panels=args.panels, duration=args.duration, browser=not args.no_browser)


def _init_db(args: argparse.Namespace) -> int:
    from controller.app import create_app

    app = create_app(_overrides(args), args.config)
    print(f"database ready: {app.extensions['classcast'].db.path}")
    return 0


def _enroll_panel(args: argparse.Namespace) -> int:
    from controller import access
    from controller.app import create_app
    from controller.ingest import server_keys
    from controller.store import audit, orgs, panels

    svc = create_app(_overrides(args), args.config).extensions["classcast"]
    if len(args.public_key) != 40:
        print("classcast-controller: ключ панели должен быть 40 символов Z85", file=sys.stderr)
        return 2
    if orgs.get_room(svc.db.read, args.room_id) is None:
        print(f"classcast-controller: кабинет {args.room_id} не найден", file=sys.stderr)
        return 2
    panel_id, token = svc.db.write(panels.enroll_panel, args.room_id, args.name, args.public_key)
    place = access.place_of(svc.db.read, "panel", panel_id)
    actor = audit.Actor(None, "cli", "operator", None)  # whoever has the server's shell is its operator
    detail = {"name": args.name, "key_prefix": args.public_key[:8]}
    svc.db.write(audit.record, actor, "enroll_panel", "ok", "panel", panel_id, place, detail)
    public_key, _ = server_keys(svc.data_dir)
    print(json.dumps({"panel_id": panel_id, "token": token, "controller_key": public_key}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
