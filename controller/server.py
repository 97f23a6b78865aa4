"""Serving the app on gevent: the WSGI server (with Nagle off), telemetry ingest and the timers beside it."""

from __future__ import annotations

import logging
import socket
from typing import Any

import gevent
from flask import Flask
from gevent import pywsgi

from classcast.settings import SettingsError
from controller import housekeeping, monitor, norm_check, norms, notifier
from controller.app import Services
from controller.ingest import TelemetryIngest, server_keys
from controller.stats import schedule
from controller.web.smuggling import StrictHandler

log = logging.getLogger(__name__)


class _NoDelayServer(pywsgi.WSGIServer):
    """A WSGI server that turns Nagle's algorithm off on every connection.

    With it on, a small response on a keep-alive connection waits for the client's delayed ACK:
    tens of milliseconds per request for a page or a cast, for nothing.
    """

    handler_class = StrictHandler  # refuses a request with Content-Length beside Transfer-Encoding

    def handle(self, sock: socket.socket, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class ControllerServer:
    """The web server, the telemetry ROUTER and the background loops of one app.

    `start()` binds the sockets and starts the loops (housekeeping, the panel monitor, the notifier, the
    scheduled usage reports, the screen-time norms' daily check);
    `stop()` ends them. Settings the loops read are checked here, so a bad one stops the start.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.svc: Services = app.extensions["classcast"]
        settings = self.svc.settings
        monitor.SchoolHours.of(settings)  # SettingsError names school_hours or school_days
        if settings["room_owner_rule"] not in ("confirm", "timetable"):
            raise SettingsError("room_owner_rule: 'confirm' or 'timetable'")
        norms.Norms.parse(settings["screen_time_norms"])  # SettingsError names screen_time_norms
        self._loops: list[gevent.Greenlet] = []
        access_log = pywsgi.LoggingLogAdapter(logging.getLogger("controller.access"), logging.DEBUG)
        self.http = _NoDelayServer(
            (settings["host"], settings["port"]),
            app,
            log=access_log,
            error_log=logging.getLogger("controller.http"),
        )
        public_key, secret_key = server_keys(self.svc.data_dir)
        self.public_key = public_key
        self.svc.ingest = TelemetryIngest(
            self.svc.db, settings["telemetry_bind"], secret_key, self.svc.metrics, monitor.channels(settings)
        )

    def start(self) -> None:
        self.http.start()
        self.svc.ingest.start()
        self._loops = [
            gevent.spawn(loop, self.svc)
            for loop in (
                housekeeping.run_forever,
                monitor.run_forever,
                notifier.run_forever,
                schedule.run_forever,
                norm_check.run_forever,
            )
        ]
        log.info("controller listening on %s, telemetry on %s", self.url, self.svc.ingest.endpoint)

    @property
    def url(self) -> str:
        host, port = self.http.address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        gevent.killall(self._loops)
        self.http.stop(timeout=2)
        self.svc.ingest.stop()
        self.svc.db.close()
