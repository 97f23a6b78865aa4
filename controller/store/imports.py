"""Import previews and their application: a plan kept for the person who uploaded it, applied once.

A preview is the plan of controller.import_plan for one file, saved in `import_preview` for its author
for an hour. Applying it plans again against the registry as it is now: if the answer differs from
what they confirmed, nothing is applied and a new preview takes its place. Otherwise it is written in
transactions of CHUNK rows through the single writer, so that casts and telemetry go on between them,
and one "import" event with the counts (no names, no logins) goes to the audit log.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database as Connection

from classcast.i18n import N_, Message
from controller import access
from controller.db import Database
from controller.import_columns import name_key
from controller.import_plan import plan
from controller.imports import Parsed, Progress, parse
from controller.store import audit
from controller.store.import_world import load_world
from controller.timeutil import now_iso

EXPIRES_S = 3600  # a preview older than this is not applied: the registry may have moved on
KEEP_S = 86400  # previews hold names and e-mails: gone a day later, applied or not
CHUNK = 5000  # rows per transaction while applying
FIRST = 20  # items of each section in a summary; the rest by pages
SECTIONS = {
    "add": "to_add",
    "change": "to_change",
    "archive": "to_archive",
    "bad": "bad_rows",
    "municipalities": "municipalities_to_add",
}
_OBJECT_KIND = {"schools": "school", "staff": "user"}


class Refused(Exception):
    """A preview or an application refused: `status` for HTTP, `code` stable, `message` for people."""

    def __init__(self, status: int, code: str, text: str, **values: object) -> None:
        self.status, self.code, self.message = status, code, Message(text, values)
        super().__init__(str(self.message))


class Changed(Refused):
    """The registry changed since the preview: nothing applied; `preview` is the new plan to confirm."""

    def __init__(self, preview: dict[str, Any]) -> None:
        super().__init__(409, "changed", N_("Данные изменились после предпросмотра: проверьте новый план."))
        self.preview = preview


@dataclass(frozen=True)
class Scope:
    """The node an import covers: its level, id and name, and its place in the hierarchy."""

    level: str
    node_id: int
    name: str
    place: access.Place


def resolve_scope(
    db: Connection, user: dict[str, Any], kind: str, level: str | None, node_id: int | None
) -> Scope:
    """Return the scope of `user`'s import of `kind`: the node named, or their own; raise if not theirs.

    access.NotFound outside their subtree, access.Forbidden where their role may not create the
    objects of `kind`, Refused where the node cannot hold such a list.
    """
    if level is None:
        if user["role"] == "operator" or not user["node_type"]:
            raise Refused(400, "scope", N_("Укажите регион или муниципалитет, который покрывает файл."))
        level, node_id = user["node_type"], user["node_id"]
    if level not in access.LEVELS or node_id is None:
        raise Refused(400, "scope", N_("Узел импорта: region, municipality или school."))
    place = access.place_of(db, level, node_id)
    access.check(user, _OBJECT_KIND[kind], "create", place, where=level)
    if kind == "schools" and level == "school":
        raise Refused(400, "scope", N_("Список школ загружается для муниципалитета или региона."))
    name = next(iter(db.query(f"SELECT name FROM {level} WHERE id = ?", [node_id])))["name"]
    return Scope(level, node_id, name, place)


def preview(
    db: Database, user: dict[str, Any], kind: str, data: bytes, scope: Scope, progress: Progress | None = None
) -> dict[str, Any]:
    """Return the summary of a new preview of the file `data`; nothing in the registry changes.

    Raises controller.imports.FileRefused when the file as a whole cannot be read as a list.
    """
    parsed = parse(kind, data, progress)
    return _save(db, user, scope, parsed, _plan(db.read, user, scope, parsed))


def _plan(db: Connection, user: dict[str, Any], scope: Scope, parsed: Parsed) -> dict[str, Any]:
    return plan(parsed, load_world(db, user, scope, parsed))


def _save(db: Database, user: dict[str, Any], scope: Scope, parsed: Parsed, sections: dict) -> dict[str, Any]:
    created = time.time()
    meta = {
        "kind": parsed.kind,
        "scope": {"level": scope.level, "id": scope.node_id, "name": scope.name},
        "created_at": created,
        "expires_at": created + EXPIRES_S,
        "counts": sections["counts"],
        "notes": sections["notes"],
        "columns": parsed.columns,
        "ignored_columns": parsed.ignored,
        "first": {name: sections[key][:FIRST] for name, key in SECTIONS.items()},
    }
    document = {"meta": meta, **sections, "parsed": parsed.to_json()}
    row = {"id": secrets.token_urlsafe(16), "kind": parsed.kind, "user_id": user["id"], "created_at": created}
    db.write(_insert_preview, {**row, "plan": json.dumps(document, ensure_ascii=False)})
    return {"id": row["id"], **meta, "applied_at": None}


def _insert_preview(db: Connection, row: dict[str, Any]) -> None:
    db.execute("DELETE FROM import_preview WHERE created_at < ?", [row["created_at"] - KEEP_S])
    db["import_preview"].insert(row)


def summary(db: Connection, preview_id: str, user: dict[str, Any]) -> dict[str, Any]:
    """Return a preview's counts and the first items of each section; Refused(404) unless it is theirs."""
    row = _own(db, preview_id, user, "json_extract(plan, '$.meta') AS meta")
    return {"id": preview_id, **json.loads(row["meta"]), "applied_at": row["applied_at"]}


def page(
    db: Connection, preview_id: str, user: dict[str, Any], section: str, offset: int, limit: int
) -> dict:
    """Return `limit` items of one section of a preview from `offset` on, and the section's length."""
    if section not in SECTIONS:
        raise Refused(400, "section", N_("Раздел: add, change, archive, bad или municipalities."))
    path = f"$.{SECTIONS[section]}"
    row = _own(db, preview_id, user, f"json_array_length(plan, '{path}') AS total")
    items = db.query(
        f"SELECT value FROM import_preview, json_each(import_preview.plan, '{path}') "
        "WHERE import_preview.id = ? LIMIT ? OFFSET ?",
        [preview_id, limit, offset],
    )
    rows = [json.loads(item["value"]) for item in items]
    return {"id": preview_id, "section": section, "offset": offset, "total": row["total"], "items": rows}


def _own(db: Connection, preview_id: str, user: dict[str, Any], columns: str) -> dict[str, Any]:
    sql = f"SELECT user_id, applied_at, created_at, {columns} FROM import_preview WHERE id = ?"
    row = next(iter(db.query(sql, [preview_id])), None)
    # Someone else's preview does not exist for this user, whatever their role.
    if row is None or row["user_id"] != user["id"]:
        raise Refused(404, "not_found", N_("Предпросмотр импорта не найден."))
    return row


def apply(
    db: Database,
    user: dict[str, Any],
    preview_id: str,
    ip: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Return the counts applied from the user's preview; Refused if it is stale, applied or not theirs."""
    row = _own(db.read, preview_id, user, "plan")
    if row["applied_at"] is not None:
        raise Refused(409, "applied", N_("Этот импорт уже применён."))
    if time.time() - row["created_at"] > EXPIRES_S:
        raise Refused(410, "expired", N_("Предпросмотр устарел (старше часа): загрузите файл снова."))
    document = json.loads(row["plan"])
    scope = _scope_of(db.read, user, document["meta"])
    parsed = Parsed.from_json(document["parsed"])
    fresh = _plan(db.read, user, scope, parsed)
    if not _same(fresh, document):
        raise Changed(_save(db, user, scope, parsed, fresh))
    if not db.write(_claim, preview_id):
        raise Refused(409, "applied", N_("Этот импорт уже применён."))
    return _apply_claimed(db, user, preview_id, scope, document, ip, progress)


def _scope_of(db: Connection, user: dict[str, Any], meta: dict[str, Any]) -> Scope:
    # Asked again: the importer may have lost the right since the preview.
    try:
        return resolve_scope(db, user, meta["kind"], meta["scope"]["level"], meta["scope"]["id"])
    except (access.NotFound, access.Forbidden):
        raise Refused(403, "forbidden", N_("Недостаточно прав для этого импорта.")) from None


def _same(fresh: dict[str, Any], document: dict[str, Any]) -> bool:
    """Return whether a plan made now is the one the user confirmed.

    A plan holds only what JSON holds (dicts, lists, text, numbers), so it compares with its stored copy
    as it is.
    """
    return all(fresh[key] == document[key] for key in SECTIONS.values())


def _claim(db: Connection, preview_id: str) -> bool:
    sql = "UPDATE import_preview SET applied_at = ? WHERE id = ? AND applied_at IS NULL"
    return db.execute(sql, [time.time(), preview_id]).rowcount == 1


def _apply_claimed(
    db: Database,
    user: dict[str, Any],
    preview_id: str,
    scope: Scope,
    document: dict[str, Any],
    ip: str | None,
    progress: Progress | None,
) -> dict[str, Any]:
    meta = document["meta"]
    counts = meta["counts"]
    total = counts["add"] + counts["change"] + counts["archive"] + counts["municipalities_add"]
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    detail = {"kind": meta["kind"], "preview": preview_id, **counts}
    actor = audit.Actor.of(user, ip)
    kind = _OBJECT_KIND[meta["kind"]]
    try:
        (_write_schools if meta["kind"] == "schools" else _write_staff)(db, scope, document, step)
    except Exception as exc:
        detail.update(applied_rows=done, total_rows=total)
        db.write(audit.record, actor, "import", "failed", kind, None, scope.place, detail)
        if isinstance(exc, sqlite3.IntegrityError):
            raise Refused(409, "interrupted", _INTERRUPTED, done=done, total=total) from exc
        raise
    db.write(audit.record, actor, "import", "ok", kind, None, scope.place, detail)
    return {"id": preview_id, "kind": meta["kind"], "applied": counts}


_INTERRUPTED = N_(
    "Импорт прерван: данные изменились во время применения (применено %(done)d из %(total)d). "
    "Загрузите файл снова: применённое не повторится."
)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _write_schools(db: Database, scope: Scope, document: dict[str, Any], step: Callable[[int], None]) -> None:
    names = [item["name"] for item in document["municipalities_to_add"]]
    created = db.write(_add_municipalities, scope.place.region_id, names) if names else {}
    step(len(names))
    for chunk in _chunks(document["to_add"]):
        rows = [_school_row(item, created) for item in chunk]
        db.write(_insert, "school", rows)
        step(len(chunk))
    for chunk in _chunks(document["to_change"]):
        db.write(_update, "school", [_resolved(item, created) for item in chunk])
        step(len(chunk))
    for chunk in _chunks([item["id"] for item in document["to_archive"]]):
        db.write(_archive, "school", chunk)
        step(len(chunk))


def _add_municipalities(db: Connection, region_id: int, names: list[str]) -> dict[str, int]:
    return {
        name_key(n): db["municipality"].insert({"region_id": region_id, "name": n}).last_pk for n in names
    }


def _school_row(item: dict[str, Any], created: dict[str, int]) -> dict[str, Any]:
    fields = item["fields"]
    municipality_id = item["municipality_id"] or created[name_key(fields["municipality"])]
    columns = ("name", "short_name", "ogrn", "inn", "address", "timezone")
    return {"municipality_id": municipality_id, **{c: fields[c] for c in columns}}


def _resolved(item: dict[str, Any], created: dict[str, int]) -> dict[str, Any]:
    columns = dict(item["set"])
    if "new_municipality" in columns:
        columns["municipality_id"] = created[name_key(columns.pop("new_municipality"))]
    return {"id": item["id"], "set": columns}


def _write_staff(db: Database, scope: Scope, document: dict[str, Any], step: Callable[[int], None]) -> None:
    created_at = now_iso()
    for chunk in _chunks(document["to_add"]):
        db.write(_insert, "user", [_account_row(item, created_at) for item in chunk])
        step(len(chunk))
    for chunk in _chunks(document["to_change"]):
        db.write(_update, "user", chunk)
        step(len(chunk))
    for chunk in _chunks([item["id"] for item in document["to_archive"]]):
        db.write(_archive, "user", chunk)
        step(len(chunk))


def _account_row(item: dict[str, Any], created_at: str) -> dict[str, Any]:
    fields = item["fields"]
    # No password: the person signs in through single sign-on, or staff set one later. Hashing 60,000
    # made-up passwords with argon2 would take minutes and help nobody.
    return {
        **{c: fields[c] for c in ("login", "full_name", "email", "role")},
        "password_hash": None,
        "node_type": item["node_type"],
        "node_id": item["node_id"],
        "created_at": created_at,
    }


def _insert(db: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    # executemany of one prepared statement: insert_all's per-value conversions cost more than SQLite.
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    db.conn.executemany(sql, [[row[c] for c in columns] for row in rows])


def _update(db: Connection, table: str, items: list[dict[str, Any]]) -> None:
    """Set each item's columns; items that set the same columns go in one executemany."""
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for item in items:
        columns = tuple(sorted(item["set"]))
        groups.setdefault(columns, []).append([*(item["set"][c] for c in columns), item["id"]])
    for columns, params in groups.items():
        assignments = ", ".join(f"{column} = ?" for column in columns)
        db.conn.executemany(f"UPDATE {table} SET {assignments} WHERE id = ?", params)


def _archive(db: Connection, table: str, ids: list[int]) -> None:
    chosen = "id IN (SELECT value FROM json_each(?))"
    db.execute(
        f"UPDATE {table} SET archived_at = ? WHERE {chosen} AND archived_at IS NULL",
        [now_iso(), json.dumps(ids)],
    )
    if table == "user":
        db.execute(f"DELETE FROM session WHERE user_{chosen}", [json.dumps(ids)])
