"""The floor of the panels' real-time path: a bare Flask-SocketIO app on gevent, nothing of ClassCast's.

Run as a script (by `FloorProcess`), it serves `/panel` as the controller does, on the same WSGI
server (gevent's pywsgi, Nagle off), and accepts any token: on connect it sends the client a `state`
and waits for its ack, so the simulated panels (bench/sim_panels.py) connect to it as to the controller.
No database, no sessions, no checks. Its routes:

- `GET /floor/emit-ack?token=T&repeats=R`: emit `show` to the panel of token T and wait for its ack,
  R times in a row; the seconds of each, measured in the server (the issue's emit→ack floor).
- `POST /floor/show {"token"}`: the same once, answered with the panel's ack: the floor of a cast
  request with its HTTP.
- `POST /floor/alert {"id"}`: emit `alert` to every connected panel, each with its ack callback, and
  answer at once (201); the panels tell when they acked.
"""

if __name__ == "__main__":  # the floor server: greenlets for threads before anything imports them
    from gevent import monkey

    monkey.patch_all()

import subprocess  # noqa: E402 - after the monkey-patch, on purpose
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import psutil  # noqa: E402

NAMESPACE = "/panel"
ACK_TIMEOUT = 10.0


class FloorProcess:
    """The bare app in a process of its own; its address and its memory."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        self.proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("floor: "):
            sys.exit("the floor server did not start")
        self.url = line.split(": ", 1)[1].strip()
        return self.url

    def rss(self) -> int:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def make_app() -> tuple[Any, Any]:
    """Return the bare Flask app and its SocketIO."""
    import gevent
    import gevent.event
    from flask import Flask, request
    from flask_socketio import SocketIO

    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins=[], logger=False)
    sid_of: dict[str, str] = {}  # token → session, and back
    token_of: dict[str, str] = {}

    def ask(sid: str, event: str, payload: dict) -> Any:
        answer = gevent.event.AsyncResult()
        socketio.emit(event, payload, to=sid, namespace=NAMESPACE, callback=lambda *a: answer.set(a))
        return answer.get(timeout=ACK_TIMEOUT)[0]

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth: Any = None) -> None:
        sid_of[auth["token"]], token_of[request.sid] = request.sid, auth["token"]
        gevent.spawn(ask, request.sid, "state", {"version": 1, "show": None, "schedule": None})

    @socketio.on("disconnect", namespace=NAMESPACE)
    def disconnect(reason: Any = None) -> None:
        sid_of.pop(token_of.pop(request.sid, ""), None)

    @app.get("/floor/emit-ack")
    def emit_ack() -> dict:
        sid, times = sid_of[request.args["token"]], []
        for n in range(int(request.args["repeats"])):
            started = time.perf_counter()
            ask(
                sid,
                "show",
                {"cast_id": f"floor-{n}", "item": {"kind": "page", "url": "https://example.org/"}},
            )
            times.append(time.perf_counter() - started)
        return {"times": times}

    @app.post("/floor/show")
    def show() -> dict:
        body = request.get_json()
        item = {"kind": "page", "url": "https://example.org/", "title": "floor"}
        return ask(sid_of[body["token"]], "show", {"cast_id": body["cast_id"], "item": item})

    @app.post("/floor/alert")
    def alert() -> tuple[dict, int]:
        alert = {"id": request.get_json()["id"], "title": "", "text": "floor", "level": "danger"}
        for sid in list(sid_of.values()):
            socketio.emit("alert", {"alert": alert}, to=sid, namespace=NAMESPACE, callback=lambda *a: None)
        return {"id": alert["id"]}, 201

    return app, socketio


def serve() -> None:
    import socket

    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    class NoDelayServer(pywsgi.WSGIServer):  # as the controller's (controller/server.py)
        handler_class = WebSocketHandler  # as the controller's: Engine.IO's WebSocket on gevent

        def handle(self, sock: socket.socket, address: Any) -> None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    from sim_panels import raise_open_files

    raise_open_files()
    app, _ = make_app()
    server = NoDelayServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(f"floor: http://127.0.0.1:{server.address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve()
