"""Room schedules (docs/playlists.md): the file format, its checker, and the evaluator across school days."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from classcast import protocol
from classcast.playlist import Ref, Schedule, ScheduleInvalid, Slot
from classcast.playlist_check import check_file, read_file, read_text, schema
from player.items import MAX_TITLE_CHARS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "playlists").glob("*.yaml"))
VIDEO = "2b65f5012a985301a41aff13a605e9af8bf96e5a3920bdc8847e517ae3ad4a61"
PAGE_1, PAGE_2 = "a1" * 32, "b2" * 32
ONE = "playlists:\n  - {name: a, items: [{text: x}]}\n"  # a file's one playlist, named "a"

# A small school: lessons on weekdays and Saturday, a named big break, the autumn holidays with a
# Saturday inside them worked as a Friday.
BELLS = """\
bells:
  week:
    - days: [пн, вт, ср, чт, пт]
      periods:
        - {name: урок 1, start: "08:30", end: "09:15"}
        - {name: урок 2, start: "09:25", end: "10:10"}
        - {name: большая перемена, start: "10:10", end: "10:30", break: true}
        - {name: урок 3, start: "10:30", end: "11:15"}
    - days: [сб]
      periods:
        - {name: урок 1, start: "08:30", end: "09:10"}
  holidays:
    - {name: Осенние каникулы, from: 2025-10-27, to: 2025-11-04}
  workdays:
    - {date: 2025-11-01, like: пт}
"""
SCHOOL = (
    BELLS
    + f"""\
playlists:
  - name: холл
    items: [{{text: "Добро пожаловать"}}]
  - name: перемена
    duration: 10
    items:
      - {{text: "Проветрите кабинет", duration: 20}}
      - {{sha256: {VIDEO}, kind: video}}
      - {{material: 7}}
  - name: меню
    items: [{{url: "https://school.example/menu", duration: 30}}]
  - name: каникулы
    items:
      - sha256: "{"3" * 64}" # digits only: quoted, or YAML reads a number
        kind: pdf
        pages: [{{sha256: {PAGE_1}, mime: image/png}}, {{sha256: {PAGE_2}, mime: image/png}}]
  - name: концерт
    items: [{{material: 9, lesson: false}}]
  - name: забытый
    items: [{{material: 99}}]
rules:
  - playlist: холл
  - {{playlist: перемена, priority: 10, during: [breaks]}}
  - {{playlist: null, priority: 10, during: [lessons]}}
  - {{playlist: меню, priority: 20, during: [Большая перемена]}}
  - {{playlist: каникулы, priority: 30, holiday: true}}
  - {{playlist: концерт, priority: 50, dates: [2025-11-14]}}
screen:
  hours:
    - {{school_day: true, times: [{{from: "07:30", to: "16:00"}}]}}
    - {{holiday: true, days: [пн, вт, ср, чт, пт], times: [{{from: "10:00", to: "14:00"}}]}}
  except:
    - {{dates: [2025-11-13]}}
"""
)


def write(tmp_path: Path, text: str, name: str = "room.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def school(tmp_path: Path) -> Schedule:
    return Schedule.from_dict(read_file(write(tmp_path, SCHOOL)))


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day} {clock}")


def shown(slot: Slot) -> tuple[str | None, bool]:
    return (slot.playlist.name if slot.playlist else None, slot.screen)


# --- the examples and the checker's command -------------------------------------------------------------


def test_the_examples_are_there() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"lobby.yaml", "classroom-idle.yaml", "bells-school.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_passes_the_checker(path: Path) -> None:
    assert check_file(path) == []
    plan = Schedule.from_dict(read_file(path), str(path)).day_plan(date(2025, 11, 11))
    assert plan[0].start == 0 and plan[-1].end == 24 * 3600, "a plan covers the whole day"
    assert all(a.end == b.start and a[2:] != b[2:] for a, b in zip(plan, plan[1:], strict=False))


def test_the_check_command_passes_the_examples_and_fails_a_broken_file(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "classcast.playlist", "check", *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"Проверено файлов: {len(EXAMPLES)}, с ошибками: 0" in good.stdout

    broken = write(tmp_path, "playlists:\n  - name: a\n    items: [{text: x, duration: пять}]\n")
    bad = subprocess.run(
        [sys.executable, "-m", "classcast.playlist", "check", str(broken), *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert f"{broken}, строка 3, поле playlists[0].items[0].duration: ожидается число" in bad.stdout
    assert "Traceback" not in bad.stderr


def test_the_command_prints_a_day_and_explains_its_usage_in_russian(tmp_path: Path) -> None:
    lobby = ROOT / "playlists" / "lobby.yaml"
    day = subprocess.run(
        [sys.executable, "-m", "classcast.playlist", "day", str(lobby), "2025-11-11"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert day.returncode == 0, day.stderr
    assert "10:10–10:30  экран включён, плейлист «меню столовой»" in day.stdout
    assert "18:00–24:00  экран выключен" in day.stdout

    usage = subprocess.run(
        [sys.executable, "-m", "classcast.playlist"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2 and "Проверка расписаний" in usage.stderr


# --- broken files: each fault with its file, line and field ----------------------------------------------

# Each case: the file, with `# <-` on the line the fault must be reported on; the field; a part of the
# message. The YAML comment marks the line without changing what the file says.
BROKEN = {
    "tab in the indentation": (
        "playlists:\n  - name: a\n    items:\n\t- text: x # <-\n",
        "",
        "табуляция",
    ),
    "an unclosed bracket": ("playlists: [{name: a, items: [{text: x}]\nrules: [] # <-\n", "", "не закрыта"),
    "a key twice": ("title: a\ntitle: b # <-\n", "title", "повторяется (впервые в строке 1)"),
    "a wrong type": (
        "playlists:\n  - name: a\n    items:\n      - text: x\n        duration: пять # <-\n",
        "playlists[0].items[0].duration",
        "ожидается число, а здесь «пять»",
    ),
    "an unknown field": (
        "playlists:\n  - name: a\n    items:\n      - text: x\n        duraton: 5 # <-\n",
        "playlists[0].items[0].duraton",
        "может быть, «duration»?",
    ),
    "a missing field": ("playlists:\n  - name: a # <-\n", "playlists[0].items", "обязательное поле"),
    "two sources in one item": (
        "playlists:\n  - name: a\n    items:\n      - {text: x, material: 3} # <-\n",
        "playlists[0].items[0]",
        "ровно одно из полей material, sha256, url, text",
    ),
    "a bad time": (
        BELLS.replace('"08:30", end: "09:15"}', '"25:00", end: "09:15"} # <-'),
        "bells.week[0].periods[0].start",
        "время пишется как ЧЧ:ММ",
    ),
    "a lesson ending before it starts": (
        BELLS.replace(
            '{name: урок 2, start: "09:25", end: "10:10"}',
            '{name: урок 2, start: "09:25", end: "09:20"} # <-',
        ),
        "bells.week[0].periods[1].end",
        "«урок 2» кончается (09:20) не позже, чем начинается (09:25)",
    ),
    "overlapping lessons": (
        BELLS.replace('start: "10:30", end: "11:15"}', 'start: "10:20", end: "11:15"} # <-'),
        "bells.week[0].periods[3].start",
        "«урок 3» начинается в 10:20, раньше конца «большая перемена» (10:30)",
    ),
    "a weekday described twice": (
        BELLS.replace("    - days: [сб]\n", "    - days: [сб, пт] # <-\n"),
        "bells.week[1].days[1]",
        "день «пт» уже описан в bells.week[0]",
    ),
    "a window ending before it starts": (
        ONE + 'rules:\n  - playlist: a\n    times: [{from: "10:00", to: "09:00"}] # <-\n',
        "rules[0].times[0].to",
        "конец (09:00) не позже начала (10:00)",
    ),
    "a date range backwards": (
        ONE + "rules:\n  - playlist: a\n    dates: [{from: 2026-05-01, to: 2026-04-01}] # <-\n",
        "rules[0].dates[0].to",
        "конец (2026-04-01) раньше начала (2026-05-01)",
    ),
    "a date that does not exist": (
        ONE + "rules:\n  - playlist: a\n    dates: [2026-02-30] # <-\n",
        "rules[0].dates[0]",
        "нет такой даты «2026-02-30»",
    ),
    "an unknown bell period": (
        BELLS + ONE + "rules:\n  - playlist: a\n    during: [урок 9] # <-\n",
        "rules[0].during[0]",
        "в расписании звонков нет «урок 9»; есть «урок 1», «урок 2», «большая перемена», «урок 3»",
    ),
    "an unknown playlist": (
        ONE + "rules:\n  - playlist: b # <-\n",
        "rules[0].playlist",
        "нет плейлиста «b»; плейлисты файла: «a»",
    ),
    "bells talked of without bells": (
        ONE + "rules:\n  - playlist: a\n    during: [breaks] # <-\n",
        "rules[0].during",
        "расписания звонков нет",
    ),
    "a bell file that is not there": ("bells: other.yaml # <-\n", "bells", "нет файла звонков «other.yaml»"),
}


@pytest.mark.parametrize(("text", "field", "words"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_file_is_refused_naming_its_file_line_and_field(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    path = write(tmp_path, text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "# <-" in row)

    errors = check_file(path)

    assert [(e.file, e.line, e.field) for e in errors] == [(str(path), line, field)], errors
    assert words in str(errors[0].message)
    where = f"{path}, строка {line}" + (f", поле {field}" if field else "")
    assert str(errors[0]) == f"{where}: {errors[0].message}"
    with pytest.raises(ScheduleInvalid) as refused:
        read_file(path)
    assert [str(e) for e in refused.value.errors] == [str(e) for e in errors]


def test_every_fault_of_a_step_is_reported_not_only_the_first(tmp_path: Path) -> None:
    typed = write(tmp_path, "title: 5\nplaylists: {}\nscreen: {hours: x}\n")
    assert [(e.line, e.field) for e in check_file(typed)] == [
        (1, "title"),
        (2, "playlists"),
        (3, "screen.hours"),
    ]

    names = write(
        tmp_path,
        BELLS + "playlists: []\nrules:\n  - {playlist: x, during: [урок 8, урок 9]}\n  - {playlist: y}\n",
        "names.yaml",
    )
    fields = [e.field for e in check_file(names)]
    assert fields == ["rules[0].playlist", "rules[0].during[0]", "rules[0].during[1]", "rules[1].playlist"]


def test_the_faults_of_a_bell_file_are_named_with_that_file(tmp_path: Path) -> None:
    bells = write(tmp_path, BELLS.replace('end: "09:15"', 'end: "08:15"', 1), "bells.yaml")
    room = write(tmp_path, "bells: bells.yaml\n")
    errors = check_file(room)
    assert [(e.file, e.field) for e in errors] == [
        (str(room), "bells"),
        (str(bells), "bells.week[0].periods[0].end"),
    ]
    nested = write(tmp_path, "bells: room.yaml\n", "nested.yaml")
    assert "записано целиком" in str(check_file(nested)[1])


def test_a_file_unreadable_or_empty_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    assert "такого файла нет" in str(check_file(tmp_path / "nowhere.yaml")[0])
    assert "файл пуст" in str(check_file(write(tmp_path, "# только комментарий\n"))[0])
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: Холл".encode("cp1251"))
    assert "UTF-8" in str(check_file(latin)[0])


def test_yaml_is_read_by_the_core_rules_json_and_a_byte_order_mark_too(tmp_path: Path) -> None:
    # 8:30 unquoted would be the number 510 by YAML 1.1; "no" would be false.
    unquoted = BELLS.replace('"08:30"', "8:30").replace('"09:15"', "09:15")
    data = read_text("\ufeff" + unquoted + "title: no\n", "room.yaml")
    assert data["bells"]["week"][0]["periods"][0]["start"] == "8:30" and data["title"] == "no"
    as_json = write(tmp_path, json.dumps({"playlists": [{"name": "a", "items": [{"text": "x"}]}]}), "a.json")
    assert check_file(as_json) == []


# --- evaluation across a school day --------------------------------------------------------------------


def test_a_school_day(school: Schedule) -> None:
    tuesday = "2025-11-11"
    early = school.at(at(tuesday, "07:00"))
    assert shown(early) == (None, False) and early.until == at(tuesday, "07:30")
    morning = school.at(at(tuesday, "08:00"))
    assert shown(morning) == ("холл", True) and morning.since == at(tuesday, "07:30")
    lesson = school.at(at(tuesday, "08:45"))
    assert shown(lesson) == (None, True), "nothing during lessons (playlist: null)"
    assert (lesson.since, lesson.until) == (at(tuesday, "08:30"), at(tuesday, "09:15"))
    short_break = school.at(at(tuesday, "09:20"))
    assert shown(short_break) == ("перемена", True), "a gap between lessons is a break"
    assert (short_break.since, short_break.until) == (at(tuesday, "09:15"), at(tuesday, "09:25"))
    big_break = school.at(at(tuesday, "10:15"))
    assert shown(big_break) == ("меню", True), "the named break's rule outranks the breaks' rule"
    after = school.at(at(tuesday, "12:00"))
    assert shown(after) == ("холл", True) and after.until == at(tuesday, "16:00")
    evening = school.at(at(tuesday, "17:00"))
    assert shown(evening) == (None, False), "the screen is off after school hours"
    assert evening.until == at("2025-11-12", "07:30")


def test_the_weekend_and_the_holidays(school: Schedule) -> None:
    saturday_evening = school.at(at("2025-11-15", "20:00"))
    assert shown(saturday_evening) == (None, False)
    assert saturday_evening.until == at("2025-11-17", "07:30"), "Sunday has no lessons: off until Monday"
    assert shown(school.at(at("2025-11-16", "12:00"))) == (None, False)

    holiday = school.at(at("2025-10-28", "10:15"))  # a Tuesday's big break, but in the holidays
    assert shown(holiday) == ("каникулы", True)
    assert (holiday.since, holiday.until) == (at("2025-10-28", "10:00"), at("2025-10-28", "14:00"))
    worked = "2025-11-01"  # a Saturday inside the holidays, worked with a Friday's lessons
    assert shown(school.at(at(worked, "09:20"))) == ("перемена", True)
    assert shown(school.at(at(worked, "10:20"))) == ("меню", True)


def test_priorities_exceptions_and_ties(school: Schedule, tmp_path: Path) -> None:
    concert = "2025-11-14"  # a date range at priority 50 outranks the lessons' "nothing"
    assert shown(school.at(at(concert, "08:45"))) == ("концерт", True)
    assert shown(school.at(at("2025-11-13", "08:45"))) == (None, False), "the screen's exception date"

    def first(rules: str) -> str | None:
        text = f"{ONE}  - {{name: b, items: [{{text: y}}]}}\nrules: {rules}\n"
        playlist = Schedule.from_dict(read_text(text, "tie.yaml")).at(at("2025-11-11", "12:00")).playlist
        return playlist.name if playlist else None

    assert first("[{playlist: a}, {playlist: b}]") == "a"
    assert first("[{playlist: b}, {playlist: a}]") == "b", "a tie goes to the rule listed first"
    assert first("[{playlist: a}, {playlist: b, priority: 1}]") == "b"
    assert first("[{playlist: a}, {playlist: null, priority: 1}]") is None


def test_until_is_the_next_change_and_nothing_changes_before_it(school: Schedule) -> None:
    lobby = Schedule.from_dict(read_file(ROOT / "playlists" / "lobby.yaml"))
    for schedule, start in ((school, datetime(2025, 10, 30)), (lobby, datetime(2025, 12, 26))):
        moment = start
        while moment < start + timedelta(days=8):
            slot = schedule.at(moment)
            assert slot.since <= moment and slot.until is not None and slot.until > moment
            just_before = schedule.at(slot.until - timedelta(seconds=1))
            assert shown(just_before) == shown(slot), moment
            if slot.playlist is not None:  # a playlist's slot never crosses midnight: its loop restarts
                assert just_before.since == slot.since, moment
            after = schedule.at(slot.until)
            changed = shown(after) != shown(slot)
            restarted = slot.playlist is not None and slot.until.time().isoformat() == "00:00:00"
            assert changed or restarted, f"{moment}: nothing changes at {slot.until}"
            moment += timedelta(minutes=5)


def test_until_looks_far_ahead_and_says_when_nothing_ever_changes(tmp_path: Path) -> None:
    def slot(text: str, moment: datetime) -> Slot:
        return Schedule.from_dict(read_text(text, "far.yaml")).at(moment)

    future = ONE + "rules: [{playlist: a, dates: [{from: 2040-01-01}]}]\n"
    assert slot(future, datetime(2025, 9, 1, 12)).until == datetime(2040, 1, 1)
    assert slot(future, datetime(2041, 3, 5, 12)).until == datetime(2041, 3, 6), "a playlist restarts daily"
    dark = "screen: {hours: [{dates: [2025-01-01]}]}\n"
    assert slot(dark, datetime(2024, 12, 31, 12)).until == datetime(2025, 1, 1)
    assert slot(dark, datetime(2025, 1, 1, 12)).until == datetime(2025, 1, 2)
    assert slot(dark, datetime(2025, 6, 1, 12)).until is None


def test_a_playlist_position_is_a_function_of_the_time(school: Schedule) -> None:
    first = school.at(at("2025-11-11", "09:15:05"))
    later = school.at(at("2025-11-11", "09:16:00"))
    assert first.since == later.since == at("2025-11-11", "09:15")
    # text 20 s, then the video (no duration: the playlist's 10 s until its length is known), material 10 s
    looped = later.position(at("2025-11-11", "09:15:45"))
    assert looped is not None and (looped.index, looped.offset) == (0, 5.0), "a loop is 40 s"
    video = first.position(at("2025-11-11", "09:15:25"))
    assert video is not None and (video.index, video.offset, video.remaining) == (1, 5.0, 5.0)
    lengths = {Ref("sha256", VIDEO): 60.0}
    long_video = first.position(at("2025-11-11", "09:16:00"), lengths)
    assert long_video is not None and (long_video.index, long_video.offset) == (1, 40.0)
    assert school.at(at("2025-11-11", "08:45")).position(at("2025-11-11", "08:45")) is None


def test_needed_lists_the_content_of_every_playlist_a_rule_names(school: Schedule) -> None:
    assert school.needed() == {
        Ref("sha256", VIDEO),
        Ref("material", "7"),
        Ref("url", "https://school.example/menu"),
        Ref("sha256", "3" * 64),
        Ref("sha256", PAGE_1),
        Ref("sha256", PAGE_2),
        Ref("material", "9"),
    }, "no text card, nothing of the playlist no rule names"


# --- the panel's side: a plain dict, no YAML, no jsonschema ---------------------------------------------


def test_the_checked_document_is_self_contained_json(tmp_path: Path) -> None:
    data = read_file(ROOT / "playlists" / "classroom-idle.yaml")
    assert isinstance(data["bells"], dict)
    sent = json.loads(json.dumps(data, ensure_ascii=False))
    schedule = Schedule.from_dict(sent)
    monday = "2025-11-10"
    talk = schedule.at(at(monday, "08:40"))
    assert talk.playlist is not None and talk.playlist.name == "разговоры о важном"
    assert talk.playlist.items[0].lesson and talk.playlist.items[0].sound


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"playlists": "x"}, ""),
        ([1, 2], ""),
        ({"rules": [{"playlist": "a"}]}, "rules[0].playlist"),
        ({"bells": "bells-school.yaml"}, "bells"),
        (
            {"playlists": [{"name": "a", "items": [{"text": "x", "duration": 0}]}]},
            "playlists[0].items[0].duration",
        ),
    ],
)
def test_a_bad_dict_is_refused_with_a_message_never_a_traceback(data: object, field: str) -> None:
    with pytest.raises(ScheduleInvalid) as refused:
        Schedule.from_dict(data, "state.json")  # type: ignore[arg-type]  # the point is a wrong shape
    error = refused.value.errors[0]
    assert error.file == "state.json" and error.field == field
    assert re.search(r"[а-я]", str(error.message))


def test_the_player_side_imports_neither_yaml_nor_jsonschema() -> None:
    probe = "import json, sys, classcast.playlist; print(json.dumps([m.split('.')[0] for m in sys.modules]))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    modules = set(json.loads(loaded.stdout))
    assert "classcast" in modules and not modules & {"yaml", "jsonschema", "referencing"}


# --- the schema and the docs stay in step with the code ------------------------------------------------


def test_the_schema_is_valid_and_agrees_with_the_cast_items() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    item = schema()["$defs"]["item"]["properties"]
    assert item["text"]["maxLength"] == protocol.MAX_TEXT_CHARS
    assert item["title"]["maxLength"] == MAX_TITLE_CHARS
    assert {*item["kind"]["enum"], "page", "text"} == set(protocol.ITEM_KINDS)


def test_the_docs_name_every_field_of_the_schema() -> None:
    text = (ROOT / "docs" / "playlists.md").read_text(encoding="utf-8")

    def fields(node: object) -> set[str]:
        if isinstance(node, dict):
            own = set(node.get("properties", {}))
            return own | set().union(*(fields(value) for value in node.values()))
        return set().union(*(fields(value) for value in node)) if isinstance(node, list) else set()

    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    words = set(re.findall(r"\w+", " ".join(fenced + spans)))
    missing = sorted(fields(schema()) - words)
    assert missing == [], f"docs/playlists.md does not name: {missing}"
