"""The demo: a controller with N simulated panels on this machine, all real processes.

Each panel is a real `classcast-player`, a real `classcast-agent` and (unless told otherwise) a real
headless Chromium showing the player's kiosk page, each panel with its own data folder. The demo
plays school IT once (it enrols the panels; pairing comes later) and then a teacher, casting the
sample lesson's slides to every room in turn; between casts each room's panel follows the room's
schedule, a short loop of a greeting and a slide. The main system's journal and library are the stand-in
of `mainsystem` (docs/main-system-api.md), a process of its own, where the demo's teacher always has
a lesson in progress in the first room.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import signal
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import gevent
import gevent.event

from classcast.identity import ensure_identity, save_enrollment
from controller import schedules
from controller import seed as region_seed
from controller.app import Services, create_app
from controller.casting import cast, choice_from
from controller.demo_panels import PanelProcesses, find_chromium
from controller.server import ControllerServer
from controller.store import content, orgs, panels, telemetry, users
from mainsystem.process import StandIn

log = logging.getLogger(__name__)

_MARKER = ".classcast-demo"
CAST_EVERY_S = 10.0
CONNECT_TIMEOUT_S = 60.0
SAMPLE_PANELS, SAMPLE_DAYS = 200, 120  # the statistics' sample region: a few seconds to make
SCHOOL_TIMEZONE = "Asia/Novosibirsk"
TEACHER_LOGIN = "teacher"  # also the teacher's id at the main system (the demo has no single sign-on)
# Every demo room's screen schedule (docs/playlists.md): all day, the screen always on.
ROOM_SCHEDULE = """title: Между уроками
playlists:
  - name: между уроками
    duration: 10
    items:
      - text: "Доброе утро!"
      - material: {material}
rules:
  - playlist: между уроками
"""


@dataclass
class DemoWorld:
    teacher: dict[str, Any]
    accounts: list[tuple[str, str, str]]  # login, password, role
    room_ids: list[int]
    slides: list[str] = field(default_factory=list)


@dataclass
class Tally:
    casts: int = 0
    shown: int = 0
    failures: list[str] = field(default_factory=list)
    # Panels connected after the last cast round: Ctrl-C reaches the panels' processes too, and they
    # sign off before the summary is printed, so the count at that moment would always be 0.
    connected: int = 0


def run_demo(data_dir: Path, panels: int, duration: float | None, browser: bool) -> int:
    """Run the demo until Ctrl-C or `duration` seconds; return 0 only if every part of it worked."""
    if panels < 1:
        print("classcast-controller demo: нужна хотя бы одна панель (--panels 1 или больше)")
        return 2
    chromium = find_chromium() if browser else None
    if browser and chromium is None:
        print("classcast-controller demo: нет Chromium; установите пакет chromium или добавьте --no-browser")
        return 2
    _fresh(data_dir)
    main = start_main_system(data_dir, room_names(panels))
    try:
        return _run(data_dir, main, panels, duration, chromium)
    finally:
        main.stop()


def _run(data_dir: Path, main: StandIn, panels: int, duration: float | None, chromium: str | None) -> int:
    app = create_app(
        # Plain HTTP on loopback: the session cookie cannot be HTTPS-only here, as it must be in service.
        {
            "data_dir": str(data_dir / "controller"),
            "port": 0,
            "telemetry_bind": "tcp://127.0.0.1:*",
            "secure_cookies": False,
            "journal_url": main.journal_url,
            "library_url": main.library_url,
            "main_token": main.token,
        }
    )
    svc: Services = app.extensions["classcast"]
    world = seed(svc, panels)
    world.accounts += sample_region(svc)
    server = ControllerServer(app)
    server.start()
    fleet = PanelProcesses(data_dir / "panels", data_dir / "logs", chromium)
    try:
        _enroll_and_start(svc, server, fleet, world)
        _print_welcome(server, world, fleet, main)
        return _drive(svc, world, fleet, panels, duration)
    finally:
        fleet.stop()
        server.stop()


def room_names(panel_count: int) -> list[str]:
    """Return the names of the demo school's rooms, one per panel."""
    return [f"Кабинет {101 + i}" for i in range(panel_count)]


def start_main_system(data_dir: Path, rooms: list[str]) -> StandIn:
    """Start the main system stand-in: the demo teacher's week in `rooms`, a lesson now in the first one."""
    timetable = data_dir / "main-system.json"
    teacher = {"login": TEACHER_LOGIN, "subject": "Математика", "rooms": rooms, "now_room": rooms[0]}
    data = {"timezone": SCHOOL_TIMEZONE, "teachers": [teacher]}
    timetable.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    return StandIn(
        secrets.token_urlsafe(24),
        ["--port", "0", "--data", str(timetable)],
        log=data_dir / "logs" / "main-system.log",
    )


def seed(svc: Services, panel_count: int) -> DemoWorld:
    """Return the demo's world: a region, a municipality, a school with a room per panel, and accounts."""

    def build(db: Any) -> tuple[int, int, int, list[int]]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        municipality = orgs.create_municipality(db, region, "город Новосибирск")
        school = orgs.create_school(
            db,
            municipality,
            "Муниципальное бюджетное общеобразовательное учреждение «Средняя общеобразовательная школа № 1»",
            "МБОУ СОШ № 1",
            timezone=SCHOOL_TIMEZONE,
        )
        rooms = [orgs.create_room(db, school, name) for name in room_names(panel_count)]
        return region, municipality, school, rooms

    region, municipality, school, rooms = svc.db.write(build)
    people = [
        (TEACHER_LOGIN, "Учитель Иванова М. П.", "teacher", "school", school),
        ("it", "Координатор ОО Петров С. А.", "school_it", "school", school),
        ("municipal", "Специалист МОУО", "municipal", "municipality", municipality),
        ("regional", "Специалист министерства", "regional", "region", region),
        ("operator", "Оператор системы", "operator", None, None),
    ]
    accounts, ids = [], {}
    for login, name, role, node_type, node_id in people:
        password = secrets.token_urlsafe(9)  # never a default password, even in a demo
        ids[login] = svc.db.write(users.create_user, login, password, name, role, node_type, node_id)
        accounts.append((login, password, role))
    world = DemoWorld(users.authenticate(svc.db.read, TEACHER_LOGIN, accounts[0][1]), accounts, rooms)
    materials = []
    for i, slide in enumerate(
        sorted((files("controller") / "sample_lesson").iterdir(), key=lambda p: p.name), start=1
    ):
        if slide.name.endswith(".svg"):
            title = f"Дроби, слайд {i}"
            materials.append(content.add_content(svc.db, svc.content, slide.read_bytes(), title, None))
    world.slides = [material["sha256"] for material in materials]
    give_rooms_a_schedule(svc, rooms, materials[0]["id"], ids["it"])
    return world


def give_rooms_a_schedule(svc: Services, room_ids: list[int], material_id: int, user_id: int) -> None:
    """Keep a short loop as each room's schedule, as school IT would upload it on the schedules page."""
    text = ROOM_SCHEDULE.format(material=material_id)
    upload = schedules.Upload(schedules.SourceFile("между-уроками.yaml", text))
    for room_id in room_ids:
        schedules.accept(svc.db, room_id, upload, user_id)


def sample_region(svc: Services) -> list[tuple[str, str, str]]:
    """Add a made-up region with four months of panel use, so that the statistics pages are full.

    Its panels are figures only (controller.seed); the demo's live panels are in the Novosibirsk region.
    Returns the accounts to see it with: its regional and one municipal coordinator.
    """
    made = region_seed.seed_region(svc, region_seed.Options(panels=SAMPLE_PANELS, days=SAMPLE_DAYS))
    code = made.world.rows["region"][0]["code"]
    return [
        (f"r{code}-regional", made.password, "regional"),
        (f"r{code}-m1-municipal", made.password, "municipal"),
    ]


def _enroll_and_start(
    svc: Services, server: ControllerServer, fleet: PanelProcesses, world: DemoWorld
) -> None:
    for number, room_id in enumerate(world.room_ids, start=1):
        panel_dir = fleet.panel_dir(number)
        identity = ensure_identity(panel_dir)
        name = f"Панель {number}"
        _, token = svc.db.write(panels.enroll_panel, room_id, name, identity.public_key)
        save_enrollment(panel_dir, token=token, controller_key=server.public_key)
        fleet.start_panel(number, server.url, svc.ingest.endpoint)


def _drive(
    svc: Services, world: DemoWorld, fleet: PanelProcesses, panel_count: int, duration: float | None
) -> int:
    stop = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    deadline = None if duration is None else time.monotonic() + duration
    if not _wait_connected(svc, fleet, panel_count, stop):
        print("Не все панели подключились за минуту; подробности в журналах:", fleet.log_dir)
    tally = Tally()
    slide = 0
    while not stop.is_set():
        _cast_round(svc, world, world.slides[slide % len(world.slides)], tally)
        slide += 1
        wait = CAST_EVERY_S if deadline is None else min(CAST_EVERY_S, deadline - time.monotonic())
        if wait <= 0 or stop.wait(wait) or (deadline is not None and time.monotonic() >= deadline):
            break
    gevent.sleep(0)  # let a last heartbeat batch be committed
    return _summary(svc, panel_count, tally, world.room_ids)


def _wait_connected(svc: Services, fleet: PanelProcesses, panel_count: int, stop: gevent.event.Event) -> bool:
    started = time.monotonic()
    while time.monotonic() - started < CONNECT_TIMEOUT_S and not stop.is_set():
        if svc.hub.connected_count >= panel_count and fleet.kiosks_ready():
            print(f"Все панели на связи ({panel_count}) через {time.monotonic() - started:.1f} с.")
            return True
        gevent.sleep(0.2)
    return False


def _cast_round(svc: Services, world: DemoWorld, sha256: str, tally: Tally) -> None:
    choice = choice_from(svc, world.teacher, {"content": sha256})
    item = choice.item
    for room_id in world.room_ids:
        for answer in cast(svc, world.teacher, [room_id], choice):
            tally.casts += 1
            if answer.get("ok"):
                tally.shown += 1
            else:
                tally.failures.append(f"{answer['panel']}: {answer.get('error')}")
    tally.connected = svc.hub.connected_count
    print(f"Показ «{item['title']}»: подтверждено {tally.shown} из {tally.casts} с начала демо.", flush=True)


def _summary(svc: Services, panel_count: int, tally: Tally, room_ids: list[int]) -> int:
    connected = tally.connected
    events = telemetry.count_events(svc.db.read)
    # The live panels only: the sample region's made-up figures have heartbeats too.
    live = {panel["id"] for room_id in room_ids for panel in panels.panels_of_room(svc.db.read, room_id)}
    beating = len(telemetry.panels_with_heartbeat(svc.db.read) & live)
    print("\nИтог демо:")
    print(f"  панелей на связи:          {connected} из {panel_count}")
    print(f"  показов подтверждено:      {tally.shown} из {tally.casts}")
    print(f"  событий телеметрии в базе: {events} (панелей с пульсом: {beating} из {panel_count})")
    for failure in tally.failures[:10]:
        print(f"  сбой показа: {failure}")
    ok = (
        connected == panel_count and tally.casts > 0 and tally.shown == tally.casts and beating == panel_count
    )
    print("  всё работает" if ok else "  есть сбои (см. выше и журналы)", flush=True)
    return 0 if ok else 1


def _print_welcome(server: ControllerServer, world: DemoWorld, fleet: PanelProcesses, main: StandIn) -> None:
    print(f"\nClassCast демо: {server.url}/   (телеметрия: {server.svc.ingest.endpoint})")
    print(f"Основная система «Моя школа» — заглушка (журнал и библиотека): {main.url}/")
    print("Учётные записи (пароли созданы для этого запуска):")
    for login, password, role in world.accounts:
        print(f"  {login:<16} {password:<14} {role}")
    for number, url in fleet.kiosk_urls().items():
        print(f"  экран панели {number}: {url}")
    print("Ctrl-C — остановить.\n", flush=True)


def _fresh(data_dir: Path) -> None:
    """Empty the demo's folder, but only one the demo made (it holds the marker file)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / _MARKER).exists():
            raise SystemExit(f"Папка {data_dir} не пуста и создана не демо; укажите другую --data-dir.")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / _MARKER).touch()
