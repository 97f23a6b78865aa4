"""`classcast-controller seed`: a made-up region with a year of panel use, for the statistics and their bench.

One new region (refused if its code exists): municipalities, schools with their calendars, rooms, panels
and accounts, and for each panel its daily figures (`panel_day`) and its casts (`cast`) over the window,
on its school's calendar, with the screen-time norms' findings as the daily check would have made them
(each cast's lesson given a class of a grade drawn for it). The region's calendar holds the Russian
federal days off and the school vacations; one municipality adds a quarantine week (and a Saturday to
work it off), another a city day. Panels are used heavily, typically or rarely; a few stop reporting
(dead), a few are paired during the window, a few replaced devices that were decommissioned before it.
`panel_hour` is not filled: the statistics do not read it.

The same options give the same rows: everything is drawn from `--random-seed`, each panel's use from a
generator of its own. Rows are built in Python and written by the single writer in executemany
transactions of a few hundred panels each. Names are made up («Учитель 4, СОШ № 3»), never people's;
only the regional, municipal and school IT accounts get a password (one, hashed once), teachers none.

`calendar` tells which days are school days, `plan` makes the region's rows and its panels' fates,
`usage` each panel's days and casts; this module writes them and is the command.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.backup import hold_data_dir
from controller.seed.calendar import Window, school_days
from controller.seed.plan import TABLES, Ids, Options, World, plan
from controller.seed.usage import Batch, PanelUse, add_library

__all__ = ["Options", "Refused", "Summary", "add_command", "check", "run", "seed_region"]

PANELS_PER_WRITE = 250  # one transaction: for a year, ~35,000 panel_day rows and as many casts

_PANEL_DAY = (
    "INSERT INTO panel_day (panel_id, day, heartbeats, screen_on_s, in_use_s, lessons, casts, cast_s,"
    " library_s, max_temperature_c, dropped_events, recoveries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CAST = (
    'INSERT INTO "cast" (panel_id, room_id, user_id, kind, content_sha256, url, title, status, created_at,'
    " shown_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_WEEK = (  # as controller.stats.weeks counts a teacher's casts by the week of the school's calendar
    "INSERT INTO cast_week (user_id, school_id, week, casts) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (week, school_id, user_id) DO UPDATE SET casts = casts + excluded.casts"
)
_NORM_LESSON = (
    'INSERT OR IGNORE INTO norm_lesson (school_id, room_id, day, start, "end", grades, screen_s,'
    " lesson_limit_s, day_limit_s, over_lesson, over_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_NORM_DAY = (  # a school's panels may be written in two batches
    "INSERT INTO norm_day (school_id, day, lessons, over, checked_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (school_id, day) DO UPDATE SET lessons = lessons + excluded.lessons,"
    " over = over + excluded.over"
)
_SEEN = (
    "UPDATE panel SET last_seen_at = ?, health_at = ?, temperature_c = ?, display_connected = 1 WHERE id = ?"
)


class Refused(Exception):
    """The seed cannot run as asked; the message (Russian) is for the person at the shell."""


@dataclass
class Summary:
    world: World
    password: str
    panel_days: int
    casts: int
    seconds: float


def check(db: Any, options: Options) -> None:
    """Raise Refused if the options cannot make a region in this database."""
    if options.panels < 1 or options.days < 1:
        raise Refused("нужны --panels и --days не меньше 1")
    if not options.region_code.isalnum():
        raise Refused(f"код региона {options.region_code!r}: только буквы и цифры (он входит в логины)")
    try:
        ZoneInfo(options.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(f"неизвестный часовой пояс {options.timezone!r}; нужен вида Europe/Moscow") from None
    known = db.execute("SELECT name FROM region WHERE code = ?", [options.region_code]).fetchone()
    if known is not None:
        code = options.region_code
        raise Refused(f"регион с кодом {code} уже есть («{known[0]}»); укажите другой --region-code")


def seed_region(svc: Any, options: Options, progress: Callable[[int], Any] | None = None) -> Summary:
    """Return what was made: the region of `options` and its use, written to the app's database."""
    from argon2 import PasswordHasher

    check(svc.db.read, options)
    started = time.monotonic()
    zone = ZoneInfo(options.timezone)
    window = Window.ending(options.until or datetime.now(zone).date(), options.days, zone, time.time())
    password = options.password or secrets.token_urlsafe(9)  # never a default password
    world = World(Ids(svc.db.read), window, PasswordHasher().hash(password))
    plan(options, world)
    svc.db.write(_write_world, world, options)
    library = add_library(svc)
    panel_days = casts = 0
    calendars: dict[tuple[int, frozenset[int]], list[bool]] = {}  # by municipality and working weekdays
    for start in range(0, len(world.panels), PANELS_PER_WRITE):
        batch = Batch()
        for panel in world.panels[start : start + PANELS_PER_WRITE]:
            key = (panel.school.municipality_id, panel.school.weekdays)
            if key not in calendars:
                calendars[key] = school_days(window.dates, key[1], world.region_days, world.calendars[key[0]])
            PanelUse(panel, window, library, options.random_seed, batch).add(calendars[key])
            if progress is not None:
                progress(1)
        svc.db.write(_write_usage, batch)
        panel_days, casts = panel_days + len(batch.days), casts + len(batch.casts)
    return Summary(world, password, panel_days, casts, time.monotonic() - started)


def _write_world(db: Any, world: World, options: Options) -> None:
    from controller.access import Place
    from controller.store import audit

    for table in TABLES:
        db[table].insert_all(world.rows[table], batch_size=1000)
    detail = {"seed": {"panels": options.panels, "days": options.days, "random_seed": options.random_seed}}
    actor = audit.Actor(None, "cli", "operator", None)  # whoever has the server's shell is its operator
    audit.record(db, actor, "create", "ok", "region", world.region_id, Place(world.region_id), detail)


def _write_usage(db: Any, batch: Batch) -> None:
    db.conn.executemany(_PANEL_DAY, batch.days)
    db.conn.executemany(_CAST, sorted(batch.casts, key=lambda row: row[8]))  # time order: the index likes it
    db.conn.executemany(_SEEN, batch.seen)
    db.conn.executemany(_WEEK, [(*key, casts) for key, casts in batch.weeks.items()])
    db.conn.executemany(_NORM_LESSON, batch.norm_lessons)
    now = time.time()
    db.conn.executemany(_NORM_DAY, [(*key, *figures, now) for key, figures in batch.norm_days.items()])


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `seed` to `classcast-controller`'s sub-command parser."""
    cmd = commands.add_parser(
        "seed",
        parents=[common],
        help="fill a new made-up region with a year of panel use (statistics, bench)",
    )
    cmd.add_argument("--panels", type=int, default=Options.panels, help="panels in service (default 5000)")
    cmd.add_argument("--days", type=int, default=Options.days, help="days of use up to --until (default 365)")
    cmd.add_argument("--until", type=date.fromisoformat, help="the last day, YYYY-MM-DD (default: today)")
    cmd.add_argument("--region-code", default=Options.region_code, help="refused if it exists (default 99)")
    cmd.add_argument("--region-name", default=Options.region_name)
    cmd.add_argument("--timezone", default=Options.timezone, help="of every school (default Europe/Moscow)")
    cmd.add_argument("--password", help="of the regional, municipal and school IT accounts (default: random)")
    cmd.add_argument(
        "--random-seed", type=int, default=Options.random_seed, help="the same seed, the same rows"
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Seed the data folder of `args`; 0 if done, 1 if refused (the reason on stderr)."""
    from tqdm import tqdm

    from controller.app import create_app

    names = ("panels", "days", "until", "region_code", "region_name", "timezone", "password", "random_seed")
    options = Options(**{name: getattr(args, name) for name in names})
    svc = create_app({"data_dir": args.data_dir}, args.config).extensions["classcast"]
    try:
        with hold_data_dir(svc.data_dir):  # not under a running controller: its writes would wait too long
            check(svc.db.read, options)
            with tqdm(total=options.panels, desc="использование панелей", unit=" панелей") as bar:
                summary = seed_region(svc, options, bar.update)
    except Refused as exc:
        print(f"classcast-controller seed: {exc}", file=sys.stderr)
        return 1
    finally:
        svc.db.close()
    _print_summary(summary, options)
    return 0


def _print_summary(summary: Summary, options: Options) -> None:
    world, window, code = summary.world, summary.world.window, options.region_code
    dead = sum(1 for p in world.panels if p.dies_on is not None)
    late = sum(1 for p in world.panels if p.paired_at >= window.midnights[0])
    municipalities, schools = len(world.municipalities), len(world.schools)
    teachers = sum(len(s.teacher_ids) for s in world.schools)
    lines = [
        f"Регион «{options.region_name}» (код {code}) заполнен за {summary.seconds:.0f} с:",
        f"  муниципалитетов {municipalities}, школ {schools}, кабинетов {len(world.rows['room'])}",
        f"  панелей {len(world.panels)}: замолчали {dead}, подключены за период {late};"
        f" списано раньше {len(world.retired)}",
        f"  {window.isos[0]} — {window.isos[-1]}: записей panel_day {summary.panel_days},"
        f" показов {summary.casts}",
        f"  календарь: {len(world.region_days)} дней у региона,"
        f" {sum(len(days) for days in world.calendars.values())} у муниципалитетов",
        f"  учётных записей {len(world.rows['user'])}, из них учителей {teachers}"
        " (без пароля, вход через ЕСИА)",
        f"Пароль регионального, муниципальных и школьных ИТ-специалистов: {summary.password}",
        *(f"  {login:<20} {name}" for login, name in world.logins[:2] + [world.logins[municipalities + 1]]),
        f"  и так же r{code}-m<N>-municipal (N до {municipalities}), r{code}-s<N>-it (N до {schools})",
    ]
    print("\n".join(lines))
