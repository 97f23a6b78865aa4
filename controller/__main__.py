"""`classcast-controller`: serve, run the demo, prepare the database, enrol a panel, import a list."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import argparse  # noqa: E402 - after the monkey-patch, on purpose
import gc  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from classcast.journal import setup_logging  # noqa: E402
from classcast.settings import SettingsError  # noqa: E402
from controller import operations, seed  # noqa: E402
from controller.backup import BackupError, hold_data_dir  # noqa: E402
from controller.stats import cli as stats_cli  # noqa: E402

log = logging.getLogger("controller")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(str(args.log_level), "classcast-controller")
    try:
        return args.run(args)
    except SettingsError as exc:
        print(f"classcast-controller: настройки: {exc}", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"classcast-controller: {exc}", file=sys.stderr)
        return 1


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
    operations.add_commands(commands, common)
    seed.add_command(commands, common)
    stats_cli.add_command(commands, common)

    imports = commands.add_parser(
        "import", parents=[common], help="import a school or staff list (CSV, XLSX) after a preview"
    )
    imports.add_argument("--kind", choices=("schools", "staff"), required=True, help="what the file lists")
    imports.add_argument("--as", dest="login", required=True, help="the account whose scope and rights apply")
    node = imports.add_mutually_exclusive_group()
    for level in ("region", "municipality", "school"):
        node.add_argument(
            f"--{level}-id", type=int, help=f"the {level} the file covers (default: the account's)"
        )
    imports.add_argument("--yes", action="store_true", help="apply without asking")
    imports.add_argument("file", type=Path, help="the list: CSV (UTF-8 or Windows-1251) or XLSX")
    imports.set_defaults(run=_import)
    return parser


def _overrides(args: argparse.Namespace, *names: str) -> dict:
    return {name: getattr(args, name, None) for name in ("data_dir", *names)}


def _serve(args: argparse.Namespace) -> int:
    from controller import notify
    from controller.app import create_app
    from controller.server import ControllerServer

    app = create_app(_overrides(args, "host", "port", "telemetry_bind"), args.config)
    svc = app.extensions["classcast"]
    _raise_open_files()
    _tune_garbage_collector()
    with hold_data_dir(svc.data_dir):  # one controller per data folder; a restore waits for it to stop
        server = ControllerServer(app)
        server.start()
        stop = gevent.event.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, stop.set)
        print(f"ClassCast controller: {server.url}", flush=True)
        print(f"telemetry: {server.svc.ingest.endpoint}", flush=True)
        watchdog = notify.serving(svc, server.url)
        stop.wait()
        log.info("stopping")
        notify.stopping(watchdog)
        server.stop()
    return 0


def _tune_garbage_collector() -> None:
    """Keep the collector from stopping every greenlet for long among thousands of panels' connections.

    What is loaded now (code, the app, its settings) lives as long as the process: frozen, it is out of
    every full walk. A fan-out to 5,000 panels makes short-lived objects by the hundred thousand, and
    Python's default first threshold (700) collects every 700 of them; 50,000 collects far less often
    (bench/alert_fanout.py: alert_cpu_p50_ms 745 → 560–580, the bare Flask-SocketIO app's floor_cpu).
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _raise_open_files() -> None:
    """Raise the soft limit of open files to the hard one: every connected panel holds a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log.info("open files: %d, was %d", hard, soft)


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


def _import(args: argparse.Namespace) -> int:
    """Preview a list, show it, ask (unless --yes), apply it with a progress bar; 0 only if applied."""
    from tqdm import tqdm

    from controller import access
    from controller.app import create_app
    from controller.imports import MAX_BYTES, FileRefused
    from controller.store import imports

    svc = create_app(_overrides(args), args.config).extensions["classcast"]
    user = next(
        iter(svc.db.read.query("SELECT * FROM user WHERE login = ? AND archived_at IS NULL", [args.login])),
        None,
    )
    if user is None:
        return _fail(f"учётная запись {args.login!r} не найдена или в архиве")
    level = next((lv for lv in ("region", "municipality", "school") if getattr(args, f"{lv}_id")), None)
    node_id = getattr(args, f"{level}_id") if level else None
    try:
        with args.file.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        scope = imports.resolve_scope(svc.db.read, user, args.kind, level, node_id)
        with tqdm(desc="чтение", unit=" строк", leave=False) as bar:
            preview = imports.preview(svc.db, user, args.kind, data, scope, _bar(bar))
    except OSError as exc:
        return _fail(f"не удалось прочитать {args.file}: {exc.strerror}")
    except (FileRefused, imports.Refused) as exc:
        return _fail(str(exc.message))
    except (access.NotFound, access.Forbidden):
        return _fail(f"у {args.login!r} нет прав на такой импорт в этом узле")
    _show_preview(preview, svc.db.read, user)
    if not (args.yes or _confirmed()):
        print("Не применено.")
        return 1
    try:
        with tqdm(desc="применение", unit=" строк") as bar:
            applied = imports.apply(svc.db, user, preview["id"], progress=_bar(bar))
    except imports.Refused as exc:
        return _fail(str(exc.message))
    print("Применено: " + _counts_line(applied["applied"]))
    return 0


def _fail(message: str) -> int:
    print(f"classcast-controller import: {message}", file=sys.stderr)
    return 1


def _bar(bar: Any) -> Any:
    def progress(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return progress


def _counts_line(counts: dict) -> str:
    line = (
        f"добавить {counts['add']}, изменить {counts['change']}, в архив {counts['archive']}, "
        f"без изменений {counts['unchanged']}, строк с ошибками {counts['bad']}"
    )
    return line + (
        f", новых муниципалитетов {counts['municipalities_add']}" if counts["municipalities_add"] else ""
    )


def _show_preview(preview: dict, db: Any, user: dict) -> None:
    from controller.imports import reason_text
    from controller.store import imports

    scope, counts = preview["scope"], preview["counts"]
    print(f"Прочитано строк: {counts['rows']}; узел: {scope['name']} ({scope['level']} {scope['id']}).")
    print("План: " + _counts_line(counts))
    for note in preview["notes"]:
        print(note)
    for item in preview["first"]["archive"][:10]:
        print(f"  в архив: {item['key'] or '#' + str(item['id'])} {item['name']}")
    for item in preview["first"]["change"][:10]:
        fields = "; ".join(f"{k}: {item['before'].get(k)} → {v}" for k, v in item["after"].items())
        print(f"  изменить: {item['key']} ({fields})")
    bad = imports.page(db, preview["id"], user, "bad", 0, 200)
    for entry in bad["items"]:
        print(f"  строка {entry['row']}, «{entry['column']}»: {reason_text(entry)}")
    if bad["total"] > len(bad["items"]):
        print(f"  … и ещё {bad['total'] - len(bad['items'])} (все — в предпросмотре через API).")


def _confirmed() -> bool:
    try:
        answer = input("Применить? [да/нет] ")
    except EOFError:
        return False
    return answer.strip().casefold() in ("д", "да", "y", "yes")


if __name__ == "__main__":
    sys.exit(main())
