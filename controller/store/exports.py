"""The lists an export writes: the schools or the staff of one node, as the import would read them.

The same scope as an import's (controller.store.imports.Scope): the exporter's own node or one inside
their subtree. A school list holds the scope's schools (whatever the state of their municipality, so
that a re-import reports such a school rather than archiving it); a staff list holds the accounts of
the roles a staff list may carry (teacher, school_it, municipal) bound to the scope's nodes.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from classcast.i18n import N_
from controller import access
from controller.import_columns import name_key
from controller.imports import STAFF_ROLES
from controller.store import audit
from controller.store.imports import Refused, Scope

OBJECT_KIND = {"schools": "school", "staff": "user"}

# level -> conditions on `school s` and `municipality m` that hold for the scope's schools and municipalities.
_SCHOOLS_IN = {
    "region": "s.municipality_id IN (SELECT id FROM municipality WHERE region_id = :node)",
    "municipality": "s.municipality_id = :node",
    "school": "s.id = :node",
}
_MUNICIPALITIES_IN = {"region": "m.region_id = :node", "municipality": "m.id = :node", "school": "0"}


def resolve_scope(
    db: Database, user: dict[str, Any], kind: str, level: str | None, node_id: int | None
) -> Scope:
    """Return the node whose `kind` list `user` exports: the one named, or their own.

    access.NotFound outside their subtree, access.Forbidden where their role may not export `kind`,
    Refused where the node holds no such list (a school's list of schools).
    """
    if level is None:
        if user["role"] == "operator" or not user["node_type"]:
            raise Refused(400, "scope", N_("Укажите регион или муниципалитет, список которого выгрузить."))
        level, node_id = user["node_type"], user["node_id"]
    if level not in access.LEVELS or node_id is None:
        raise Refused(400, "scope", N_("Узел выгрузки: region, municipality или school."))
    place = access.place_of(db, level, node_id)
    access.check(user, OBJECT_KIND[kind], "export", place, where=level)
    if kind == "schools" and level == "school":
        raise Refused(400, "scope", N_("Список школ выгружается для муниципалитета или региона."))
    name = next(iter(db.query(f"SELECT name FROM {level} WHERE id = ?", [node_id])))["name"]
    return Scope(level, node_id, name, place)


def schools(db: Database, scope: Scope, archived: bool = False) -> list[dict[str, Any]]:
    """Return the scope's schools (active ones unless `archived`) by municipality and name."""
    sql = f"""SELECT m.name AS municipality, s.name, s.short_name, s.ogrn, s.inn, s.address, s.timezone
              FROM school s JOIN municipality m ON m.id = s.municipality_id
              WHERE {_SCHOOLS_IN[scope.level]} {"" if archived else "AND s.archived_at IS NULL"}"""
    rows = list(db.query(sql, {"node": scope.node_id}))
    rows.sort(key=lambda row: (name_key(row["municipality"]), name_key(row["name"])))
    return rows


def staff(db: Database, scope: Scope, archived: bool = False) -> list[dict[str, Any]]:
    """Return the accounts a staff list of the scope holds (active ones unless `archived`).

    Each with `school_ogrn` or `municipality` (the node's name), ordered by node and name.
    """
    roles = ", ".join(f"'{role}'" for role in STAFF_ROLES)
    sql = f"""SELECT u.login, u.full_name, u.email, u.role, s.ogrn AS school_ogrn,
                     coalesce(m.name, sm.name) AS municipality, s.short_name AS school
              FROM user u
              LEFT JOIN school s ON u.node_type = 'school' AND s.id = u.node_id
              LEFT JOIN municipality sm ON sm.id = s.municipality_id
              LEFT JOIN municipality m ON u.node_type = 'municipality' AND m.id = u.node_id
              WHERE u.role IN ({roles}) {"" if archived else "AND u.archived_at IS NULL"}
                AND ((s.id IS NOT NULL AND {_SCHOOLS_IN[scope.level]})
                  OR (m.id IS NOT NULL AND {_MUNICIPALITIES_IN[scope.level]}))"""
    rows = list(db.query(sql, {"node": scope.node_id}))
    rows.sort(
        key=lambda row: (
            name_key(row["municipality"] or ""),
            row["school"] is not None,  # a municipality's coordinators before its schools
            name_key(row["school"] or ""),
            name_key(row["full_name"]),
        )
    )
    return rows


def record(
    db: Database, actor: audit.Actor, kind: str, scope: Scope, file_format: str, rows: int, archived: bool
) -> None:
    """Audit one export: who, of which node, which list, in which format, how many rows; no row itself."""
    detail = {
        "kind": kind,
        "format": file_format,
        "rows": rows,
        "level": scope.level,
        "node_id": scope.node_id,
    }
    if archived:
        detail["archived"] = True
    audit.record(db, actor, "export", "ok", OBJECT_KIND[kind], None, scope.place, detail)
