"""The seed's usage model: how each panel is used (its profile and traits), day by day on its school's
calendar, and the casts its teachers make from the library of lesson slides and e-school pages."""

from __future__ import annotations

import bisect
import html
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from controller.norms import DEFAULT_TABLE, Norms
from controller.seed.calendar import DAY_S, ISO, Window, iso
from controller.seed.plan import Panel

BELLS_S = tuple(h * 3600 + m * 60 for h, m in ((8, 30), (9, 25), (10, 25), (11, 25), (12, 25), (13, 20)))
BELLS_S += (14 * 3600 + 15 * 60, 15 * 3600 + 10 * 60)  # when each lesson starts, after local midnight


@dataclass(frozen=True)
class Profile:
    """How a panel is used: how often it is on, lessons shown and seconds each, on a school day."""

    name: str
    share: float  # of the panels
    on_school_day: float  # the chance it is switched on on a school day
    lessons: tuple[int, int]
    use_s: tuple[float, float]  # seconds in use per lesson
    on_day_off: float  # the chance it is switched on (and left unused) on a weekend or holiday


PROFILES = (
    Profile("heavy", 0.2, 0.96, (6, 8), (2100.0, 2700.0), 0.04),  # 4–6 h a school day
    Profile("typical", 0.62, 0.88, (2, 4), (1500.0, 2700.0), 0.025),  # 1–3 h
    Profile("rare", 0.18, 0.05, (0, 2), (300.0, 1500.0), 0.005),  # switched on about once a month
)


@dataclass(frozen=True)
class Traits:
    """What stays the same about one panel from day to day."""

    profile: Profile
    always_on: bool  # never switched off: reports every day, its screen dark out of school hours
    cast_rate: float  # the chance a lesson shown is a teacher's cast
    idle_screen: float  # the share of its idle time on a school day that the screen stays on
    base_temperature: float
    teachers: tuple[int, ...]  # who casts to it, the first the most
    cum_weights: tuple[float, ...]

    @classmethod
    def draw(cls, rng: random.Random, panel: Panel) -> Traits:
        profile = rng.choices(PROFILES, [p.share for p in PROFILES])[0]
        staff = panel.school.teacher_ids
        teachers = tuple(rng.sample(staff, min(len(staff), rng.randint(1, 3))))
        cum_weights = tuple(sum(1 / (k + 1) for k in range(n + 1)) for n in range(len(teachers)))
        cast_rate = 0.0 if rng.random() < 0.15 else rng.uniform(0.1, 0.45)
        always_on, idle, heat = rng.random() < 0.05, rng.uniform(0.2, 0.8), rng.uniform(47.0, 55.0)
        return cls(profile, always_on, cast_rate, idle, heat, teachers, cum_weights)


@dataclass
class Batch:
    """The rows of a few hundred panels, written in one transaction."""

    days: list[tuple[Any, ...]] = field(default_factory=list)
    casts: list[tuple[Any, ...]] = field(default_factory=list)
    seen: list[tuple[Any, ...]] = field(default_factory=list)  # (last_seen_at, health_at, temperature, id)
    weeks: Counter[tuple[int, int, str]] = field(default_factory=Counter)  # casts by teacher, school, week
    # The screen-time norms' daily check, as if it had run: lessons over a norm, and the days checked
    # (school, day) -> [lessons with screen time, lessons over a norm].
    norm_lessons: list[tuple[Any, ...]] = field(default_factory=list)
    norm_days: dict[tuple[int, str], list[int]] = field(default_factory=dict)


NORMS = Norms.parse(DEFAULT_TABLE)
LESSON_S = 40 * 60.0


@dataclass(frozen=True)
class Library:
    """What teachers cast: lesson slides in the content store, and lessons of the Russian e-school."""

    slides: list[tuple[str, str]]  # (sha256, title)
    topics: list[str]


# A day of a panel: when it was switched on and off, its lessons (start, seconds in use) and its casts
# (start, seconds, a draw that tells whether it came from the library), in seconds after local midnight.
Day = tuple[float, float, list[tuple[float, float]], list[tuple[float, float, float]]]


class PanelUse:
    """One panel's days and casts, drawn from its own generator into a batch."""

    def __init__(self, panel: Panel, window: Window, library: Library, seed: int, batch: Batch) -> None:
        self.panel, self.window, self.library, self.batch = panel, window, library, batch
        self.rng = random.Random(f"{seed}/panel/{panel.number}")
        # The grades of its lessons from a generator of their own: the rest is drawn as before.
        self.grades = random.Random(f"{seed}/grades/{panel.number}")
        self.traits = Traits.draw(self.rng, panel)

    def add(self, is_school_day: list[bool]) -> None:
        """Add its days from its pairing (or the window's start) to its death (or the end), and last seen."""
        panel, window = self.panel, self.window
        paired_on = datetime.fromtimestamp(panel.paired_at, window.zone).date()
        first = max(0, (paired_on - window.dates[0]).days)
        last = len(window.dates) - 1 if panel.dies_on is None else (panel.dies_on - window.dates[0]).days
        seen = temperature = None
        for i in range(first, min(last, len(window.dates) - 1) + 1):
            since = panel.paired_at - window.midnights[i] if window.dates[i] == paired_on else 0.0
            school = is_school_day[i]
            day = self._school_day(window.dates[i].isoweekday() == 6) if school else self._day_off()
            if day is not None and (ended := self._add_day(i, day, school, since)):
                seen, temperature = ended
        if seen is None and paired_on < window.dates[0]:  # nothing in the window: last heard of before it
            end = min(panel.dies_on or window.dates[0], window.dates[0])
            silent = window.at(end - timedelta(days=self.rng.randint(1, 20)), 54000.0)
            seen = max(panel.paired_at + 3600.0, silent)
        panel.last_seen_at = seen
        self.batch.seen.append((iso(seen), seen, temperature, panel.id))

    def _school_day(self, saturday: bool) -> Day | None:
        # Arithmetic on random(): randint and sample cost five times as much, and this runs a million times.
        draw, traits, profile = self.rng.random, self.traits, self.traits.profile
        if not traits.always_on and draw() >= profile.on_school_day:
            return None
        slots = 5 if saturday else len(BELLS_S)
        least, most = profile.lessons
        away = draw() < 0.08  # the room's teachers are away: the panel is on, unused
        count = 0 if away else min(slots, least + int(draw() * (most - least + 1)))
        first = int(draw() * (slots - count + 1))
        shortest, longest = profile.use_s
        lessons, casts = [], []
        for start in BELLS_S[first : first + count]:  # the lessons of the room's teachers, back to back
            use = shortest + draw() * (longest - shortest)
            lessons.append((start, use))
            if draw() < traits.cast_rate:
                length = use * (0.4 + 0.6 * draw())
                casts.append((start + (use - length) * draw(), length, draw()))
        if traits.always_on:
            return 0.0, DAY_S, lessons, casts
        on, off = 27000.0 + draw() * 3600.0, 52200.0 + draw() * 12600.0  # 7:30–8:30 to 14:30–18:00
        if lessons:
            off = max(off, lessons[-1][0] + lessons[-1][1] + 300.0)
        return on, off, lessons, casts

    def _day_off(self) -> Day | None:
        """Return a weekend or holiday on which it was on but unused, or None if it stayed off."""
        if self.traits.always_on:
            return 0.0, DAY_S, [], []
        if self.rng.random() >= self.traits.profile.on_day_off:
            return None
        on = 32400.0 + self.rng.random() * 14400.0
        return on, on + 3600.0 + self.rng.random() * 10800.0, [], []

    def _add_day(self, i: int, day: Day, school: bool, since: float) -> tuple[float, float] | None:
        """Add the day's figures and casts, cut to what had happened when seeding; return (last seen, °C)."""
        on, off, lessons, casts = day
        until = self.window.passed_s[i]
        on, off = max(on, since), min(off, until)
        if off - on < 60.0:
            return None
        shown = [min(use, until - start) for start, use in lessons if start < until]
        in_use, cast_s, library_s, count = sum(shown), 0.0, 0.0, 0
        for at, length, from_library in casts:
            if at < until:
                length = min(length, until - at)
                cast_s, count = cast_s + length, count + 1
                library_s += length if from_library < self.panel.school.library_share else 0.0
                cast = self._cast_row(self.window.midnights[i] + at)
                self.batch.casts.append(cast)
                self.batch.weeks[(cast[2], self.panel.school.id, self.window.mondays[i])] += 1
                self._judge(i, at, length)
        awake = 0.0 if self.traits.always_on and not school else min(off - on, 37800.0)
        screen_on = in_use + max(0.0, awake - in_use) * self.traits.idle_screen
        draw = self.rng.random
        lost = 1 + int(draw() * 5) if draw() < 0.1 else 0
        heartbeats = max(1, int((off - on) / 60.0) - lost)  # one a minute while it is on
        summer = 3.0 if self.window.dates[i].month in (6, 7, 8) else 0.0
        heat = self.traits.base_temperature + in_use / 1800.0 + summer + 4.0 * draw() - 2.0
        temperature = round(min(70.0, max(45.0, heat)), 1)
        health = (temperature, 1 + int(draw() * 40) if draw() < 0.004 else 0, 1 if draw() < 0.003 else 0)
        use = (round(screen_on), round(in_use), len(shown), count, round(cast_s), round(library_s))
        self.batch.days.append((self.panel.id, self.window.isos[i], heartbeats, *use, *health))
        return self.window.midnights[i] + off, temperature

    def _judge(self, i: int, at: float, length: float) -> None:
        """Judge the cast's lesson against the screen-time norm of a class drawn for it."""
        panel = self.panel
        if panel.room_id is None:
            return
        band = NORMS.bands[int(self.grades.random() * len(NORMS.bands))]
        day = self.window.isos[i]
        checked = self.batch.norm_days.setdefault((panel.school.id, day), [0, 0])
        checked[0] += 1
        if length > band.lesson_s:
            checked[1] += 1
            start, end = (time.strftime("%H:%M", time.gmtime(s)) for s in (at, at + LESSON_S))
            row = (panel.school.id, panel.room_id, day, start, end, band.label, round(length))
            self.batch.norm_lessons.append((*row, band.lesson_s, band.day_s, 1, 0))

    def _cast_row(self, at: float) -> tuple[Any, ...]:
        draw, traits, library = self.rng.random, self.traits, self.library
        user_id = traits.teachers[bisect.bisect(traits.cum_weights, draw() * traits.cum_weights[-1])]
        if draw() < 0.7:
            sha256, title = library.slides[int(draw() * len(library.slides))]
            kind, url = "image", None  # the kinds casting.py gives a stored file and a web page
        else:
            sha256, kind = None, "page"
            title = f"РЭШ: {library.topics[int(draw() * len(library.topics))]}"
            url = f"https://resh.edu.ru/subject/lesson/{1000 + int(draw() * 7000)}/main/"
        created_at, shown_at = time.strftime(ISO, time.gmtime(at)), at + 0.3 + 2.0 * draw()
        panel = self.panel
        return panel.id, panel.room_id, user_id, kind, sha256, url, title, "shown", created_at, shown_at


_TOPICS = (  # subject: topic
    "Математика: сложение дробей с разными знаменателями; Математика: таблица умножения на 7;"
    " Алгебра: квадратные уравнения; Геометрия: теорема Пифагора; Геометрия: площадь треугольника;"
    " Русский язык: причастный оборот; Русский язык: безударные гласные в корне слова;"
    " Литература: «Капитанская дочка» А. С. Пушкина; Литература: басни И. А. Крылова;"
    " Физика: закон Ома для участка цепи; Физика: строение атома;"
    " Химия: периодическая система Д. И. Менделеева; Химия: окислительно-восстановительные реакции;"
    " Биология: строение растительной клетки; Биология: пищеварительная система человека;"
    " География: климатические пояса Земли; География: природные зоны России;"
    " История: Отечественная война 1812 года; История: Древний Египет;"
    " Обществознание: права и обязанности гражданина; Английский язык: Present Perfect;"
    " Информатика: двоичная система счисления; Информатика: алгоритмы и исполнители;"
    " Окружающий мир: круговорот воды в природе; Музыка: П. И. Чайковский, «Времена года»;"
    " ИЗО: народные промыслы России; ОБЗР: правила дорожного движения;"
    " Разговоры о важном: День народного единства"
).split("; ")


def _slide(title: str) -> bytes:
    """Return a lesson's title slide (SVG)."""
    subject, _, topic = (html.escape(part) for part in title.partition(": "))
    text = '<text x="960" y="{}" font-size="{}" text-anchor="middle" font-family="sans-serif">{}</text>'
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1920 1080"><rect width="1920" height="1080"'
        f' fill="#f5f2e9"/>{text.format(420, 56, subject)}{text.format(560, 80, topic)}</svg>'
    ).encode()


def add_library(svc: Any) -> Library:
    """Return the library, its lesson slides put in the content store (once, however often seeded)."""
    from controller.store import content

    slides = [(content.add_content(svc.db, svc.content, _slide(t), t, None)["sha256"], t) for t in _TOPICS]
    return Library(slides, list(_TOPICS))
