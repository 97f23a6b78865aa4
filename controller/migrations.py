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


@migrations(name="0004_panel_lifecycle")
def _m0004(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0004:
        db.execute(statement)


_SCHEMA_0004 = (
    # panel.state is now one of: pending, active, revoked, decommissioned. Offline and silent are
    # not stored: they follow from last_seen_at and the settings (controller.store.lifecycle).
    "ALTER TABLE panel ADD COLUMN revoked_at TEXT",
    "ALTER TABLE panel ADD COLUMN decommissioned_at TEXT",
    "ALTER TABLE panel ADD COLUMN replaced_by INTEGER REFERENCES panel(id)",
    "ALTER TABLE panel ADD COLUMN last_address TEXT",
    # The latest health the panel's agent reported (heartbeat), kept on the row for the registry.
    "ALTER TABLE panel ADD COLUMN health_at REAL",
    "ALTER TABLE panel ADD COLUMN temperature_c REAL",
    "ALTER TABLE panel ADD COLUMN disk_free_bytes INTEGER",
    "ALTER TABLE panel ADD COLUMN disk_total_bytes INTEGER",
    "ALTER TABLE panel ADD COLUMN undervoltage_now INTEGER",
    "ALTER TABLE panel ADD COLUMN undervoltage_seen_at REAL",
    "ALTER TABLE panel ADD COLUMN display_connected INTEGER",
    # A second device using this panel's credentials while the first is connected.
    "ALTER TABLE panel ADD COLUMN clone_seen_at REAL",
    "ALTER TABLE panel ADD COLUMN clone_detail TEXT",
    "CREATE INDEX panel_by_school ON panel(school_id, state)",
    "CREATE INDEX panel_by_serial ON panel(serial)",
    # What the panel should be showing and doing; sent whole whenever the panel connects.
    """CREATE TABLE panel_desired (
        panel_id INTEGER PRIMARY KEY REFERENCES panel(id), version INTEGER NOT NULL,
        state TEXT NOT NULL, updated_at REAL NOT NULL)""",
    # Credentials of revoked panels, as hashes only, so that their later traffic is recognised and
    # counted (it is refused either way).
    """CREATE TABLE revoked_credential (
        hash TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('token', 'curve')),
        panel_id INTEGER NOT NULL REFERENCES panel(id), revoked_at REAL NOT NULL)""",
    # Every refused or unregistered contact, one row per channel and credential: a revoked panel's
    # traffic (panel_id set) and devices that tried to connect without being registered (NULL).
    """CREATE TABLE contact_attempt (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL CHECK (channel IN ('pairing', 'socketio', 'telemetry', 'http')),
        credential_hash TEXT NOT NULL, panel_id INTEGER REFERENCES panel(id),
        serial TEXT, mac TEXT, model TEXT, address TEXT,
        first_at REAL NOT NULL, last_at REAL NOT NULL, attempts INTEGER NOT NULL,
        UNIQUE (channel, credential_hash))""",
    "CREATE INDEX contact_attempt_by_time ON contact_attempt(last_at)",
    "CREATE INDEX contact_attempt_by_panel ON contact_attempt(panel_id)",
    # Panels a region bought, by serial, with the school (and room) each is meant for.
    """CREATE TABLE provision (
        id INTEGER PRIMARY KEY, serial TEXT NOT NULL, school_id INTEGER NOT NULL REFERENCES school(id),
        room_id INTEGER REFERENCES room(id), name TEXT, created_by INTEGER REFERENCES user(id),
        created_at REAL NOT NULL, panel_id INTEGER REFERENCES panel(id), used_at REAL)""",
    "CREATE UNIQUE INDEX provision_by_serial ON provision(serial) WHERE panel_id IS NULL",
    "CREATE INDEX provision_by_school ON provision(school_id)",
    # Remote actions school IT took on a panel, and whether the panel acknowledged them.
    """CREATE TABLE panel_action (
        id INTEGER PRIMARY KEY, panel_id INTEGER NOT NULL REFERENCES panel(id),
        action TEXT NOT NULL, user_id INTEGER REFERENCES user(id), requested_at REAL NOT NULL,
        answered_at REAL, outcome TEXT NOT NULL DEFAULT 'sent', error TEXT)""",
    "CREATE INDEX panel_action_by_panel ON panel_action(panel_id, requested_at)",
    # Incidents school IT is told of: opened once, resolved once.
    """CREATE TABLE incident (
        id INTEGER PRIMARY KEY, panel_id INTEGER NOT NULL REFERENCES panel(id),
        school_id INTEGER NOT NULL REFERENCES school(id),
        kind TEXT NOT NULL CHECK (kind IN ('offline', 'overheat', 'low_disk', 'undervoltage', 'clone')),
        opened_at REAL NOT NULL, resolved_at REAL, detail TEXT)""",
    "CREATE UNIQUE INDEX incident_open ON incident(panel_id, kind) WHERE resolved_at IS NULL",
    "CREATE INDEX incident_by_school ON incident(school_id, opened_at)",
    # Messages to the operator's webhook or to school IT's e-mail, sent (and retried) by the notifier.
    """CREATE TABLE notification_outbox (
        id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incident(id),
        event TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
        channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
        created_at REAL NOT NULL, next_attempt_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        sent_at REAL, last_error TEXT)""",
    "CREATE INDEX notification_outbox_due ON notification_outbox(sent_at, next_attempt_at)",
)
