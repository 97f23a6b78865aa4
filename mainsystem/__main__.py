"""`python -m mainsystem`: run the main system stand-in on loopback (docs/main-system-api.md).

    python -m mainsystem --port 0 --token TOKEN [--data FILE] [--teacher LOGIN[=ROOM,ROOM...]]
        [--now-lesson LOGIN:ROOM] [--timezone ZONE] [--faults] [--trap-port PORT] [--userinfo URL]

Once it listens, it prints one line on stdout, `main system stand-in: http://127.0.0.1:<port>`, and
nothing more there; its access log goes to stderr. SIGTERM or Ctrl-C stops it.
"""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import argparse  # noqa: E402 - after the monkey-patch, on purpose
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent import pywsgi  # noqa: E402

from mainsystem.app import Options, create_app  # noqa: E402
from mainsystem.library import Library  # noqa: E402
from mainsystem.process import ANNOUNCE  # noqa: E402
from mainsystem.timetable import Teacher, Timetable, TimetableError  # noqa: E402


class _Handler(pywsgi.WSGIHandler):
    """Hands the app the request target and the header names exactly as the client sent them."""

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["mainsystem.target"] = self.path
        env["mainsystem.header_names"] = [
            line.split(":", 1)[0] for line in self.headers.headers if line[:1] not in (" ", "\t")
        ]
        return env


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:
        timetable = Timetable(_teachers(args), args.timezone, args.data)
    except TimetableError as exc:
        print(f"mainsystem: {exc}", file=sys.stderr)
        return 2
    options = Options(args.token, args.faults, args.trap_port, args.userinfo)
    app = create_app(options, Library(), timetable)
    server = pywsgi.WSGIServer(
        (args.host, args.port), app, handler_class=_Handler, log=sys.stderr, error_log=sys.stderr
    )
    server.start()
    host, port = server.address[:2]
    print(f"{ANNOUNCE}http://{host}:{port}", flush=True)
    stop = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    stop.wait()
    server.stop(timeout=1)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mainsystem",
        description="A stand-in for the main system's journal and library API, for the demo and the tests",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the default)")
    parser.add_argument("--token", required=True, help="the service token every API request must bear")
    parser.add_argument("--data", type=Path, help="timetable JSON file, read again on every request")
    parser.add_argument(
        "--teacher", action="append", default=[], metavar="LOGIN[=ROOM,ROOM...]", help="a teacher and rooms"
    )
    parser.add_argument(
        "--now-lesson", action="append", default=[], metavar="LOGIN:ROOM", help="a lesson in progress now"
    )
    parser.add_argument("--timezone", default="Europe/Moscow", help="the school's time zone (IANA name)")
    parser.add_argument("--faults", action="store_true", help="serve the fault items (tests only)")
    parser.add_argument("--trap-port", type=int, help="port of redirect-local's target (default: own)")
    parser.add_argument("--userinfo", help="userinfo URL of the single sign-on, to accept users' tokens")
    return parser


def _teachers(args: argparse.Namespace) -> dict[str, Teacher]:
    """Return the teachers of --teacher and --now-lesson."""
    rooms: dict[str, tuple[str, ...] | None] = {}
    for spec in args.teacher:
        login, _, names = spec.partition("=")
        rooms[login] = tuple(n.strip() for n in names.split(",") if n.strip()) or None
    now: dict[str, str] = {}
    for spec in args.now_lesson:
        login, sep, room = spec.partition(":")
        if not sep or not login or not room:
            raise TimetableError(f"--now-lesson wants LOGIN:ROOM, not {spec!r}")
        now[login] = room
        rooms.setdefault(login, None)
    teachers = {}
    for login, own in rooms.items():
        fields: dict[str, Any] = {"now_room": now.get(login)}
        if own:
            fields["rooms"] = own
        teachers[login] = Teacher.named(login, **fields)
    return teachers


if __name__ == "__main__":
    sys.exit(main())
