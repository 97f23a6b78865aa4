"""The seed's region: its municipalities, schools, rooms, panels and accounts as rows, and the fates of
its panels (paired during the window, dead, or replacing a decommissioned device)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from classcast import __version__
from controller.seed.calendar import DAY_S, Calendar, Window, iso, municipal_calendars, region_calendar

MODEL = "Raspberry Pi 4 Model B"
OS_NAME = "Debian GNU/Linux 12 (bookworm)"
PANELS_PER_MUNICIPALITY = 250

_CITIES = "Учебногорск Заречногорск Светлоярск Новоозёрск Белокаменск Верхнедольск Краснолесск".split()
_DISTRICTS = (
    "Берёзовский Сосновский Озёрный Ключевской Луговской Кедровский Вишнёвский Полевской Родниковский"
    " Каменский Ольховский Рябиновский Липовский Ясеневский Дубравный Боровской Нагорный Сиреневский"
).split()
_ROOMS = (
    "Кабинет физики, Кабинет химии, Кабинет биологии, Кабинет информатики, Кабинет истории,"
    " Кабинет географии, Кабинет литературы, Кабинет математики, Кабинет иностранного языка,"
    " Кабинет музыки, Кабинет ИЗО, Кабинет ОБЗР, Библиотека"
).split(", ")
_HALL = "Актовый зал"  # the room with two panels, in the schools that have one
_BUDGET = "Муниципальное бюджетное общеобразовательное учреждение"
_SCHOOL_KINDS = (  # (share, legal form, its short form, kind, its short form)
    (0.8, _BUDGET, "МБОУ", "Средняя общеобразовательная школа", "СОШ"),
    (0.1, "Муниципальное автономное общеобразовательное учреждение", "МАОУ", "Гимназия", "Гимназия"),
    (0.1, _BUDGET, "МБОУ", "Лицей", "Лицей"),
)
TABLES = ("region", "municipality", "school", "room", "user", "panel", "calendar_day")  # in the FKs' order


@dataclass(frozen=True)
class Options:
    """What `classcast-controller seed` makes; `until` None is today in the region."""

    region_code: str = "99"
    region_name: str = "Учебная область (пример)"
    panels: int = 5000
    days: int = 365
    until: date | None = None
    password: str | None = None
    random_seed: int = 20240901
    timezone: str = "Europe/Moscow"


@dataclass
class School:
    id: int
    municipality_id: int
    label: str  # "СОШ № 17": in the names of its staff and in the summary
    weekdays: frozenset[int]
    library_share: float  # the share of its teachers' casts that come from the verified library
    teacher_ids: list[int] = field(default_factory=list)


@dataclass
class Panel:
    id: int
    number: int  # 1… in the region: seeds the panel's own generator, so its use does not depend on ids
    school: School
    room_id: int
    name: str
    paired_at: float
    dies_on: date | None = None  # a dead panel: the last day it could report
    decommissioned_at: float | None = None
    replaced_by: int | None = None
    last_seen_at: float | None = None


class Ids:
    """The next free id of each table, read once: the seed writes its rows with their ids."""

    def __init__(self, db: Any) -> None:
        tables = ("region", "municipality", "school", "room", "user", "panel")
        self._next = {
            t: db.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {t}").fetchone()[0] for t in tables
        }

    def take(self, table: str) -> int:
        self._next[table] += 1
        return self._next[table] - 1


@dataclass
class World:
    """The region's rows to insert, and what its panels' use is made from."""

    ids: Ids
    window: Window
    password_hash: str
    region_id: int = 0
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in TABLES})
    municipalities: list[int] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)  # in service; the decommissioned ones are `retired`
    retired: list[Panel] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)  # (login, full name) with the password
    region_days: Calendar = field(default_factory=dict)
    calendars: dict[int, Calendar] = field(default_factory=dict)  # by municipality

    def account(self, login: str, full_name: str, role: str, node: tuple[str, int], at: str) -> int:
        """Return the id of a new account; a teacher's has no password (single sign-on only)."""
        user_id, password_hash = self.ids.take("user"), None if role == "teacher" else self.password_hash
        row = {"id": user_id, "login": login, "password_hash": password_hash, "full_name": full_name}
        self.rows["user"].append(
            {**row, "role": role, "node_type": node[0], "node_id": node[1], "created_at": at}
        )
        if password_hash:
            self.logins.append((login, full_name))
        return user_id


def plan(options: Options, world: World) -> None:
    """Fill `world` with the region's rows and panels, drawn from the random seed."""
    rng, window, code = random.Random(f"{options.random_seed}/region"), world.window, options.region_code
    world.region_id = world.ids.take("region")
    world.rows["region"].append({"id": world.region_id, "code": code, "name": options.region_name})
    official = f"Специалист министерства, {options.region_name}"
    world.account(f"r{code}-regional", official, "regional", ("region", world.region_id), window.iso(400))
    sizes = _school_sizes(rng, options.panels)
    count = max(1, min(len(sizes), max(2, round(options.panels / PANELS_PER_MUNICIPALITY))))
    for number, name in enumerate(_municipality_names(count), start=1):
        municipality_id = world.ids.take("municipality")
        world.municipalities.append(municipality_id)
        world.rows["municipality"].append({"id": municipality_id, "region_id": world.region_id, "name": name})
        node = ("municipality", municipality_id)
        world.account(
            f"r{code}-m{number}-municipal", f"Специалист МОУО, {name}", "municipal", node, window.iso(400)
        )
    weights = [4.0] + [rng.uniform(0.5, 1.5) for _ in range(count - 1)]  # the capital is the largest
    for number, size in enumerate(sizes, start=1):
        at = number - 1 if number <= count else rng.choices(range(count), weights)[0]
        _plan_school(rng, world, options, world.municipalities[at], number, size)
    _plan_fates(rng, world)
    world.region_days = region_calendar(window.dates[0], window.dates[-1])
    world.calendars = municipal_calendars(rng, world.municipalities, world.region_days, window.dates)
    levels = [("region", world.region_id, world.region_days)]
    for node_type, node_id, days in levels + [("municipality", m, d) for m, d in world.calendars.items()]:
        world.rows["calendar_day"] += [
            {"node_type": node_type, "node_id": node_id, "day": d.isoformat(), "kind": kind, "name": name}
            for d, (kind, name) in sorted(days.items())
        ]


def _school_sizes(rng: random.Random, panels: int) -> list[int]:
    """Return the panels of each school: about ten, from 3 to 30, adding up to `panels`."""
    sizes = []
    while panels > 0:
        size = min(panels, max(3, min(30, round(rng.lognormvariate(math.log(9), 0.5)))))
        size = panels if panels - size < 3 else size
        sizes.append(size)
        panels -= size
    return sizes


def _municipality_names(count: int) -> list[str]:
    """Return `count` names: the capital city's, then districts', now and then another city's."""
    names = [f"городской округ город {_CITIES[0]}"]
    cities, districts = iter(_CITIES[1:]), iter(_DISTRICTS)
    for n in range(1, count):
        if n % 4 == 0 and (city := next(cities, None)):
            names.append(f"городской округ город {city}")
        else:
            district = next(districts, None) or f"{_DISTRICTS[n % len(_DISTRICTS)]}-{n}"
            names.append(f"{district} муниципальный {'округ' if n % 3 == 0 else 'район'}")
    return names


def _plan_school(
    rng: random.Random, world: World, options: Options, municipality_id: int, number: int, size: int
) -> None:
    """Add school `number` of the region with `size` panels, its staff and its rooms."""
    _, legal, short_legal, kind, short_kind = rng.choices(_SCHOOL_KINDS, [k[0] for k in _SCHOOL_KINDS])[0]
    days = "1-6" if rng.random() < 0.2 else "1-5"  # a fifth of Russian schools work six days a week
    label, weekdays = f"{short_kind} № {number}", frozenset(range(1, int(days[-1]) + 1))
    school = School(world.ids.take("school"), municipality_id, label, weekdays, rng.betavariate(2, 3))
    world.schools.append(school)
    code = options.region_code
    digits = code if len(code) == 2 and code.isdigit() else f"{sum(code.encode()) % 100:02d}"
    world.rows["school"].append(
        {
            "id": school.id,
            "municipality_id": municipality_id,
            "name": f"{legal} «{kind} № {number}»",
            "short_name": f"{short_legal} {label}",
            "ogrn": _ogrn(rng, digits, number),
            "inn": _inn(rng, digits, number),
            "timezone": options.timezone,
            "school_days": days,
        }
    )
    at, node, login = world.window.iso(rng.randint(30, 400)), ("school", school.id), f"r{code}-s{number}"
    world.account(f"{login}-it", f"ИТ-специалист, {label}", "school_it", node, at)
    for n in range(1, max(2, round(size * rng.uniform(2.0, 3.0))) + 1):
        school.teacher_ids.append(
            world.account(f"{login}-t{n}", f"Учитель {n}, {label}", "teacher", node, at)
        )
    _plan_rooms(rng, world, school, size)


def _plan_rooms(rng: random.Random, world: World, school: School, size: int) -> None:
    """Add the school's rooms with a panel each, but the assembly hall (if it has one) with two."""
    hall = [_HALL] if size >= 6 and rng.random() < 0.3 else []
    named = rng.sample(_ROOMS, rng.randint(0, min(len(_ROOMS), size // 3)))
    numbers = [f"{floor}{n:02d}" for floor in range(1, 5) for n in range(1, 11)]
    first_day = world.window.dates[0]
    for n, room_name in enumerate(hall + named + numbers[: size - 2 * len(hall) - len(named)]):
        room_id = world.ids.take("room")
        world.rows["room"].append({"id": room_id, "school_id": school.id, "name": room_name})
        for k in range(1, 3 if n < len(hall) else 2):
            name = f"{room_name}, панель {k}" if n < len(hall) else room_name
            paired = world.window.at(
                first_day - timedelta(days=rng.randint(20, 900)), rng.uniform(32400, 57600)
            )
            world.panels.append(
                Panel(world.ids.take("panel"), len(world.panels) + 1, school, room_id, name, paired)
            )


def _ogrn(rng: random.Random, region_digits: str, number: int) -> str:
    """Return a well-formed OGRN: 1, year, region, tax office, record number, check digit."""
    body = f"1{rng.randint(2, 23):02d}{region_digits}{rng.randint(1, 99):02d}{number:05d}"
    return body + str(int(body) % 11 % 10)


def _inn(rng: random.Random, region_digits: str, number: int) -> str:
    """Return a well-formed INN of an organisation: region, tax office, record number, check digit."""
    body = f"{region_digits}{rng.randint(1, 99):02d}{number:05d}"
    check = sum(w * int(c) for w, c in zip((2, 4, 10, 3, 5, 9, 4, 6, 8), body, strict=True)) % 11 % 10
    return body + str(check)


def _plan_fates(rng: random.Random, world: World) -> None:
    """Pair a few panels during the window, let a few die, and retire the devices a few others replaced."""
    window, count = world.window, len(world.panels)
    shuffled = rng.sample(world.panels, count)
    late = max(1 if count >= 10 else 0, round(count * 0.05)) if len(window.dates) >= 14 else 0
    dead = max(1 if count >= 20 else 0, round(count * 0.015))
    retired = max(1 if count >= 20 else 0, round(count * 0.01))
    for panel in shuffled[:late]:
        day = window.dates[rng.randrange(1, len(window.dates) * 4 // 5)]
        panel.paired_at = window.at(day, rng.uniform(25200, 26700))  # 7:00–7:25, before it is switched on
    for panel in shuffled[late : late + dead]:
        panel.dies_on = window.dates[-1] - timedelta(days=rng.randint(40, 200))
        before = window.at(panel.dies_on - timedelta(days=rng.randint(30, 400)), 36000.0)
        panel.paired_at = min(panel.paired_at, before)
    for panel in shuffled[late + dead : late + dead + retired]:
        replaced_at = panel.paired_at - 120.0  # approving the new device decommissioned the old one
        paired = replaced_at - rng.randint(200, 1500) * DAY_S
        old = Panel(
            world.ids.take("panel"), 0, panel.school, panel.room_id, panel.name, paired, None, replaced_at
        )
        old.replaced_by, old.last_seen_at = panel.id, replaced_at - rng.uniform(1, 20) * DAY_S
        world.retired.append(old)
    salt = rng.getrandbits(32)
    world.rows["panel"] += [_panel_row(panel, salt) for panel in world.panels + world.retired]


def _panel_row(panel: Panel, salt: int) -> dict[str, Any]:
    """Return the panel's row; its last contact is set once its use is made up."""
    device = (panel.id * 0x9E3779B1 + salt) & 0xFFFFFFFF  # distinct ids give distinct serials and MACs
    mac = ":".join(f"{(device >> shift) & 0xFF:02x}" for shift in (16, 8, 0))
    return {
        "id": panel.id,
        "school_id": panel.school.id,
        "room_id": panel.room_id,
        "name": panel.name,
        "state": "decommissioned" if panel.decommissioned_at else "active",
        "serial": f"10000000{device:08x}",
        "mac": f"dc:a6:32:{mac}",
        "model": MODEL,
        "os": OS_NAME,
        "player_version": __version__,
        "agent_version": __version__,
        "created_at": iso(panel.paired_at - 120.0),  # approved; paired once it collected its token
        "paired_at": iso(panel.paired_at),
        "last_seen_at": iso(panel.last_seen_at),
        "decommissioned_at": iso(panel.decommissioned_at),
        "replaced_by": panel.replaced_by,
    }
