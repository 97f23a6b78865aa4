"""The app factory: settings, the database, the content store, blueprints and Socket.IO bound to one app."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from classcast import __version__
from controller.config import load_config
from controller.db import DB_FILE, Database
from controller.store.content import ContentStore
from controller.upstream import MainSystem
from controller.web.smuggling import refuse_ambiguous

__all__ = ["Services", "__version__", "create_app", "services"]

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the app's views and handlers share: the settings, the database, the content store, the panels."""

    settings: dict[str, Any]
    data_dir: Path
    db: Database
    content: ContentStore
    socketio: SocketIO
    hub: Any  # controller.web.panels.PanelHub; typed loosely to keep this module free of the web layer
    ingest: Any = None  # controller.ingest.TelemetryIngest, once the server starts it
    metrics: Any = None  # controller.metrics.Metrics, made when the metrics blueprint is registered
    live: Any = None  # controller.web.live.Live: what the signed-in pages hear at once
    alerts: Any = None  # controller.alerts.AckBook: panels' acknowledgements of alerts, written in batches
    main: Any = None  # controller.upstream.MainSystem: the one door to the main system (journal, library)


def services() -> Services:
    """Return the current app's services (inside a request or a Socket.IO handler)."""
    return current_app.extensions["classcast"]


def create_app(config: Mapping[str, Any] | None = None, config_file: Path | None = None) -> Flask:
    """Return a controller app whose settings are the defaults, `config_file`, the environment, `config`."""
    settings = load_config(config_file, dict(config or {}))
    # Absolute: Flask's send_file takes a relative path as relative to the package, not to the cwd.
    data_dir = Path(settings["data_dir"]).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings["secret_key"] or _stored_secret(data_dir),
        MAX_CONTENT_LENGTH=settings["max_upload_bytes"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["secure_cookies"],
        SESSION_COOKIE_NAME="classcast_session",
        PERMANENT_SESSION_LIFETIME=int(settings["session_lifetime_hours"] * 3600),
    )
    socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins=[], logger=False)
    if settings["proxy_hops"]:
        # Behind nginx every peer is 127.0.0.1: the client's address (throttling, audit) and scheme
        # come from the headers of exactly this many proxies, and only when the operator says so.
        hops = settings["proxy_hops"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.wsgi_app = refuse_ambiguous(app.wsgi_app)  # type: ignore[method-assign] - outermost: smuggling
    db = Database(data_dir / DB_FILE)
    from controller.alerts import AckBook
    from controller.web import panels as panels_web
    from controller.web.live import Live

    hub = panels_web.PanelHub(socketio, settings["cast_ack_timeout"])
    svc = Services(settings, data_dir, db, ContentStore(data_dir / "content"), socketio, hub)
    svc.live, svc.alerts = Live(socketio, svc), AckBook(svc)
    svc.main = MainSystem(settings, db)
    app.extensions["classcast"] = svc
    _register_web(app, socketio)
    return app


def _register_web(app: Flask, socketio: SocketIO) -> None:
    from controller import i18n
    from controller.web import (
        accounts,
        admin,
        alerts,
        audit_log,
        auth,
        casting,
        errors,
        exports,
        health,
        imports,
        library,
        live,
        materials,
        metrics,
        notifications,
        oidc,
        pairing,
        panel_admin,
        panel_registry,
        panels,
        provisions,
        proxy,
        registry,
        schedules,
        security,
        stats,
    )

    blueprints = (
        health,
        metrics,
        auth,
        oidc,
        casting,
        materials,
        library,
        alerts,
        panels,
        pairing,
        panel_registry,
        panel_admin,
        provisions,
        notifications,
        registry,
        schedules,
        accounts,
        audit_log,
        imports,
        exports,
        stats,
        admin,
        proxy,
    )
    for module in blueprints:
        app.register_blueprint(module.blueprint)
    socketio.on_namespace(panels.PanelNamespace())
    socketio.on_namespace(live.UiNamespace())
    security.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)


def _stored_secret(data_dir: Path) -> str:
    """Return the session-signing key kept in the data folder, made on first start."""
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
