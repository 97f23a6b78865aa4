"""The authorization matrix: every role × every object of a two-region world × every route.

For each account (one per role) and each route of the app, the route is called on every object of the
kind it names — objects of the account's own subtree, of sibling subtrees and above it. An action the
role may never take must be 403 on every object alike; any other action outside the subtree must be
404 (never a 200); inside, it must go through. Listings must hold exactly the objects of the subtree.
A route that is neither `@guarded` nor `@public` fails the test, so the matrix grows by itself as
routes are added.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from classcast.identity import ensure_identity
from controller import access, schedules
from controller.app import create_app
from controller.store import casts, orgs, panels, users

from .conftest import PASSWORD, sign_in

# Real OGRN/INN check digits are needed only where they are checked; these bodies pass every check.
SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "region": {"code": "77", "name": "Москва"},
    "municipality": {"name": "Новый район"},
    "school": {"name": "Школа № 99", "short_name": "СОШ № 99"},
    "room": {"name": "Кабинет 999"},
    "user": {"login": "new.teacher", "full_name": "Новый учитель", "role": "teacher"},
    "cast": {"url": "https://example.org/lesson"},
    "content": {},
}
ACCOUNTS = {
    "teacher": ("school", "S1"),
    "school_it": ("school", "S1"),
    "municipal": ("municipality", "M1"),
    "regional": ("region", "R1"),
    "operator": (None, None),
}


@dataclass
class MatrixWorld:
    ids: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> name -> id
    # (kind, id) -> (region, municipality, school) ids, written down as the world is built: the test's
    # own idea of where each object is, independent of the code under test.
    places: dict[tuple[str, int], tuple[int | None, int | None, int | None]] = field(default_factory=dict)

    def of(self, kind: str) -> list[int]:
        return list(self.ids.get(kind, {}).values())

    def inside(self, user: dict[str, Any], kind: str, object_id: int) -> bool:
        """Return whether the object lies in the account's subtree (the operator's is everything)."""
        if user["role"] == "operator":
            return True
        level = ("region", "municipality", "school").index(user["node_type"])
        return self.places[(kind, object_id)][level] == user["node_id"]


def build_world(app: Flask, tmp_path: Path) -> MatrixWorld:
    """Two regions; R1 holds M1 (S1, S2) and M2 (S3); R2 holds M3 (S4). A room, a panel, a cast and a
    teacher in every school; an account of each role."""
    svc = app.extensions["classcast"]
    world = MatrixWorld()

    def add(kind: str, name: str, object_id: int, place: tuple[int | None, ...]) -> int:
        world.ids.setdefault(kind, {})[name] = object_id
        world.places[(kind, object_id)] = place  # type: ignore[assignment]
        return object_id

    def build(db: Any) -> None:
        tree = {"R1": {"M1": ["S1", "S2"], "M2": ["S3"]}, "R2": {"M3": ["S4"]}}
        for n, (region, municipalities) in enumerate(tree.items()):
            r_id = orgs.create_region(db, f"{10 + n}", f"Регион {region}")
            add("region", region, r_id, (r_id, None, None))
            for municipality, schools in municipalities.items():
                m_id = orgs.create_municipality(db, r_id, municipality)
                add("municipality", municipality, m_id, (r_id, m_id, None))
                for school in schools:
                    s_id = orgs.create_school(db, m_id, f"Школа {school}", school)
                    add("school", school, s_id, (r_id, m_id, s_id))

    svc.db.write(build)
    for school, school_id in list(world.ids["school"].items()):
        _furnish_school(svc, world, add, tmp_path, school, school_id)
    for role, (node_type, node_name) in ACCOUNTS.items():
        node_id = world.ids[node_type][node_name] if node_type else None
        place = world.places[(node_type, node_id)] if node_type else (None, None, None)
        account = svc.db.write(users.create_user, role, PASSWORD, role, role, node_type, node_id)
        add("user", role, account, place)
    return world


def _furnish_school(
    svc: Any, world: MatrixWorld, add: Any, tmp_path: Path, school: str, school_id: int
) -> None:
    place = world.places[("school", school_id)]
    room_id = add("room", f"{school}-101", svc.db.write(orgs.create_room, school_id, "101"), place)
    key = ensure_identity(tmp_path / f"panel-{school}").public_key
    panel_id, _ = svc.db.write(panels.enroll_panel, room_id, f"Панель {school}", key)
    add("panel", school, panel_id, place)
    item = {"kind": "page", "url": "https://example.org/", "title": "Урок"}
    add(
        "cast", school, svc.db.write(casts.create_cast, svc.db.read["panel"].get(panel_id), None, item), place
    )
    # A room with a schedule: its source is there to download (a room without one answers 404).
    loop = "playlists: [{name: петля, items: [{text: Урок}]}]\nrules: [{playlist: петля}]\n"
    schedules.accept(svc.db, room_id, schedules.Upload(schedules.SourceFile("room.yaml", loop)), None)
    teacher = svc.db.write(
        users.create_user, f"t-{school}", PASSWORD, "Учитель", "teacher", "school", school_id
    )
    add("user", f"t-{school}", teacher, place)


def _guard_of(app: Flask, endpoint: str) -> Any:
    return getattr(app.view_functions[endpoint], "guard", None)


def matrix_failures(app: Flask, world: MatrixWorld, role: str) -> list[str]:
    """Return every way the app's routes break the rule, for the account of `role`."""
    client = app.test_client()
    csrf = sign_in(client, role)
    db = app.extensions["classcast"].db.read
    user = next(iter(db.query("SELECT * FROM user WHERE login = ?", [role])))
    failures: list[str] = []
    calls: list[tuple[str, Any, Any]] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        guard = _guard_of(app, rule.endpoint)
        if guard is None:
            if not getattr(view, "public_reason", None):
                failures.append(f"{rule.rule}: neither @guarded nor @public")
            continue
        calls += [(method, rule, guard) for method in rule.methods - {"HEAD", "OPTIONS"}]
    # Reads first: what the writes create must not change what the listings are compared with.
    for method, rule, guard in sorted(calls, key=lambda call: (call[0] != "GET", call[1].rule, call[0])):
        failures += _check_route(client, csrf, db, user, rule, method, guard, world)
    return failures


def _check_route(
    client: FlaskClient,
    csrf: str,
    db: Any,
    user: dict,
    rule: Any,
    method: str,
    guard: Any,
    world: MatrixWorld,
) -> list[str]:  # noqa: E501
    target_kind = (guard.id_kind or guard.kind) if guard.id_arg else guard.parent
    if target_kind in (None, "home"):
        return _check_collection(client, csrf, user, rule, method, guard, world)
    kinds = list(access.LEVELS) if target_kind == "node" else [target_kind]
    failures = []
    for kind, object_id in ((k, i) for k in kinds for i in world.of(k)):
        inside = world.inside(user, kind, object_id)
        url = rule.rule
        body = dict(SAMPLE_BODIES.get(guard.kind, {}))
        if guard.id_arg:
            url = re.sub(r"<int:\w+>", str(object_id), url)
        else:
            field_name = "node_id" if target_kind == "node" else f"{kind}_id"
            body[field_name] = object_id
            if target_kind == "node":
                body["role"] = {"region": "regional", "municipality": "municipal", "school": "teacher"}[kind]
        status = _call(client, csrf, method, url, body).status_code
        failures += _judge(user, guard, inside, status, f"{method} {url} on {kind}#{object_id}")
    return failures


def _judge(user: dict, guard: Any, inside: bool, status: int, what: str) -> list[str]:
    allowed = user["role"] in access.POLICY.get(guard.kind, {}).get(guard.action, frozenset())
    if not allowed:  # the same 403 for every object, existing or not: it tells nothing
        return [] if status == 403 else [f"{what}: {status} for an action the role may not take (want 403)"]
    if not inside:
        return [] if status == 404 else [f"{what}: {status} outside the subtree (want 404)"]
    return [] if status < 500 and status not in (401, 404) else [f"{what}: {status} inside the subtree"]


_LISTED_KIND = {"regions": "region", "municipalities": "municipality", "schools": "school", "rooms": "room"}
_LISTED_KIND["users"] = "user"


def _check_collection(
    client: FlaskClient, csrf: str, user: dict, rule: Any, method: str, guard: Any, world: MatrixWorld
) -> list[str]:
    if "<" in rule.rule:
        return [f"{rule.rule}: has URL arguments but its guard names no object"]
    response = _call(client, csrf, method, rule.rule, dict(SAMPLE_BODIES.get(guard.kind, {})))
    failures = _judge(user, guard, True, response.status_code, f"{method} {rule.rule}")
    if method == "GET" and response.status_code == 200 and response.is_json:
        for key, rows in response.json.items():
            kind = _LISTED_KIND.get(key)
            listed = {row["id"] for row in rows} if kind else set()
            expected = {i for i in world.of(kind) if world.inside(user, kind, i)} if kind else set()
            if listed != expected:
                failures.append(
                    f"GET {rule.rule}: lists {sorted(listed)}, the subtree holds {sorted(expected)}"
                )
    return failures


def _call(client: FlaskClient, csrf: str, method: str, url: str, body: dict[str, Any]) -> Any:
    response = client.open(url, method=method, json=body, headers={"X-CSRF-Token": csrf})
    response.close()
    return response


@pytest.fixture
def matrix_app(tmp_path: Path) -> Any:
    app = create_app({"data_dir": str(tmp_path / "c"), "secure_cookies": False, "cast_ack_timeout": 0.2})
    yield app
    app.extensions["classcast"].db.close()


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_no_route_leaks_or_grants_beyond_the_policy(matrix_app: Flask, tmp_path: Path, role: str) -> None:
    world = build_world(matrix_app, tmp_path)
    failures = matrix_failures(matrix_app, world, role)
    assert failures == [], "\n".join(failures[:40])


def test_the_matrix_covers_every_route(matrix_app: Flask) -> None:
    guarded = [r.rule for r in matrix_app.url_map.iter_rules() if _guard_of(matrix_app, r.endpoint)]
    assert len(guarded) >= 25  # the registry, accounts, audit and casting routes
    kinds = {
        _guard_of(matrix_app, r.endpoint).kind
        for r in matrix_app.url_map.iter_rules()
        if _guard_of(matrix_app, r.endpoint)
    }
    assert {"region", "municipality", "school", "room", "user", "audit", "cast"} <= kinds


def test_a_deliberately_unguarded_route_fails_the_matrix(matrix_app: Flask, tmp_path: Path) -> None:
    @matrix_app.get("/api/leak/schools/<int:school_id>")
    def leak(school_id: int) -> Any:
        return matrix_app.extensions["classcast"].db.read["school"].get(school_id)

    world = build_world(matrix_app, tmp_path)
    failures = matrix_failures(matrix_app, world, "teacher")
    assert failures == ["/api/leak/schools/<int:school_id>: neither @guarded nor @public"]


def test_a_route_guarded_by_the_wrong_object_fails_the_matrix(matrix_app: Flask, tmp_path: Path) -> None:
    from controller.web.guard import guarded

    @matrix_app.get("/api/leak/rooms/<int:room_id>")
    @guarded("room", "read")  # checks only the caller's own subtree, never the room named in the URL
    def leak(room_id: int) -> Any:
        return matrix_app.extensions["classcast"].db.read["room"].get(room_id)

    world = build_world(matrix_app, tmp_path)
    failures = matrix_failures(matrix_app, world, "school_it")
    assert failures == ["/api/leak/rooms/<int:room_id>: has URL arguments but its guard names no object"]


def test_every_account_of_the_world_exists() -> None:
    assert set(ACCOUNTS) == set(access.ROLES)
    assert list(itertools.chain(ACCOUNTS)) == list(ACCOUNTS)
