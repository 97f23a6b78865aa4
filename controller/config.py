"""The controller's settings: defaults, then a TOML file, then CLASSCAST_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classcast.settings import Setting, load
from controller.norms import DEFAULT_TABLE

ENV_PREFIX = "CLASSCAST_"

SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "var/controller", "folder of the database, the content store and the keys"),
    Setting("host", "127.0.0.1", "address the web server listens on"),
    Setting("port", 8080, "port of the web UI, the REST API and Socket.IO"),
    Setting("telemetry_bind", "tcp://127.0.0.1:5556", "ZeroMQ endpoint the telemetry ROUTER binds"),
    Setting("secret_key", "", "key that signs session cookies; made and kept in the data folder when empty"),
    Setting(
        "cast_ack_timeout",
        10.0,
        "seconds a cast waits for the panel to report the item shown (six times this for a video, PDF or "
        "HTML5 bundle, which the panel downloads first)",
    ),
    Setting(
        "room_owner_rule",
        "confirm",
        "who may cast to a room another teacher is casting to: 'confirm' (anyone, after confirming; the "
        "other teacher is told) or 'timetable' (the teacher whose lesson it is by the journal's timetable "
        "without asking, anyone else after confirming)",
    ),
    Setting("max_upload_bytes", 200 * 1024 * 1024, "largest file accepted into the content store, bytes"),
    Setting(
        "school_quota_bytes",
        5 * 1024**3,
        "bytes of content one school may hold: its materials' files and PDF page images, each counted once",
    ),
    Setting("pdf_max_pages", 200, "a PDF with more pages than this is refused (each page becomes an image)"),
    Setting("pdf_page_px", 1920, "longer side of the image each PDF page becomes, pixels"),
    Setting("bundle_max_bytes", 100 * 1024 * 1024, "largest unpacked size of an HTML5 bundle (ZIP), bytes"),
    Setting("bundle_max_files", 2000, "most files and folders an HTML5 bundle may hold"),
    Setting(
        "bundle_max_ratio",
        100,
        "a bundle's file over 1 MiB that unpacks to more than this many times its packed size is refused "
        "(a zip bomb)",
    ),
    Setting("session_lifetime_hours", 12.0, "hours a sign-in lasts; signing out ends it at once"),
    Setting(
        "secure_cookies", True, "send the session cookie over HTTPS only; false only for a demo on loopback"
    ),
    Setting("audit_retention_days", 1095.0, "days the audit log keeps an event (the operator sets it)"),
    Setting("oidc_issuer", "", "OpenID Connect issuer URL of the single sign-on (ESIA); empty turns SSO off"),
    Setting("oidc_client_id", "", "the controller's client id at the single sign-on"),
    Setting("oidc_client_secret", "", "the controller's client secret at the single sign-on"),
    Setting("oidc_scopes", "openid profile email", "scopes asked for at sign-on"),
    Setting("oidc_link_claim", "email", "the ID token claim that finds an existing account at first sign-on"),
    Setting("oidc_link_field", "email", "the account field that claim must equal: email or login"),
    Setting("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "proxy_hops",
        0,
        "reverse proxies in front (nginx: 1); their X-Forwarded-For/-Proto are trusted only when set",
    ),
    Setting(
        "metrics_token",
        "",
        "bearer token that opens /metrics to a scraper; empty: /metrics answers loopback, unproxied only",
    ),
    Setting("health_min_free_mb", 512, "free space under data_dir below which /healthz reports failing, MB"),
    Setting(
        "panel_offline_after_s", 180.0, "seconds without a heartbeat or connection before a panel is offline"
    ),
    Setting(
        "panel_silent_after_days", 30.0, "days without contact before a registered panel counts as silent"
    ),
    Setting(
        "school_hours",
        "08:00-18:00",
        "the school day in each school's own time zone: an offline panel alerts then",
    ),
    Setting(
        "school_days", "1-6", "days of the week a school works, ISO numbers (1 Monday … 7 Sunday), e.g. 1-5"
    ),
    Setting("stats_band_red_below", 50.0, "usage statistics: a share below this percentage is coloured red"),
    Setting(
        "stats_band_green_from", 90.0, "usage statistics: a share from this percentage up is coloured green"
    ),
    Setting("stats_trend_weeks", 12, "usage statistics: how many weeks the trend charts show"),
    Setting(
        "stats_export_dir",
        "",
        "folder the usage reports are written to every stats_export_every_days (XLSX); empty: none",
    ),
    Setting("stats_export_every_days", 14.0, "days between two scheduled usage reports"),
    Setting(
        "screen_time_norms",
        DEFAULT_TABLE,
        "the screen-time norms of SanPiN 1.2.3685-21 for work with an interactive panel: space-separated "
        "GRADES:LESSON/DAY, minutes a lesson and a school day for those grades",
    ),
    Setting("alert_temperature_c", 80.0, "a panel this hot (°C) or hotter is reported overheating"),
    Setting(
        "alert_disk_free_mb", 500, "a panel with less free disk than this (MB) is reported short of disk"
    ),
    Setting("monitor_interval_s", 30.0, "seconds between two looks for panel incidents"),
    Setting(
        "notify_webhook_url", "", "URL that receives each incident (opened, resolved) as JSON; empty: none"
    ),
    Setting(
        "notify_smtp_host", "", "SMTP server that mails incidents to the school's IT staff; empty: no e-mail"
    ),
    Setting("notify_smtp_port", 25, "port of that SMTP server"),
    Setting("notify_email_from", "classcast@localhost", "sender address of incident e-mails"),
    Setting(
        "journal_url",
        "",
        "base URL of the main system's electronic journal, e.g. https://journal.example/ (docs/proxy.md); "
        "empty: not connected",
    ),
    Setting(
        "library_url", "", "base URL of the main system's library of lesson content; empty: not connected"
    ),
    Setting(
        "main_token",
        "",
        "secret: the controller's service token at the main system, sent as a bearer token (never to a "
        "browser or a panel); needed when main_credentials is service",
    ),
    Setting(
        "main_credentials",
        "service",
        "how the controller authenticates to the main system: service (main_token) or user (the "
        "person's own single sign-on token, kept on the server with their session)",
    ),
    Setting("main_connect_timeout", 3.0, "seconds to connect to the journal or the library"),
    Setting(
        "main_timeout",
        10.0,
        "seconds the journal or the library has for a whole JSON answer, and at most between two parts "
        "of a media file (a media file has 60 times this in all)",
    ),
    Setting(
        "main_max_response_bytes", 2 * 1024 * 1024, "largest JSON answer taken from the main system, bytes"
    ),
    Setting(
        "main_max_media_bytes",
        200 * 1024 * 1024,
        "largest library media file taken from the main system, bytes",
    ),
    Setting(
        "main_allowed_paths",
        "journal:/api/v1/teachers/{teacher}/timetable library:/api/v1/items library:/api/v1/items/{item} "
        "library:/api/v1/items/{item}/media",
        "the only API paths of the main system the controller ever requests: space-separated "
        "<upstream>:<template>, a {name} standing for one plain identifier ([A-Za-z0-9_-], at most 64)",
    ),
)


def load_config(file: Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the controller's settings, read from defaults, `file`, the environment and `overrides`."""
    return load(SETTINGS, env_prefix=ENV_PREFIX, file=file, overrides=overrides)
