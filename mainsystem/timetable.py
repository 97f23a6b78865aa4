"""The stand-in's journal: each teacher's lessons, a made-up week, and a lesson in progress on demand.

A teacher known to the stand-in (from the command line or the data file) has 6 or 7 lessons every
weekday from 08:30 to 14:40, at a Russian school's bells (`BELLS`), in their subject, in classes of
grades 5–11, in their rooms by turn; no lessons at the weekend. The week is the same every week and
the same on every run (it follows from the login). Two things change a teacher's today:

- `today`: the day's lessons given outright, each with its times (the data file only);
- `now_room`: a lesson in that room that is always in progress — it began ten minutes before the
  moment of the request (at a minute's start) and lasts 40 minutes; today's other lessons that
  overlap it make way. So a test or the demo has a current lesson whenever it asks.

"Today" and "now" are the school's local time in the stand-in's time zone (`--timezone`, or the data
file's `timezone`). The data file is read again on every request, so a test can rewrite it.

Each lesson carries `pupils`, `marks` and `absent`, as the real journal's do, for the controller to
drop; the names are storybook characters, nobody's real name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BELLS = (
    ("08:30", "09:10"),
    ("09:20", "10:00"),
    ("10:20", "11:00"),  # 20-minute breaks (for meals) after the 2nd, 3rd and 5th lessons
    ("11:20", "12:00"),
    ("12:10", "12:50"),
    ("13:10", "13:50"),
    ("14:00", "14:40"),
)
LESSON = timedelta(minutes=40)
NOW_STARTED = timedelta(minutes=10)  # how long before the request the lesson in progress began
DEFAULT_ROOMS = ("101", "204", "305")
CLASSES = ("5А", "5Б", "6А", "6В", "7А", "7Б", "8А", "8Б", "9А", "9В", "10А", "11А")
TOPICS = {
    "Математика": ("Дроби", "Десятичные дроби", "Проценты", "Уравнения", "Координатная плоскость"),
    "Русский язык": ("Безударные гласные", "Части речи", "Причастный оборот", "Сложное предложение"),
    "Литература": ("Сказки Пушкина", "Басни Крылова", "Лирика Лермонтова", "«Война и мир»"),
    "История": ("Древний Египет", "Куликовская битва", "Реформы Петра I", "Война 1812 года"),
    "География": ("Материки и океаны", "Климат", "Природные зоны", "Население России"),
    "Биология": ("Клетка", "Фотосинтез", "Кровообращение", "Экосистемы"),
    "Физика": ("Законы Ньютона", "Давление", "Закон Ома", "Работа и мощность"),
    "Химия": ("Строение атома", "Типы реакций", "Периодическая система", "Кислоты и основания"),
    "Информатика": ("Системы счисления", "Алгоритмы", "Устройство компьютера", "Циклы"),
    "Английский язык": ("Present Simple", "Past Simple", "Неправильные глаголы", "Моя школа"),
}
SUBJECTS = tuple(TOPICS)
PUPILS = (
    "Незнайка Коротышкин", "Знайка Коротышкин", "Пончик Булочкин", "Винтик Шпунтиков",
    "Шпунтик Винтиков", "Буратино Карлович", "Мальвина Голубая", "Пьеро Грустный",
    "Артемон Пуделев", "Чебурашка Апельсинов", "Гена Крокодилов", "Шапокляк Крыскина",
    "Карлсон Крышин", "Малыш Свантесон", "Дядя Фёдор Простоквашин", "Матроскин Котов",
    "Шарик Псов", "Почтальон Печкин", "Колобок Круглов", "Емеля Печкин-Щукин",
)  # fmt: skip


class TimetableError(ValueError):
    """The data file or an option is not a timetable the stand-in understands."""


@dataclass(frozen=True)
class Teacher:
    login: str
    subject: str
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    now_room: str | None = None
    today: tuple[dict[str, Any], ...] | None = None  # lessons with their own start and end

    @classmethod
    def named(cls, login: str, **fields: Any) -> Teacher:
        """Return the teacher `login`, their subject (unless given) following from the login."""
        subject = fields.pop("subject", None) or SUBJECTS[_seed(login) % len(SUBJECTS)]
        return cls(login, subject, **fields)


class Timetable:
    """The teachers of the command line and of the data file (read again at every call)."""

    def __init__(self, teachers: dict[str, Teacher], zone: str, data_file: Path | None = None) -> None:
        self._teachers, self._zone, self.data_file = teachers, zone, data_file
        self.load()  # a bad data file stops the start

    def load(self) -> tuple[dict[str, Teacher], ZoneInfo]:
        """Return the teachers by login and the school's time zone; raise TimetableError."""
        teachers, zone = dict(self._teachers), self._zone
        if self.data_file is not None:
            data = _read(self.data_file)
            zone = data.get("timezone", zone)
            for raw in data.get("teachers", []):
                teacher = _teacher(raw)
                teachers[teacher.login] = teacher
        try:
            return teachers, ZoneInfo(zone)
        except (ValueError, KeyError) as exc:
            raise TimetableError(f"unknown time zone {zone!r}") from exc

    def day(self, login: str, day: date | None, now: datetime | None = None) -> dict[str, Any] | None:
        """Return the journal's answer for the teacher's `day` (None: today), or None for an unknown one."""
        teachers, zone = self.load()
        teacher = teachers.get(login)
        if teacher is None:
            return None
        local = (now or datetime.now(zone)).astimezone(zone)
        day = day or local.date()
        if day != local.date():
            lessons = _week_day(teacher, day)
        else:
            lessons = _today(teacher, day, local)
        numbered = [{"number": n, **lesson} for n, lesson in enumerate(lessons, start=1)]
        return {"teacher": login, "date": day.isoformat(), "lessons": [_with_class_list(x) for x in numbered]}


def _today(teacher: Teacher, day: date, local: datetime) -> list[dict[str, Any]]:
    lessons = sorted(teacher.today, key=lambda x: x["start"]) if teacher.today is not None else None
    lessons = lessons if lessons is not None else _week_day(teacher, day)
    if teacher.now_room is None:
        return lessons
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(midnight, local.replace(second=0, microsecond=0) - NOW_STARTED)
    end = min(start + LESSON, midnight + timedelta(hours=23, minutes=59))
    now = {
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "class": "5А",
        "subject": teacher.subject,
        "room": teacher.now_room,
        "topic": _topic(teacher, day.weekday(), 0),
    }
    kept = [x for x in lessons if x["end"] <= now["start"] or x["start"] >= now["end"]]
    return sorted([*kept, now], key=lambda x: x["start"])


def _week_day(teacher: Teacher, day: date) -> list[dict[str, Any]]:
    """Return the teacher's lessons of that weekday: 6 or 7 of them, none on Saturday and Sunday."""
    weekday = day.weekday()
    if weekday >= 5:
        return []
    seed = _seed(teacher.login)
    count = 7 if (seed + weekday) % 3 == 0 else 6
    return [
        {
            "start": start,
            "end": end,
            "class": CLASSES[(seed + 5 * weekday + 7 * n) % len(CLASSES)],
            "subject": teacher.subject,
            "room": teacher.rooms[(weekday + n) % len(teacher.rooms)],
            "topic": _topic(teacher, weekday, n),
        }
        for n, (start, end) in enumerate(BELLS[:count])
    ]


def _with_class_list(lesson: dict[str, Any]) -> dict[str, Any]:
    """Return the lesson with what the real journal sends beside it: the class list, marks, absences."""
    seed = _seed(lesson["class"])
    pupils = [PUPILS[(seed + 3 * i) % len(PUPILS)] for i in range(8)]
    marks = [{"pupil": pupils[i], "mark": 3 + (seed + i) % 3, "for": "ответ у доски"} for i in (0, 2, 5)]
    return {**lesson, "pupils": pupils, "marks": marks, "absent": [pupils[7]]}


def _topic(teacher: Teacher, weekday: int, n: int) -> str:
    topics = TOPICS.get(teacher.subject, ("Повторение",))
    return topics[(weekday + n) % len(topics)]


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TimetableError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("teachers", []), list):
        raise TimetableError(f'{path}: expected {{"timezone": ..., "teachers": [...]}}')
    return data


def _teacher(raw: Any) -> Teacher:
    """Return the teacher a data file's entry describes (docs/main-system-api.md), or TimetableError."""
    if not isinstance(raw, dict) or not isinstance(raw.get("login"), str):
        raise TimetableError(f"a teacher needs a login: {raw!r}")
    fields: dict[str, Any] = {"subject": raw.get("subject"), "now_room": raw.get("now_room")}
    if raw.get("rooms"):
        fields["rooms"] = tuple(str(room) for room in raw["rooms"])
    if raw.get("today") is not None:
        fields["today"] = tuple(_lesson(raw["login"], x) for x in raw["today"])
    return Teacher.named(raw["login"], **fields)


def _lesson(login: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("start", "end", "room")):
        raise TimetableError(f"{login}: a lesson of today needs start, end and room: {raw!r}")
    for key in ("start", "end"):
        try:
            datetime.strptime(raw[key], "%H:%M")
        except ValueError as exc:
            raise TimetableError(f"{login}: {key} must be HH:MM: {raw!r}") from exc
    subject = raw.get("subject", "Математика")
    fields = {"class": "5А", "subject": subject, "topic": TOPICS.get(subject, ("Повторение",))[0]}
    fields.update({k: raw[k] for k in ("start", "end", "class", "subject", "room", "topic") if k in raw})
    return fields
