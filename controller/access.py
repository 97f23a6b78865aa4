"""Who may do what to which object: roles, their powers, and the scope of each account's subtree.

One rule for every view, API route and Socket.IO handler (they reach it through
`controller.web.guard`): an action the caller's role may never take is forbidden (403, whatever the
object); any other action on an object outside the caller's subtree finds nothing (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

ROLES = ("teacher", "school_it", "municipal", "regional", "operator")
RANK = {role: rank for rank, role in enumerate(ROLES)}
# The level of the hierarchy each role is bound to (the operator is above it all).
ROLE_LEVEL = {"teacher": "school", "school_it": "school", "municipal": "municipality", "regional": "region"}
LEVELS = ("region", "municipality", "school")

_READ_ALL = frozenset(ROLES)
_STAFF = frozenset({"school_it", "municipal", "regional", "operator"})
_OPERATOR = frozenset({"operator"})
_REGIONAL = frozenset({"regional", "operator"})
_MUNICIPAL = frozenset({"municipal", "regional", "operator"})
_CASTING = frozenset({"teacher", "school_it"})
_TEACHER = frozenset({"teacher"})
_SCHOOL_IT = frozenset({"school_it"})  # who registers the school's panels (DESIGN.md: roles)
_ALERTING = frozenset({"school_it", "municipal"})


def _registry(managers: frozenset[str]) -> dict[str, frozenset[str]]:
    return {"read": _READ_ALL, "create": managers, "update": managers, "archive": managers}


# kind -> action -> roles that may take it (always inside their own subtree).
POLICY: dict[str, dict[str, frozenset[str]]] = {
    "region": _registry(_OPERATOR),
    "municipality": _registry(_REGIONAL),
    # "export": the kind's list in the import's format, for those who may import it back.
    "school": {**_registry(_MUNICIPAL), "export": _MUNICIPAL},
    "room": _registry(_STAFF),
    "user": {"read": _STAFF, "create": _STAFF, "update": _STAFF, "archive": _STAFF, "export": _STAFF},
    "audit": {"read": _STAFF},
    "import": {"create": _STAFF},
    # A cast, and the remote of what a room shows (control: page, play, blank, freeze, stop).
    "cast": {"read": _CASTING, "create": _CASTING, "control": _CASTING},
    "content": {"read": _CASTING, "create": _CASTING},
    "lesson_set": {"read": _CASTING, "create": _CASTING, "update": _CASTING, "archive": _CASTING},
    # An alert over every screen of a school (school IT) or of a municipality (its coordinators).
    "alert": {"read": _ALERTING | _REGIONAL, "create": _ALERTING, "update": _ALERTING},
    # School IT registers, manages and commands its school's panels; every staff member above reads them.
    "panel": {
        "read": _STAFF,
        "export": _STAFF,
        "create": _SCHOOL_IT,
        "update": _SCHOOL_IT,
        "archive": _SCHOOL_IT,  # revoke, decommission
        "command": _SCHOOL_IT,  # remote actions: identify, screenshot, restart, reboot, resend state
    },
    # A room's screen schedule (docs/playlists.md): school IT uploads it; staff above read it.
    "schedule": {"read": _STAFF, "update": _SCHOOL_IT},
    # The usage statistics of a node and its subtree, on screen and as files (DESIGN.md: indicators).
    "stats": {"read": _STAFF, "export": _STAFF},
    # A region (or municipality) that bought panels says, by serial, which school each is meant for.
    "provision": {"read": _STAFF, "create": _MUNICIPAL},
    # The main system through the controller (docs/proxy.md): its library for those who cast, its
    # journal for teachers, each their own timetable only.
    "library": {"read": _CASTING},
    "journal": {"read": _TEACHER},
}


class NotFound(LookupError):
    """The object does not exist, or not for this caller (outside their subtree)."""


class Forbidden(PermissionError):
    """The object is the caller's to see, but their role may not take this action on it."""


@dataclass(frozen=True)
class Place:
    """Where an object sits in the hierarchy; None above the level it belongs to."""

    region_id: int | None = None
    municipality_id: int | None = None
    school_id: int | None = None

    def id_at(self, level: str) -> int | None:
        return getattr(self, f"{level}_id")


_SCHOOL_PLACE = """SELECT m.region_id, s.municipality_id, s.id AS school_id
    FROM school s JOIN municipality m ON m.id = s.municipality_id WHERE s.id = """
_PLACE_SQL = {
    "region": "SELECT id AS region_id, NULL AS municipality_id, NULL AS school_id FROM region WHERE id = ?",
    "municipality": "SELECT region_id, id AS municipality_id, NULL AS school_id FROM municipality WHERE id=?",
    "school": _SCHOOL_PLACE + "?",
    "room": _SCHOOL_PLACE + "(SELECT school_id FROM room WHERE id = ?)",
    "panel": _SCHOOL_PLACE + "(SELECT school_id FROM panel WHERE id = ?)",
    "cast": _SCHOOL_PLACE
    + '(SELECT p.school_id FROM "cast" c JOIN panel p ON p.id = c.panel_id WHERE c.id = ?)',
    "lesson_set": _SCHOOL_PLACE + "(SELECT school_id FROM lesson_set WHERE id = ?)",
    "alert": """SELECT coalesce(m.region_id, sm.region_id) AS region_id,
        coalesce(m.id, s.municipality_id) AS municipality_id, s.id AS school_id FROM alert a
        LEFT JOIN municipality m ON a.node_type = 'municipality' AND m.id = a.node_id
        LEFT JOIN school s ON a.node_type = 'school' AND s.id = a.node_id
        LEFT JOIN municipality sm ON sm.id = s.municipality_id WHERE a.id = ?""",
}


def place_of(db: Database, kind: str, object_id: int | str) -> Place:
    """Return where object `kind`#`object_id` sits; NotFound if there is no such object."""
    if kind == "import":
        # An import preview (its id is text) sits where its author does; only the author may use it.
        row = next(iter(db.query("SELECT user_id FROM import_preview WHERE id = ?", [object_id])), None)
        if row is None:
            raise NotFound(kind)
        return place_of(db, "user", row["user_id"])
    if kind == "user":
        row = next(iter(db.query("SELECT node_type, node_id FROM user WHERE id = ?", [object_id])), None)
        if row is None:
            raise NotFound(kind)
        return place_of(db, row["node_type"], row["node_id"]) if row["node_type"] else Place()
    sql = _PLACE_SQL.get(kind)
    row = next(iter(db.query(sql, [object_id])), None) if sql else None
    if row is None:
        raise NotFound(kind)
    return Place(**row)


def home_of(db: Database, user: dict[str, Any]) -> Place:
    """Return the place of the node an account is bound to (the operator's is above everything)."""
    if user["role"] == "operator" or not user["node_type"]:
        return Place()
    return place_of(db, user["node_type"], user["node_id"])


def within(user: dict[str, Any], place: Place) -> bool:
    """Return whether `place` lies in the user's subtree."""
    if user["role"] == "operator":
        return True
    level = user["node_type"]
    return level in LEVELS and place.id_at(level) == user["node_id"]


def check(user: dict[str, Any], kind: str, action: str, place: Place, where: str | None = None) -> None:
    """Raise Forbidden for an action the user's role may never take, NotFound outside their subtree.

    The role is asked first: "your role may not archive schools" is the same answer for every school,
    existing or not, so it tells nothing; only then is the object's place asked. `where` names the kind
    of the object whose place this is when it is not `kind` itself (the room a cast is created in).
    """
    if user["role"] not in POLICY.get(kind, {}).get(action, frozenset()):
        raise Forbidden(f"{user['role']} may not {action} {kind}")
    if not within(user, place):
        raise NotFound(where or kind)


def may_manage_role(manager: dict[str, Any], role: str) -> bool:
    """Return whether `manager` may create or change an account of `role` (only roles below their own)."""
    return role in RANK and RANK[role] < RANK[manager["role"]]


def scope_filter(user: dict[str, Any], alias: str = "") -> tuple[str, list[Any]]:
    """Return an SQL condition (on region_id/municipality_id/school_id columns) for the user's subtree."""
    if user["role"] == "operator":
        return "1 = 1", []
    prefix = f"{alias}." if alias else ""
    return f"{prefix}{user['node_type']}_id = ?", [user["node_id"]]
