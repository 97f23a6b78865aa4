"""The snapshot of an importer's scope that planning an import compares a file with.

A handful of set-wise queries whatever the file's size: the scope's schools, municipalities and
accounts in one query each, and the file's keys that are taken outside the scope in one more (the
keys travel as one JSON array, not one query per row).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from controller import access
from controller.import_columns import name_key
from controller.import_plan import SchoolWorld, StaffWorld
from controller.imports import Parsed

if TYPE_CHECKING:
    from controller.store.imports import Scope

# level -> (the scope's schools, the scope's municipalities), as conditions on each table.
_WHERE = {
    "region": (
        "municipality_id IN (SELECT id FROM municipality WHERE region_id = :node)",
        "region_id = :node",
    ),
    "municipality": ("municipality_id = :node", "id = :node"),
    "school": ("id = :node", "0"),
}


def load_world(db: Database, user: dict[str, Any], scope: Scope, parsed: Parsed) -> SchoolWorld | StaffWorld:
    """Return what planning `parsed` needs to know of `scope`, read in a few queries."""
    if parsed.kind == "schools":
        return _school_world(db, user, scope, parsed)
    return _staff_world(db, user, scope, parsed)


def _school_world(db: Database, user: dict[str, Any], scope: Scope, parsed: Parsed) -> SchoolWorld:
    schools_where, _ = _WHERE[scope.level]
    columns = "id, municipality_id, name, short_name, ogrn, inn, address, timezone, archived_at"
    schools = list(db.query(f"SELECT {columns} FROM school WHERE {schools_where}", {"node": scope.node_id}))
    held = {school["ogrn"] for school in schools}
    asked = [values["ogrn"] for _, values in parsed.records if values["ogrn"] not in held]
    municipalities = _municipalities(db, scope)
    return SchoolWorld(
        municipalities=municipalities,
        schools=schools,
        ogrns_elsewhere=_taken(db, "school", "ogrn", asked),
        home_municipality=_home(municipalities, scope) if scope.level == "municipality" else None,
        may_add_municipalities=scope.level == "region" and _may(user, "municipality"),
    )


def _staff_world(db: Database, user: dict[str, Any], scope: Scope, parsed: Parsed) -> StaffWorld:
    schools_where, municipalities_where = _WHERE[scope.level]
    node = {"node": scope.node_id, "region": scope.node_id if scope.level == "region" else None}
    schools = list(db.query(f"SELECT id, ogrn, archived_at FROM school WHERE {schools_where}", node))
    accounts = list(
        db.query(
            f"""SELECT id, login, full_name, email, role, node_type, node_id, archived_at FROM user
                WHERE (node_type = 'school' AND node_id IN (SELECT id FROM school WHERE {schools_where}))
                   OR (node_type = 'municipality'
                       AND node_id IN (SELECT id FROM municipality WHERE {municipalities_where}))
                   OR (node_type = 'region' AND node_id = :region)""",
            node,
        )
    )
    held = {account["login"] for account in accounts}
    municipalities = _municipalities(db, scope)
    return StaffWorld(
        importer=user,
        accounts=accounts,
        schools={school["ogrn"]: school for school in schools if school["ogrn"]},
        school_ogrns={school["id"]: school["ogrn"] for school in schools if school["ogrn"]},
        municipalities=municipalities,
        logins_elsewhere=_taken(
            db, "user", "login", [v["login"] for _, v in parsed.records if v["login"] not in held]
        ),
        home_school=schools[0] if scope.level == "school" else None,
        home_municipality=_home(municipalities, scope) if scope.level == "municipality" else None,
    )


def _municipalities(db: Database, scope: Scope) -> dict[str, dict[str, Any]]:
    """Return the scope's municipalities by name as matched; an active one wins over an archived namesake."""
    _, where = _WHERE[scope.level]
    sql = f"SELECT id, name, archived_at FROM municipality WHERE {where} ORDER BY archived_at IS NULL, id"
    return {name_key(row["name"]): row for row in db.query(sql, {"node": scope.node_id})}


def _home(municipalities: dict[str, dict[str, Any]], scope: Scope) -> dict[str, Any]:
    return next(m for m in municipalities.values() if m["id"] == scope.node_id)


def _taken(db: Database, table: str, column: str, values: list[str]) -> set[str]:
    """Return which of `values` some row of `table` holds in `column` (one query, however many values)."""
    if not values:
        return set()
    sql = f"SELECT {column} FROM {table} WHERE {column} IN (SELECT value FROM json_each(?))"
    return {row[column] for row in db.query(sql, [json.dumps(values)])}


def _may(user: dict[str, Any], kind: str) -> bool:
    return user["role"] in access.POLICY[kind]["create"]
