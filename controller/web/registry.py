"""The registry's REST API: regions, municipalities, schools and rooms — list, read, create, edit, archive.

Each kind gets the same five routes, each behind `@guarded`; every change is audited with the
object's place, so the staff of that subtree can see it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from controller import access
from controller.app import services
from controller.store import audit, registry
from controller.store.registry import KINDS, Invalid, Kind
from controller.web.auth import current_user
from controller.web.errors import invalid
from controller.web.guard import guarded
from controller.web.security import check_csrf

blueprint = Blueprint("registry", __name__, url_prefix="/api")

PLURAL = {"region": "regions", "municipality": "municipalities", "school": "schools", "room": "rooms"}


def _invalid(exc: Invalid) -> tuple[dict[str, Any], int]:
    return invalid(exc.fields)


def _audit(action: str, kind: Kind, row: dict[str, Any], detail: dict[str, Any] | None = None) -> None:
    svc = services()
    place = access.place_of(svc.db.read, kind.name, row["id"])
    actor = audit.Actor.of(current_user(), request.remote_addr)
    svc.db.write(audit.record, actor, action, "ok", kind.name, row["id"], place, detail)


def _routes(kind: Kind) -> None:
    plural, id_arg = PLURAL[kind.name], f"{kind.name}_id"

    @guarded(kind.name, "read")
    def list_objects() -> Any:
        parent = request.args.get(f"{kind.parent}_id", type=int) if kind.parent else None
        scope = access.scope_filter(current_user())
        rows = registry.listing(services().db.read, kind, scope, parent, request.args.get("archived") == "1")
        return {plural: rows}

    @guarded(kind.name, "read", id_arg=id_arg)
    def get_object(**ids: int) -> Any:
        return registry.get(services().db.read, kind, ids[id_arg])

    @guarded(kind.name, "create", parent=kind.parent)
    def create_object() -> Any:
        check_csrf()
        body = request.get_json(silent=True)
        try:
            row = registry.clean(kind, body, creating=True)
            parent_id = int(body[f"{kind.parent}_id"]) if kind.parent else None
            created = services().db.write(registry.create, kind, row, parent_id)
        except Invalid as exc:
            return _invalid(exc)
        _audit("create", kind, created, row)
        return created, 201

    @guarded(kind.name, "update", id_arg=id_arg)
    def update_object(**ids: int) -> Any:
        check_csrf()
        try:
            row = registry.clean(kind, request.get_json(silent=True), creating=False)
            updated = services().db.write(registry.update, kind, ids[id_arg], row)
        except Invalid as exc:
            return _invalid(exc)
        _audit("update", kind, updated, row)
        return updated

    @guarded(kind.name, "archive", id_arg=id_arg)
    def archive_object(**ids: int) -> Any:
        check_csrf()
        archived = services().db.write(registry.archive, kind, ids[id_arg])
        _audit("archive", kind, archived)
        return archived

    base, one = f"/{plural}", f"/{plural}/<int:{id_arg}>"
    blueprint.add_url_rule(base, f"list_{plural}", list_objects, methods=["GET"])
    blueprint.add_url_rule(base, f"create_{kind.name}", create_object, methods=["POST"])
    blueprint.add_url_rule(one, f"get_{kind.name}", get_object, methods=["GET"])
    blueprint.add_url_rule(one, f"update_{kind.name}", update_object, methods=["PATCH"])
    blueprint.add_url_rule(f"{one}/archive", f"archive_{kind.name}", archive_object, methods=["POST"])


for _kind in KINDS.values():
    _routes(_kind)
