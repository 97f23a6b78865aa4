"""Planning an import: what a checked list would add, change and archive in the importer's scope.

Nothing here touches the database: controller.store.imports takes a snapshot of the scope (a
SchoolWorld or a StaffWorld) and `plan` compares the file's records with it. The file is the full
list of its scope, so what the scope holds and the file does not name is planned for archiving —
never deletion, never outside the scope, never the importer's own account, and never an object a bad
row names (a typo must not archive a school).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classcast.i18n import N_, Message
from controller.access import may_manage_role
from controller.import_columns import name_key
from controller.imports import DEFAULT_TIMEZONE, REQUIRED, STAFF_ROLES, Parsed, missing_column, school_mention


@dataclass
class SchoolWorld:
    """What planning a school list needs to know of the importer's scope."""

    municipalities: dict[str, dict[str, Any]]  # name_key -> id, name, archived_at: the scope's
    schools: list[dict[str, Any]]  # the scope's schools, archived ones too
    ogrns_elsewhere: set[str]  # OGRNs of the file that schools outside the scope hold
    home_municipality: dict[str, Any] | None = None  # the scope, when it is one municipality
    may_add_municipalities: bool = False


@dataclass
class StaffWorld:
    """What planning a staff list needs to know of the importer and their scope."""

    importer: dict[str, Any]
    accounts: list[dict[str, Any]]  # the accounts bound to the scope's nodes, archived ones too
    schools: dict[str, dict[str, Any]]  # OGRN -> id, archived_at: the scope's schools
    school_ogrns: dict[int, str]  # the same, the other way round
    municipalities: dict[str, dict[str, Any]]  # name_key -> id, name, archived_at: the scope's
    logins_elsewhere: set[str]  # logins of the file that accounts outside the scope hold
    home_school: dict[str, Any] | None = None  # the scope, when it is one school
    home_municipality: dict[str, Any] | None = None  # the scope, when it is one municipality
    municipality_names: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.municipality_names = {m["id"]: m["name"] for m in self.municipalities.values()}

    def manages(self, account: dict[str, Any]) -> bool:
        """Return whether the import may change or archive this account (never the importer's own)."""
        role = account["role"]
        return account["id"] != self.importer["id"] and role in STAFF_ROLES and self.may_give(role)

    def may_give(self, role: str) -> bool:
        """Return whether the importer may create accounts of `role` (only roles below their own)."""
        return may_manage_role(self.importer, role)


class _Plan:
    """The sections of a plan as they are gathered, then counted."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.sections: dict[str, list[dict[str, Any]]] = {
            "to_add": [],
            "to_change": [],
            "to_archive": [],
            "bad_rows": list(parsed.bad),
            "municipalities_to_add": [],
        }
        self.unchanged = 0
        self.new_municipalities: dict[str, dict[str, Any]] = {}

    def bad(self, row: int, field_name: str, reason: str | Message) -> None:
        self.sections["bad_rows"].append(self.parsed.problem(row, field_name, reason))

    def change(self, row: int, key: str, current_id: int, diff: tuple[dict, dict, dict]) -> None:
        before, after, columns = diff
        item = {"row": row, "key": key, "id": current_id, "before": before, "after": after, "set": columns}
        self.sections["to_change"].append(item)

    def new_municipality(self, row: int, name: str) -> dict[str, Any]:
        """Return the place of a municipality the import adds (once, however many rows name it)."""
        key = name_key(name)
        if key not in self.new_municipalities:
            self.new_municipalities[key] = {"id": None, "name": name}
            self.sections["municipalities_to_add"].append({"row": row, "name": name})
        return self.new_municipalities[key]

    def result(self) -> dict[str, Any]:
        self.sections["bad_rows"].sort(key=lambda entry: entry["row"])
        counts = {
            "rows": self.parsed.rows,
            "add": len(self.sections["to_add"]),
            "change": len(self.sections["to_change"]),
            "archive": len(self.sections["to_archive"]),
            "unchanged": self.unchanged,
            "bad": len({entry["row"] for entry in self.sections["bad_rows"]}),
            "municipalities_add": len(self.sections["municipalities_to_add"]),
        }
        notes = [NO_PASSWORD] if self.parsed.kind == "staff" and counts["add"] else []
        return {**self.sections, "counts": counts, "notes": notes}


def plan(parsed: Parsed, world: SchoolWorld | StaffWorld) -> dict[str, Any]:
    """Return what importing `parsed` into `world` would add, change and archive, and its bad rows."""
    if isinstance(world, SchoolWorld):
        return _plan_schools(parsed, world)
    return _plan_staff(parsed, world)


_STAFF_SCHOOL_OUTSIDE = N_("Школа вне вашей зоны: в вашей зоне нет школы с таким ОГРН.")
_NOT_IN_SCOPE = N_("Муниципалитет «%(name)s» не найден в вашей зоне.")
_ARCHIVED_MUNICIPALITY = N_("Муниципалитет «%(name)s» в архиве.")
NO_PASSWORD = N_(
    "Новые учётные записи создаются без пароля: сотрудники входят через единый вход (ЕСИА), "
    "либо пароль им задаст администратор."
)


def _plan_schools(parsed: Parsed, world: SchoolWorld) -> dict[str, Any]:
    if world.home_municipality is None and "municipality" not in parsed.columns:
        raise missing_column("municipality")
    out = _Plan(parsed)
    by_ogrn = {school["ogrn"]: school for school in world.schools if school["ogrn"]}
    unkeyed = _unkeyed_schools(world.schools)
    names = {m["id"]: m["name"] for m in world.municipalities.values()}
    matched: set[int] = set()
    for row, school in parsed.records:
        current = by_ogrn.get(school["ogrn"])
        if current is None and school["ogrn"] in world.ogrns_elsewhere:
            out.bad(row, "ogrn", N_("Школа вне вашей зоны."))
            continue
        place, reason = _municipality_for(school["municipality"], world)
        if reason is not None:
            out.bad(row, "municipality", reason)
            continue
        if place["id"] is None:
            place = out.new_municipality(row, place["name"])
        current = current or unkeyed.pop((place["id"], name_key(school["name"])), None)
        if current is None:
            out.sections["to_add"].append(_new_school(row, school, place))
            continue
        matched.add(current["id"])
        diff = _school_diff(current, school, place, parsed.columns, names)
        if diff[0]:
            out.change(row, school["ogrn"], current["id"], diff)
        else:
            out.unchanged += 1
    keys = parsed.keys()
    out.sections["to_archive"] = [
        {"id": s["id"], "key": s["ogrn"], "name": s["short_name"]}
        for s in world.schools
        if s["archived_at"] is None and s["id"] not in matched and not _named(s, keys, names)
    ]
    return out.result()


def _named(school: dict[str, Any], keys: set[str], municipalities: dict[int, str]) -> bool:
    """Return whether the file names the school: by its OGRN, or (a bad row without one) by its name."""
    if school["ogrn"]:
        return school["ogrn"] in keys
    municipality = municipalities.get(school["municipality_id"], "")
    return bool({school_mention(municipality, school["name"]), school_mention("", school["name"])} & keys)


def _unkeyed_schools(schools: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """Return the schools without an OGRN (entered by hand) by municipality and name, unambiguous ones."""
    found: dict[tuple[int, str], dict[str, Any] | None] = {}
    for school in schools:
        if not school["ogrn"]:
            key = (school["municipality_id"], name_key(school["name"]))
            found[key] = None if key in found else school
    return {key: school for key, school in found.items() if school is not None}


def _municipality_for(name: str, world: SchoolWorld) -> tuple[dict[str, Any], str | Message | None]:
    """Return the municipality a school row names (id None: one to add), or why it cannot be had."""
    home = world.home_municipality
    if home is not None:
        if not name or name_key(name) == name_key(home["name"]):
            return home, None
        return home, Message(_NOT_IN_SCOPE, {"name": name})
    if not name:
        return {}, REQUIRED
    found = world.municipalities.get(name_key(name))
    if found is not None and found["archived_at"]:
        return found, Message(_ARCHIVED_MUNICIPALITY, {"name": found["name"]})
    if found is not None:
        return found, None
    if world.may_add_municipalities and len(name) <= 300:
        return {"id": None, "name": name}, None
    return {}, Message(_NOT_IN_SCOPE, {"name": name})


def _new_school(row: int, school: dict[str, Any], place: dict[str, Any]) -> dict[str, Any]:
    fields = {**school, "municipality": place["name"], "timezone": school["timezone"] or DEFAULT_TIMEZONE}
    return {"row": row, "key": school["ogrn"], "fields": fields, "municipality_id": place["id"]}


def _school_diff(
    current: dict[str, Any], school: dict[str, Any], place: dict[str, Any], columns: list[str], names: dict
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return (before, after) of the fields the file changes, and the columns to set for it."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    columns_set: dict[str, Any] = {}
    for name in ("name", "short_name", "ogrn", "inn", "address", "timezone"):
        new = school[name]
        # An empty time zone cell keeps the school's zone: NULL is not a zone.
        if name in columns and current[name] != new and not (name == "timezone" and new is None):
            before[name], after[name], columns_set[name] = current[name], new, new
    if place["id"] != current["municipality_id"]:
        before["municipality"], after["municipality"] = names.get(current["municipality_id"]), place["name"]
        columns_set.update(
            {"municipality_id": place["id"]} if place["id"] else {"new_municipality": place["name"]}
        )
    if current["archived_at"]:
        before["archived"], after["archived"], columns_set["archived_at"] = True, False, None
    return before, after, columns_set


def _plan_staff(parsed: Parsed, world: StaffWorld) -> dict[str, Any]:
    out = _Plan(parsed)
    by_login = {account["login"]: account for account in world.accounts}
    for row, person in parsed.records:
        account = by_login.get(person["login"])
        node, field_name, reason = _node_for(person, world)
        refusal = _new_account_refusal(world, person) if account is None else None
        if refusal is not None:
            field_name, reason = refusal
        if reason is not None:
            out.bad(row, field_name, reason)
        elif account is None:
            _plan_account(out, world, row, person, node)
        else:
            _plan_account_change(out, world, row, person, node, account)
    keys = parsed.keys()
    out.sections["to_archive"] = [
        {"id": a["id"], "key": a["login"], "name": a["full_name"], "role": a["role"]}
        for a in world.accounts
        if a["archived_at"] is None and world.manages(a) and a["login"] not in keys
    ]
    return out.result()


Node = tuple[str, int]


def _node_for(person: dict[str, Any], world: StaffWorld) -> tuple[Node, str, str | Message | None]:
    """Return the node the row binds its account to, the field that names it, and what is wrong if any."""
    if person["role"] == "municipal":
        return _municipality_node(person["municipality"], world)
    ogrn = person["school_ogrn"]
    school = world.schools.get(ogrn) if ogrn else world.home_school  # empty: the importer's own school
    if school is None:
        return ("school", 0), "school_ogrn", (_STAFF_SCHOOL_OUTSIDE if ogrn else REQUIRED)
    reason = N_("Школа в архиве.") if school["archived_at"] else None
    return ("school", school["id"]), "school_ogrn", reason


def _municipality_node(name: str | None, world: StaffWorld) -> tuple[Node, str, str | Message | None]:
    found = world.municipalities.get(name_key(name)) if name else world.home_municipality
    if found is None:
        return (
            ("municipality", 0),
            "municipality",
            (Message(_NOT_IN_SCOPE, {"name": name}) if name else REQUIRED),
        )
    reason = Message(_ARCHIVED_MUNICIPALITY, {"name": found["name"]}) if found["archived_at"] else None
    return ("municipality", found["id"]), "municipality", reason


def _shown(node: Node, world: StaffWorld) -> dict[str, Any]:
    """Return where a node is, as a staff list says it: the school's OGRN or the municipality's name."""
    kind, node_id = node
    return {
        "school_ogrn": world.school_ogrns.get(node_id) if kind == "school" else None,
        "municipality": world.municipality_names.get(node_id) if kind == "municipality" else None,
    }


def _new_account_refusal(world: StaffWorld, person: dict[str, Any]) -> tuple[str, Message] | None:
    """Return the field and the reason a row cannot create its account, if it cannot."""
    if person["login"] in world.logins_elsewhere:
        return "login", Message(N_("Логин «%(login)s» уже занят."), {"login": person["login"]})
    if not world.may_give(person["role"]):
        reason = N_("Вы не можете создавать учётные записи с ролью «%(role)s».")
        return "role", Message(reason, {"role": person["role"]})
    return None


def _plan_account(out: _Plan, world: StaffWorld, row: int, person: dict[str, Any], node: Node) -> None:
    fields = {f: person[f] for f in ("login", "full_name", "email", "role")} | _shown(node, world)
    item = {"row": row, "key": person["login"], "fields": fields, "node_type": node[0], "node_id": node[1]}
    out.sections["to_add"].append(item)


def _plan_account_change(
    out: _Plan, world: StaffWorld, row: int, person: dict[str, Any], node: Node, account: dict[str, Any]
) -> None:
    now = {f: account[f] for f in ("full_name", "email", "role")}
    now.update(node=(account["node_type"], account["node_id"]), archived=account["archived_at"] is not None)
    wanted = {f: person[f] for f in ("full_name", "email", "role")} | {"node": node, "archived": False}
    if "email" not in out.parsed.columns:
        del now["email"], wanted["email"]
    changed = [name for name in wanted if now[name] != wanted[name]]
    if not changed:
        out.unchanged += 1
        return
    refusal = _refusal(world, account, person["role"])
    if refusal is not None:
        out.bad(row, *refusal)
        return
    out.change(row, person["login"], account["id"], _account_diff(changed, now, wanted, world))


def _refusal(world: StaffWorld, account: dict[str, Any], role: str) -> tuple[str, str | Message] | None:
    if account["id"] == world.importer["id"]:
        return "login", N_("Свою учётную запись импортом не изменить.")
    if not world.manages(account):
        reason = N_("Учётную запись с ролью «%(role)s» может изменить только вышестоящий администратор.")
        return "role", Message(reason, {"role": account["role"]})
    if not world.may_give(role):
        return "role", Message(N_("Вы не можете назначать роль «%(role)s»."), {"role": role})
    return None


def _account_diff(
    changed: list[str], now: dict[str, Any], wanted: dict[str, Any], world: StaffWorld
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    columns_set: dict[str, Any] = {}
    for name in changed:
        if name == "node":
            was, will = _shown(now["node"], world), _shown(wanted["node"], world)
            before |= {k: v for k, v in was.items() if will[k] != v}
            after |= {k: v for k, v in will.items() if was[k] != v}
            columns_set.update(node_type=wanted["node"][0], node_id=wanted["node"][1])
        elif name == "archived":
            before["archived"], after["archived"], columns_set["archived_at"] = True, False, None
        else:
            before[name], after[name], columns_set[name] = now[name], wanted[name], wanted[name]
    return before, after, columns_set
