"""Every schema change of the controller's database, in order. Never edit one that has shipped; add one."""

from __future__ import annotations

import json

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


@migrations(name="0005_telemetry_batches_rollups")
def _m0005(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0005:
        db.execute(statement)
    _move_events_into_batches(db)
    db.execute("DROP TABLE telemetry_event")
    db.execute(_TELEMETRY_EVENT_VIEW)


_SCHEMA_0005 = (
    # One agent spool of one panel: event ids are "<spool_id>:<seq>".
    """CREATE TABLE telemetry_stream (
        id INTEGER PRIMARY KEY, panel_id INTEGER NOT NULL REFERENCES panel(id), spool_id TEXT NOT NULL,
        UNIQUE (panel_id, spool_id))""",
    # The sequence numbers of a stream the controller holds (stored, or dropped by the panel), as
    # merged ranges: usually one row per stream, however many events. Never pruned: exactly once
    # holds for ever.
    """CREATE TABLE telemetry_held (
        stream_id INTEGER NOT NULL REFERENCES telemetry_stream(id), first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL, PRIMARY KEY (stream_id, first_seq)) WITHOUT ROWID""",
    # The stored events, one row per batch: a region's panels send millions a day, and a row per
    # event would cost more than everything else ingest does. `events` is a JSON array.
    """CREATE TABLE telemetry_batch (
        id INTEGER PRIMARY KEY, panel_id INTEGER NOT NULL REFERENCES panel(id),
        received_at REAL NOT NULL, first_time REAL NOT NULL, last_time REAL NOT NULL,
        count INTEGER NOT NULL, events TEXT NOT NULL)""",
    "CREATE INDEX telemetry_batch_by_panel ON telemetry_batch(panel_id, last_time)",
    # Wall time less monotonic time of each boot of a panel, learned from its batches: corrects the
    # times of events stamped before the clock was synchronised.
    """CREATE TABLE telemetry_boot (
        panel_id INTEGER NOT NULL REFERENCES panel(id), boot TEXT NOT NULL, offset REAL NOT NULL,
        synced INTEGER NOT NULL, PRIMARY KEY (panel_id, boot)) WITHOUT ROWID""",
    # Daily figures per panel, on the school's calendar (its time zone), kept by ingest.
    """CREATE TABLE panel_day (
        panel_id INTEGER NOT NULL REFERENCES panel(id), day TEXT NOT NULL,
        heartbeats INTEGER NOT NULL DEFAULT 0, screen_on_s REAL NOT NULL DEFAULT 0,
        in_use_s REAL NOT NULL DEFAULT 0, lessons INTEGER NOT NULL DEFAULT 0,
        casts INTEGER NOT NULL DEFAULT 0, cast_s REAL NOT NULL DEFAULT 0,
        library_s REAL NOT NULL DEFAULT 0, max_temperature_c REAL,
        dropped_events INTEGER NOT NULL DEFAULT 0, recoveries INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (panel_id, day)) WITHOUT ROWID""",
    "CREATE INDEX panel_day_by_day ON panel_day(day)",
    # Screen-on and in-use seconds split at the school's hour boundaries.
    """CREATE TABLE panel_hour (
        panel_id INTEGER NOT NULL REFERENCES panel(id), day TEXT NOT NULL, hour INTEGER NOT NULL,
        screen_on_s REAL NOT NULL DEFAULT 0, in_use_s REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (panel_id, day, hour)) WITHOUT ROWID""",
)

# The events one by one, for reading and for tests; ingest writes batches.
_TELEMETRY_EVENT_VIEW = """CREATE VIEW telemetry_event AS
    SELECT b.panel_id AS panel_id, json_extract(e.value, '$.id') AS event_id,
        json_extract(e.value, '$.type') AS type,
        coalesce(json_extract(e.value, '$.time'), json_extract(e.value, '$.wall_time')) AS wall_time,
        json_extract(e.value, '$.wall_time') AS panel_wall_time, b.received_at AS received_at,
        json_extract(e.value, '$.clock_synced') AS clock_synced, json_extract(e.value, '$.data') AS data
    FROM telemetry_batch AS b, json_each(b.events) AS e"""


def _move_events_into_batches(db: sqlite_utils.Database) -> None:
    """Move the events stored one per row into batch rows of up to 100, and mark their ids held."""
    panels = [row[0] for row in db.execute("SELECT DISTINCT panel_id FROM telemetry_event")]
    for panel_id in panels:
        rows = db.execute(
            "SELECT event_id, type, wall_time, received_at, clock_synced, data FROM telemetry_event"
            " WHERE panel_id = ? ORDER BY wall_time",
            [panel_id],
        ).fetchall()
        for start in range(0, len(rows), 100):
            chunk = rows[start : start + 100]
            events = [
                {
                    "id": r[0],
                    "type": r[1],
                    "wall_time": r[2],
                    "mono_time": 0.0,
                    "clock_synced": bool(r[4]),
                    "data": json.loads(r[5]),
                }
                for r in chunk
            ]
            db.execute(
                "INSERT INTO telemetry_batch (panel_id, received_at, first_time, last_time, count, events)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    panel_id,
                    max(r[3] for r in chunk),
                    chunk[0][2],
                    chunk[-1][2],
                    len(chunk),
                    json.dumps(events),
                ],
            )
        for event_id, *_ in rows:
            spool_id, _, seq = event_id.rpartition(":")
            if spool_id and seq.isdigit():
                db.execute(
                    "INSERT OR IGNORE INTO telemetry_stream (panel_id, spool_id) VALUES (?, ?)",
                    [panel_id, spool_id],
                )
                stream = db.execute(
                    "SELECT id FROM telemetry_stream WHERE panel_id = ? AND spool_id = ?",
                    [panel_id, spool_id],
                ).fetchone()[0]
                db.execute(
                    "INSERT OR IGNORE INTO telemetry_held VALUES (?, ?, ?)", [stream, int(seq), int(seq)]
                )


_WEEK_COLUMNS = ("heartbeats", "in_use_s", "lessons", "casts", "cast_s", "library_s")
_WEEK_SUMS = ", ".join(_WEEK_COLUMNS)
_MONDAY = "date(NEW.day, 'weekday 0', '-6 days')"  # the Monday of the day's week ('weekday 0': Sunday)


@migrations(name="0006_school_calendar_statistics")
def _m0006(db: sqlite_utils.Database) -> None:
    from controller.stats import weeks

    for statement in _SCHEMA_0006:
        db.execute(statement)
    weeks.rebuild(db)  # the casts made before: each by its school's week


_SCHEMA_0006 = (
    # The days of the week a school works (ISO numbers, "1-5" or "1-6"); NULL: the `school_days` setting.
    "ALTER TABLE school ADD COLUMN school_days TEXT",
    # The school calendar's exceptions, set for a whole region, a municipality or one school: a holiday
    # or vacation day on a working weekday, or a working day on a weekend (a transferred working day).
    # A school's calendar is its weekdays, less the holidays of its region, municipality and its own,
    # plus their working days. The usage statistics count only school days as days a panel should work.
    """CREATE TABLE calendar_day (
        node_type TEXT NOT NULL CHECK (node_type IN ('region', 'municipality', 'school')),
        node_id INTEGER NOT NULL, day TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')), name TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (node_type, node_id, day)) WITHOUT ROWID""",
    # Teachers casting in a period: the casts of a school's teachers by time.
    'CREATE INDEX cast_by_time ON "cast"(created_at, user_id)',
    # Each panel's figures by week (Monday to Sunday on the school's calendar), kept equal to the sums of
    # its panel_day rows by the triggers below whoever writes them: the statistics read whole weeks here
    # (a region's quarter is 65,000 rows instead of 450,000) and only a period's odd days in panel_day.
    # Keyed by week first: a page reads whole weeks of every panel, one contiguous range each.
    """CREATE TABLE panel_week (
        panel_id INTEGER NOT NULL REFERENCES panel(id), week TEXT NOT NULL,
        heartbeats INTEGER NOT NULL DEFAULT 0, in_use_s REAL NOT NULL DEFAULT 0,
        lessons INTEGER NOT NULL DEFAULT 0, casts INTEGER NOT NULL DEFAULT 0,
        cast_s REAL NOT NULL DEFAULT 0, library_s REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (week, panel_id)) WITHOUT ROWID""",
    f"""CREATE TRIGGER panel_day_into_week AFTER INSERT ON panel_day BEGIN
        INSERT INTO panel_week (panel_id, week, {_WEEK_SUMS})
        VALUES (NEW.panel_id, {_MONDAY}, {", ".join(f"NEW.{c}" for c in _WEEK_COLUMNS)})
        ON CONFLICT (week, panel_id) DO UPDATE SET
        {", ".join(f"{c} = {c} + excluded.{c}" for c in _WEEK_COLUMNS)};
    END""",
    f"""CREATE TRIGGER panel_day_change_week AFTER UPDATE ON panel_day BEGIN
        UPDATE panel_week SET {", ".join(f"{c} = {c} + NEW.{c} - OLD.{c}" for c in _WEEK_COLUMNS)}
        WHERE panel_id = NEW.panel_id AND week = {_MONDAY};
    END""",
    f"""INSERT INTO panel_week (panel_id, week, {_WEEK_SUMS})
        SELECT panel_id, {_MONDAY.replace("NEW.", "")} AS monday,
        {", ".join(f"sum({c})" for c in _WEEK_COLUMNS)} FROM panel_day GROUP BY panel_id, monday""",
    # How many times each teacher cast in each week of its school's calendar (a cast to a room counts
    # once, however many panels it has): the indicator "teachers casting" is weekly by definition.
    """CREATE TABLE cast_week (
        user_id INTEGER NOT NULL REFERENCES user(id), school_id INTEGER NOT NULL REFERENCES school(id),
        week TEXT NOT NULL, casts INTEGER NOT NULL, PRIMARY KEY (week, school_id, user_id)) WITHOUT ROWID""",
    # The statistics' scheduled exports: one row per export written, the newest tells when the next is due.
    """CREATE TABLE stats_export_run (
        id INTEGER PRIMARY KEY, started_at REAL NOT NULL, period_start TEXT NOT NULL,
        period_end TEXT NOT NULL, files INTEGER NOT NULL DEFAULT 0, error TEXT)""",
)


@migrations(name="0007_casting_materials_alerts")
def _m0007(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_0007:
        db.execute(statement)


_SCHEMA_0007 = (
    # What a stored file is (image, video, pdf, html5) and what the panels need to show it: a PDF's page
    # images (JSON list of {sha256, size, mime}), an HTML5 bundle's start page. Kind and details are
    # facts of the bytes, the same for every school that uploads them.
    "ALTER TABLE content ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'",
    "ALTER TABLE content ADD COLUMN detail TEXT",
    # Files made from a stored file (a PDF's page images): served to panels like content, counted in
    # the quota of every school that holds their parent.
    # (Two versions of one deck may share a page: the page is stored once, a part of each.)
    """CREATE TABLE content_part (
        sha256 TEXT NOT NULL, parent TEXT NOT NULL REFERENCES content(sha256),
        size INTEGER NOT NULL, mime TEXT NOT NULL, PRIMARY KEY (sha256, parent)) WITHOUT ROWID""",
    "CREATE INDEX content_part_by_parent ON content_part(parent)",
    # A school's materials: a stored file under the title a teacher gave it. The same bytes uploaded by
    # two schools are stored once and listed for each; school_id NULL: the samples every school sees.
    """CREATE TABLE material (
        id INTEGER PRIMARY KEY, school_id INTEGER REFERENCES school(id),
        content_sha256 TEXT NOT NULL REFERENCES content(sha256), title TEXT NOT NULL,
        created_by INTEGER REFERENCES user(id), created_at TEXT NOT NULL)""",
    "CREATE UNIQUE INDEX material_once ON material(coalesce(school_id, 0), content_sha256)",
    """INSERT INTO material (school_id, content_sha256, title, created_at)
        SELECT school_id, sha256, title, created_at FROM content""",
    # A teacher's saved lesson set: an ordered list of materials and links.
    """CREATE TABLE lesson_set (
        id INTEGER PRIMARY KEY, school_id INTEGER NOT NULL REFERENCES school(id),
        user_id INTEGER NOT NULL REFERENCES user(id), title TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    "CREATE INDEX lesson_set_by_user ON lesson_set(user_id)",
    """CREATE TABLE lesson_set_item (
        set_id INTEGER NOT NULL REFERENCES lesson_set(id) ON DELETE CASCADE, position INTEGER NOT NULL,
        material_id INTEGER REFERENCES material(id), url TEXT, title TEXT NOT NULL,
        PRIMARY KEY (set_id, position)) WITHOUT ROWID""",
    # Who has a room's screens now, with what, and where the remote stands: one cast per room at a time.
    """CREATE TABLE room_cast (
        room_id INTEGER PRIMARY KEY REFERENCES room(id), user_id INTEGER REFERENCES user(id),
        item TEXT NOT NULL, view TEXT NOT NULL, lesson_set_id INTEGER, set_index INTEGER,
        started_at REAL NOT NULL, updated_at REAL NOT NULL)""",
    # Alerts to a whole school or municipality, shown over everything until cleared.
    """CREATE TABLE alert (
        id INTEGER PRIMARY KEY,
        node_type TEXT NOT NULL CHECK (node_type IN ('school', 'municipality')), node_id INTEGER NOT NULL,
        title TEXT NOT NULL, text TEXT NOT NULL, level TEXT NOT NULL DEFAULT 'warning',
        sender_id INTEGER REFERENCES user(id), created_at REAL NOT NULL,
        cleared_at REAL, cleared_by INTEGER REFERENCES user(id))""",
    "CREATE INDEX alert_active ON alert(node_type, node_id) WHERE cleared_at IS NULL",
    # Each panel's acknowledgement of an alert (or why it failed): the sender sees who has not.
    """CREATE TABLE alert_ack (
        alert_id INTEGER NOT NULL REFERENCES alert(id), panel_id INTEGER NOT NULL REFERENCES panel(id),
        acked_at REAL, error TEXT, PRIMARY KEY (alert_id, panel_id)) WITHOUT ROWID""",
)


@migrations(name="0008_library_index_sso_tokens")
def _m0008(db: sqlite_utils.Database) -> None:
    # The library items teachers have seen (search results, details): their descriptions only, never
    # the journal's. Indexed for full-text search, so the library can still be searched when the main
    # system is out of reach.
    db.execute(
        """CREATE TABLE library_item (
            id TEXT PRIMARY KEY, title TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
            grades TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
            mime TEXT, size INTEGER, updated_at TEXT, seen_at REAL NOT NULL)"""
    )
    db["library_item"].enable_fts(
        ["title", "subject", "grades", "description"],
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )
    # The user's own single sign-on access token, kept with their server-side session for the main
    # system (main_credentials = user); never in the cookie, never sent to a browser or a panel.
    db.execute("ALTER TABLE session ADD COLUMN sso_access_token TEXT")
    db.execute("ALTER TABLE session ADD COLUMN sso_token_expires_at REAL")
    # A library item's media, fetched once into the content store and shown from there by every panel.
    db.execute(
        """CREATE TABLE library_media (
            item_id TEXT PRIMARY KEY, content_sha256 TEXT NOT NULL REFERENCES content(sha256),
            fetched_at REAL NOT NULL)"""
    )


@migrations(name="0009_screen_time_norms")
def _m0009(db: sqlite_utils.Database) -> None:
    # The lessons found over a screen-time norm (controller/norms.py): ClassCast's own findings, with
    # the grades of the norm applied; never the class, the subject, the teacher or the topic.
    db.execute(
        """CREATE TABLE norm_lesson (
            school_id INTEGER NOT NULL REFERENCES school(id), room_id INTEGER NOT NULL REFERENCES room(id),
            day TEXT NOT NULL, start TEXT NOT NULL, "end" TEXT NOT NULL, grades TEXT NOT NULL,
            screen_s REAL NOT NULL, lesson_limit_s REAL NOT NULL, day_limit_s REAL NOT NULL,
            over_lesson INTEGER NOT NULL, over_day INTEGER NOT NULL,
            PRIMARY KEY (room_id, day, start)) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX norm_lesson_by_day ON norm_lesson(day, school_id)")
    # The school days checked, with how many lessons had screen time and how many were over a norm: a
    # school with no row for a day was not checked (its count is unknown, not zero).
    db.execute(
        """CREATE TABLE norm_day (
            school_id INTEGER NOT NULL REFERENCES school(id), day TEXT NOT NULL,
            lessons INTEGER NOT NULL, over INTEGER NOT NULL, checked_at REAL NOT NULL,
            PRIMARY KEY (school_id, day)) WITHOUT ROWID"""
    )


@migrations(name="0010_room_schedules")
def _m0010(db: sqlite_utils.Database) -> None:
    # A room's screen schedule (docs/playlists.md): the text school IT uploaded, kept for download, and
    # the checked document with its materials resolved, which panels are sent; `revision` names it.
    db.execute(
        """CREATE TABLE room_schedule (
            room_id INTEGER PRIMARY KEY REFERENCES room(id), title TEXT NOT NULL,
            file_name TEXT NOT NULL, source TEXT NOT NULL, document TEXT NOT NULL, revision TEXT NOT NULL,
            uploaded_by INTEGER REFERENCES user(id), uploaded_at TEXT NOT NULL)"""
    )
    # The school's bell-schedule files, which its rooms' schedules name (`bells: bells-school.yaml`).
    db.execute(
        """CREATE TABLE schedule_file (
            school_id INTEGER NOT NULL REFERENCES school(id), name TEXT NOT NULL, text TEXT NOT NULL,
            uploaded_by INTEGER REFERENCES user(id), uploaded_at TEXT NOT NULL,
            PRIMARY KEY (school_id, name)) WITHOUT ROWID"""
    )


@migrations(name="0011_panel_screen_state")
def _m0011(db: sqlite_utils.Database) -> None:
    # The display's power as the panel last reported it (a `screen` usage event): on, or off, and why
    # (the schedule, a command, a fault), so school IT tells a screen off on purpose from a broken one.
    db.execute("ALTER TABLE panel ADD COLUMN screen_on INTEGER")
    db.execute("ALTER TABLE panel ADD COLUMN screen_reason TEXT")
    db.execute("ALTER TABLE panel ADD COLUMN screen_at REAL")
