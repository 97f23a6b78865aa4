"""Turn a schedule document (a plain dict) into the evaluator's parts, checking what a schema cannot.

The checks here need no library: an end after its start, dates that exist, periods that do not
overlap, a named playlist or period that exists. They run on the controller after the JSON Schema,
and on the panel on the dict the controller sent, so the panel never follows a schedule it cannot
read: it keeps the last good one. Every fault is collected with its field path; lines are added by
`classcast.playlist_check`, which has the file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date
from itertools import pairwise
from typing import Any, NamedTuple

from classcast.i18n import Message
from classcast.playlist_model import (
    BELL_WORDS,
    DAY_SECONDS,
    DEFAULT_SECONDS,
    Bells,
    Condition,
    DateSpan,
    FieldPath,
    Item,
    Period,
    Playlist,
    PlaylistError,
    Ref,
    Rule,
    ScheduleInvalid,
    Screen,
    Span,
    clock,
    weekday_number,
)

log = logging.getLogger(__name__)

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NEEDS_BELLS = ("school_day", "holiday", "during")


class Parts(NamedTuple):
    title: str
    bells: Bells | None
    playlists: dict[str, Playlist]  # casefolded name → playlist
    rules: tuple[Rule, ...]
    screen: Screen


class _Faults:
    """Collects the faults of one document."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[PlaylistError] = []

    def add(self, path: FieldPath, text: str, **values: object) -> None:
        self.found.append(PlaylistError(self.file, None, path, Message(text, values)))


def parse(data: Mapping[str, Any], file: str = "") -> Parts:
    """Return the parts of the schedule; raise ScheduleInvalid with every fault found."""
    faults = _Faults(file)
    try:
        parts = _parts(data, faults)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # Only a document that skipped the schema gets here (a damaged state file, a controller bug).
        log.warning("schedule %s is malformed: %r", file or "(unnamed)", exc)
        text = "расписание повреждено, его нельзя прочесть (%(problem)s)"
        raise ScheduleInvalid([PlaylistError(file, None, (), Message(text, {"problem": repr(exc)}))]) from exc
    if faults.found:
        raise ScheduleInvalid(faults.found)
    return parts


def _parts(data: Mapping[str, Any], faults: _Faults) -> Parts:
    bells = _bells(data.get("bells"), faults)
    playlists = _playlists(data.get("playlists", []), faults)
    context = _Context(bells, playlists, faults)
    rules = tuple(_rule(raw, index, context) for index, raw in enumerate(data.get("rules", [])))
    screen = _screen(data.get("screen"), context)
    return Parts(str(data.get("title", "")), bells, playlists, rules, screen)


# --- times and dates ------------------------------------------------------------------------------------


def _time(text: Any, path: FieldPath, faults: _Faults, *, end: bool = False) -> int | None:
    """Return seconds from midnight for "08:30"; "24:00" only as an end."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    hours, minutes = (int(match[1]), int(match[2])) if match else (99, 99)
    if hours == 24 and minutes == 0 and end:
        return DAY_SECONDS
    if hours > 23 or minutes > 59:
        faults.add(path, "нет такого времени «%(value)s»: пишите ЧЧ:ММ от 00:00 до 23:59", value=text)
        return None
    return hours * 3600 + minutes * 60


def _date(text: Any, path: FieldPath, faults: _Faults) -> date | None:
    try:
        if isinstance(text, str) and _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    faults.add(path, "нет такой даты «%(value)s»: пишите ГГГГ-ММ-ДД, например 2025-09-01", value=text)
    return None


def _span(raw: Any, path: FieldPath, faults: _Faults) -> DateSpan | None:
    """Return the days of "2025-12-31" or {from, to} (either side may be left open)."""
    if isinstance(raw, str):
        day = _date(raw, path, faults)
        return DateSpan(day, day) if day else None
    first = _date(raw["from"], (*path, "from"), faults) if "from" in raw else None
    last = _date(raw["to"], (*path, "to"), faults) if "to" in raw else None
    if ("from" in raw and first is None) or ("to" in raw and last is None):
        return None
    if first and last and last < first:
        faults.add((*path, "to"), "конец (%(last)s) раньше начала (%(first)s)", first=first, last=last)
        return None
    return DateSpan(first, last)


def _window(raw: Mapping[str, Any], path: FieldPath, faults: _Faults) -> Span | None:
    start = _time(raw["from"], (*path, "from"), faults)
    end = _time(raw["to"], (*path, "to"), faults, end=True)
    if start is None or end is None:
        return None
    if end <= start:
        text = "конец (%(end)s) не позже начала (%(start)s); время через полночь запишите двумя окнами"
        faults.add((*path, "to"), text, start=raw["from"], end=raw["to"])
        return None
    return start, end


# --- the bell schedule ----------------------------------------------------------------------------------


def _bells(raw: Any, faults: _Faults) -> Bells | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        text = "ссылка на файл звонков «%(file)s» здесь не читается: нужно само расписание звонков"
        faults.add(("bells",), text, file=raw)
        return None
    week: dict[int, tuple[Period, ...]] = {}
    described: dict[int, int] = {}  # weekday → the entry of `week` that describes it
    for index, entry in enumerate(raw["week"]):
        path = ("bells", "week", index)
        periods = _periods(entry["periods"], (*path, "periods"), faults)
        for place, name in enumerate(entry["days"]):
            number = weekday_number(name)
            if number in described:
                text = "день «%(day)s» уже описан в bells.week[%(other)s]"
                faults.add((*path, "days", place), text, day=name, other=described[number])
                continue
            described[number], week[number] = index, periods
    holidays = [_holiday(h, ("bells", "holidays", i), faults) for i, h in enumerate(raw.get("holidays", []))]
    workdays = _workdays(raw.get("workdays", []), week, faults)
    return Bells(week, tuple(span for span in holidays if span), workdays)


def _periods(entries: Sequence[Mapping[str, Any]], path: FieldPath, faults: _Faults) -> tuple[Period, ...]:
    """Return the day's periods in time order, each checked, none overlapping another."""
    periods: list[tuple[int, Period]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(entries):
        period = _period(raw, (*path, index), faults)
        name = str(raw["name"]).strip()
        if name.casefold() in seen:
            text = "«%(name)s» уже есть в этом дне (periods[%(other)s])"
            faults.add((*path, index, "name"), text, name=name, other=seen[name.casefold()])
        seen.setdefault(name.casefold(), index)
        if period is not None:
            periods.append((index, period))
    periods.sort(key=lambda pair: pair[1].start)
    for (_, before), (index, after) in pairwise(periods):
        if after.start < before.end:
            text = "«%(name)s» начинается в %(start)s, раньше конца «%(other)s» (%(end)s)"
            values = {"name": after.name, "start": clock(after.start), "other": before.name}
            faults.add((*path, index, "start"), text, **values, end=clock(before.end))
    return tuple(period for _, period in periods)


def _period(raw: Mapping[str, Any], path: FieldPath, faults: _Faults) -> Period | None:
    name = str(raw["name"]).strip()
    if name.casefold() in BELL_WORDS:
        text = "«%(name)s» — служебное слово расписания, назовите урок иначе (например «урок 1»)"
        faults.add((*path, "name"), text, name=name)
    start = _time(raw["start"], (*path, "start"), faults)
    end = _time(raw["end"], (*path, "end"), faults, end=True)
    if start is None or end is None:
        return None
    if end <= start:
        text = "«%(name)s» кончается (%(end)s) не позже, чем начинается (%(start)s)"
        faults.add((*path, "end"), text, name=name, start=raw["start"], end=raw["end"])
        return None
    return Period(name, start, end, bool(raw.get("break", False)))


def _holiday(raw: Mapping[str, Any], path: FieldPath, faults: _Faults) -> DateSpan | None:
    return _span({"from": raw["from"], "to": raw["to"]}, path, faults)


def _workdays(
    entries: Sequence[Mapping[str, Any]], week: Mapping[int, tuple[Period, ...]], faults: _Faults
) -> dict[date, int]:
    """Return the transferred workdays: a date → the weekday whose bells it keeps."""
    workdays = {}
    for index, raw in enumerate(entries):
        path = ("bells", "workdays", index)
        day, like = _date(raw["date"], (*path, "date"), faults), weekday_number(raw["like"])
        if not week.get(like):
            faults.add((*path, "like"), "в день «%(day)s» по расписанию звонков нет уроков", day=raw["like"])
        elif day is not None:
            workdays[day] = like
    return workdays


# --- playlists, rules, the screen -----------------------------------------------------------------------


def _playlists(entries: Sequence[Mapping[str, Any]], faults: _Faults) -> dict[str, Playlist]:
    playlists: dict[str, Playlist] = {}
    for index, raw in enumerate(entries):
        path: FieldPath = ("playlists", index)
        name = str(raw["name"]).strip()
        if name.casefold() in playlists:
            faults.add((*path, "name"), "плейлист «%(name)s» уже есть выше", name=name)
            continue
        default = _seconds(raw.get("duration"), (*path, "duration"), faults) or DEFAULT_SECONDS
        items = tuple(_item(item, (*path, "items", place), faults) for place, item in enumerate(raw["items"]))
        if not items:
            faults.add((*path, "items"), "в плейлисте нет ни одного элемента")
            continue
        playlists[name.casefold()] = Playlist(name, items, default)
    return playlists


def _seconds(value: Any, path: FieldPath, faults: _Faults) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= DAY_SECONDS:
        text = "длительность — число секунд больше нуля и не больше суток, а здесь %(value)s"
        faults.add(path, text, value=value)
        return None
    return float(value)


def _item(raw: Mapping[str, Any], path: FieldPath, faults: _Faults) -> Item:
    """Return the item; which of material, sha256, url, text it has is the schema's to check."""
    kind: str | None
    # The sha256 first: a material the controller resolved keeps its id beside its sha256 and kind.
    if "sha256" in raw:
        ref, kind = Ref("sha256", raw["sha256"]), str(raw["kind"])
    elif "material" in raw:
        ref, kind = Ref("material", str(raw["material"])), None
    elif "url" in raw:
        ref, kind = Ref("url", raw["url"]), "page"
    else:
        ref, kind = None, "text"
    return Item(
        kind=kind,
        ref=ref,
        text=raw["text"] if kind == "text" else None,
        duration=_seconds(raw.get("duration"), (*path, "duration"), faults),
        sound=bool(raw.get("sound", False)),
        lesson=bool(raw.get("lesson", False)),
        title=str(raw.get("title", "")),
        pages=tuple(page["sha256"] for page in raw.get("pages", ())),
        fields=dict(raw),
    )


class _Context(NamedTuple):
    bells: Bells | None
    playlists: Mapping[str, Playlist]
    faults: _Faults


def _rule(raw: Mapping[str, Any], index: int, context: _Context) -> Rule:
    path: FieldPath = ("rules", index)
    name = raw["playlist"]
    key = name.strip().casefold() if name is not None else None
    if key is not None and key not in context.playlists:
        known = ", ".join(f"«{p.name}»" for p in context.playlists.values()) or "нет ни одного"
        text = "нет плейлиста «%(name)s»; плейлисты файла: %(known)s"
        context.faults.add((*path, "playlist"), text, name=name, known=known)
    condition = _condition(raw, path, context)
    return Rule(condition, key, int(raw.get("priority", 0)), index)


def _screen(raw: Mapping[str, Any] | None, context: _Context) -> Screen:
    if raw is None:
        return Screen()
    on = None
    if "hours" in raw:
        on = tuple(_condition(c, ("screen", "hours", i), context) for i, c in enumerate(raw["hours"]))
    off = tuple(_condition(c, ("screen", "except", i), context) for i, c in enumerate(raw.get("except", [])))
    return Screen(on, off)


def _condition(raw: Mapping[str, Any], path: FieldPath, context: _Context) -> Condition:
    faults = context.faults
    for key in _NEEDS_BELLS:
        if key in raw and context.bells is None:
            text = "«%(key)s» говорит о звонках, а расписания звонков нет: добавьте поле bells в начало файла"
            faults.add((*path, key), text, key=key)
    days = frozenset(weekday_number(day) for day in raw["days"]) if "days" in raw else None
    dates = None
    if "dates" in raw:
        found = [_span(span, (*path, "dates", i), faults) for i, span in enumerate(raw["dates"])]
        dates = tuple(span for span in found if span)
    during = None
    if "during" in raw:
        during = tuple(_during(word, (*path, "during", i), context) for i, word in enumerate(raw["during"]))
    times = None
    if "times" in raw:
        windows = [_window(window, (*path, "times", i), faults) for i, window in enumerate(raw["times"])]
        times = tuple(window for window in windows if window)
    return Condition(days, dates, raw.get("school_day"), raw.get("holiday"), during, times)


def _during(word: str, path: FieldPath, context: _Context) -> str:
    """Return the casefolded word or period name, checked against the bell schedule."""
    key = word.strip().casefold()
    names = context.bells.names() if context.bells is not None else None
    if key not in BELL_WORDS and names is not None and key not in names:
        known = ", ".join(f"«{name}»" for name in names.values())
        text = "в расписании звонков нет «%(name)s»; есть %(known)s и слова %(words)s"
        context.faults.add(path, text, name=word, known=known, words=", ".join(BELL_WORDS))
    return key
