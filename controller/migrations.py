"""Every schema change of the controller's database, in order. Never edit one that has shipped; add one."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("classcast")


@migrations(name="0001_registry_panels_content_telemetry")
def _m0001(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0001:
        db.execute(statement)


_SCHEMA_0001 = (
    """CREATE TABLE region (
        id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        archived_at TEXT)""",
    """CREATE TABLE municipality (
        id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL REFERENCES region(id),
        name TEXT NOT NULL, archived_at TEXT)""",
    """CREATE TABLE school (
        id INTEGER PRIMARY KEY, municipality_id INTEGER NOT NULL REFERENCES municipality(id),
        name TEXT NOT NULL, short_name TEXT NOT NULL, ogrn TEXT, inn TEXT, address TEXT,
        timezone TEXT NOT NULL DEFAULT 'Europe/Moscow', archived_at TEXT)""",
    """CREATE TABLE room (
        id INTEGER PRIMARY KEY, school_id INTEGER NOT NULL REFERENCES school(id),
        name TEXT NOT NULL, archived_at TEXT)""",
    """CREATE TABLE user (
        id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, password_hash TEXT,
        full_name TEXT NOT NULL, role TEXT NOT NULL
            CHECK (role IN ('teacher', 'school_it', 'municipal', 'regional', 'operator')),
        node_type TEXT CHECK (node_type IN ('region', 'municipality', 'school')),
        node_id INTEGER, created_at TEXT NOT NULL, archived_at TEXT)""",
    """CREATE TABLE panel (
        id INTEGER PRIMARY KEY, school_id INTEGER NOT NULL REFERENCES school(id),
        room_id INTEGER REFERENCES room(id), name TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'active',
        token_hash TEXT UNIQUE, curve_public_key TEXT UNIQUE,
        created_at TEXT NOT NULL, last_seen_at TEXT, player_version TEXT, agent_version TEXT)""",
    """CREATE TABLE content (
        sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, mime TEXT NOT NULL, title TEXT NOT NULL,
        school_id INTEGER REFERENCES school(id), created_at TEXT NOT NULL)""",
    """CREATE TABLE "cast" (
        id INTEGER PRIMARY KEY, panel_id INTEGER NOT NULL REFERENCES panel(id),
        room_id INTEGER REFERENCES room(id), user_id INTEGER REFERENCES user(id),
        kind TEXT NOT NULL, content_sha256 TEXT REFERENCES content(sha256), url TEXT,
        title TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'sent',
        created_at TEXT NOT NULL, shown_at REAL, error TEXT)""",
    """CREATE TABLE telemetry_event (
        panel_id INTEGER NOT NULL REFERENCES panel(id), event_id TEXT NOT NULL,
        type TEXT NOT NULL, wall_time REAL NOT NULL, received_at REAL NOT NULL,
        clock_synced INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (panel_id, event_id)) WITHOUT ROWID""",
    "CREATE INDEX telemetry_event_by_type_time ON telemetry_event(type, wall_time)",
    """CREATE TABLE telemetry_rejection (
        id INTEGER PRIMARY KEY, panel_id INTEGER REFERENCES panel(id), event_id TEXT,
        error TEXT NOT NULL, received_at REAL NOT NULL)""",
)


@migrations(name="0002_access_sessions_audit_imports")
def _m0002(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0002:
        db.execute(statement)


_SCHEMA_0002 = (
    "ALTER TABLE user ADD COLUMN email TEXT",
    "ALTER TABLE user ADD COLUMN oidc_subject TEXT",
    "CREATE UNIQUE INDEX user_by_oidc_subject ON user(oidc_subject) WHERE oidc_subject IS NOT NULL",
    "CREATE INDEX user_by_node ON user(node_type, node_id)",
    "CREATE UNIQUE INDEX school_by_ogrn ON school(ogrn) WHERE ogrn IS NOT NULL",
    "CREATE INDEX school_by_municipality ON school(municipality_id)",
    "CREATE INDEX room_by_school ON room(school_id)",
    "CREATE INDEX municipality_by_region ON municipality(region_id)",
    # A signed-in session; the cookie carries its id, the database only the id's hash. Signing out
    # deletes the row, so a copied cookie dies with it.
    """CREATE TABLE session (
        id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES user(id),
        created_at REAL NOT NULL, last_seen_at REAL NOT NULL, expires_at REAL NOT NULL,
        ip TEXT, method TEXT NOT NULL)""",
    "CREATE INDEX session_by_user ON session(user_id)",
    """CREATE TABLE login_throttle (
        key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start REAL NOT NULL,
        locked_until REAL NOT NULL DEFAULT 0)""",
    # The audit log ("registration of significant events"): append-only, scoped by the object's place
    # in the hierarchy so that each subtree's staff can read their own part of it.
    """CREATE TABLE audit_event (
        id INTEGER PRIMARY KEY, at REAL NOT NULL, actor_user_id INTEGER, actor_login TEXT,
        actor_role TEXT, action TEXT NOT NULL, object_kind TEXT, object_id INTEGER,
        region_id INTEGER, municipality_id INTEGER, school_id INTEGER,
        ip TEXT, outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')), detail TEXT)""",
    "CREATE INDEX audit_by_time ON audit_event(at)",
    "CREATE INDEX audit_by_scope ON audit_event(region_id, municipality_id, school_id, at)",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TABLE import_preview (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id INTEGER NOT NULL REFERENCES user(id),
        created_at REAL NOT NULL, applied_at REAL, plan TEXT NOT NULL)""",
)


@migrations(name="0003_pairing")
def _m0003(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0003:
        db.execute(statement)


_SCHEMA_0003 = (
    # A panel asking to be registered: the code on its screen, the key it proved it holds, and the
    # hash of the secret it alone will collect its credentials with. Kept after use (state `spent`)
    # so a code can never bind twice; housekeeping removes the old ones.
    """CREATE TABLE pairing (
        id TEXT PRIMARY KEY, code TEXT NOT NULL, curve_public_key TEXT NOT NULL,
        secret_hash TEXT NOT NULL, serial TEXT, mac TEXT, model TEXT, os TEXT, player_version TEXT,
        address TEXT, created_at REAL NOT NULL, expires_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'approved', 'spent')),
        panel_id INTEGER REFERENCES panel(id), approved_by INTEGER REFERENCES user(id))""",
    "CREATE UNIQUE INDEX pairing_by_code ON pairing(code) WHERE state = 'waiting'",
    "CREATE INDEX pairing_by_key ON pairing(curve_public_key)",
    "ALTER TABLE panel ADD COLUMN serial TEXT",
    "ALTER TABLE panel ADD COLUMN mac TEXT",
    "ALTER TABLE panel ADD COLUMN model TEXT",
    "ALTER TABLE panel ADD COLUMN os TEXT",
    "ALTER TABLE panel ADD COLUMN paired_at TEXT",
)
