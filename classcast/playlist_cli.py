"""`python -m classcast.playlist`: check schedule files, or print one's day, in Russian (school IT, CI).

python -m classcast.playlist check FILE…          every fault of each file; exit 1 if any
python -m classcast.playlist day FILE YYYY-MM-DD  what the screen does that day, hour by hour
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TextIO

from classcast.playlist import Schedule
from classcast.playlist_check import check_file, read_file
from classcast.playlist_model import WEEKDAYS_RU, ScheduleInvalid, clock

USAGE = """\
Проверка расписаний экранов ClassCast (docs/playlists.md).

  python -m classcast.playlist check ФАЙЛ…           найти все ошибки в файлах
  python -m classcast.playlist day ФАЙЛ ГГГГ-ММ-ДД   показать, что экран делает в этот день
"""


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command; return 0 when all is well, 1 for faults in a file, 2 for a wrong command line."""
    args = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    if len(args) >= 2 and args[0] == "check":
        return check(args[1:], out)
    if len(args) == 3 and args[0] == "day":
        return day(Path(args[1]), args[2], out)
    print(USAGE, file=sys.stderr, end="")
    return 2


def check(files: list[str], out: TextIO) -> int:
    """Print every fault of every file, or that it is fine; return 1 when any file has a fault."""
    bad = 0
    for name in files:
        errors = check_file(Path(name))
        for error in errors:
            print(error, file=out)
        if not errors:
            print(f"{name}: ошибок нет", file=out)
        bad += bool(errors)
    print(f"Проверено файлов: {len(files)}, с ошибками: {bad}", file=out)
    return 1 if bad else 0


def day(path: Path, when: str, out: TextIO) -> int:
    """Print the day's plan of a schedule file: each stretch with its playlist and the screen's state."""
    try:
        the_day = date.fromisoformat(when)
    except ValueError:
        print(f"«{when}» — не дата: пишите ГГГГ-ММ-ДД, например 2025-09-01", file=sys.stderr)
        return 2
    try:
        schedule = Schedule.from_dict(read_file(path), str(path))
    except ScheduleInvalid as invalid:
        print(invalid, file=out)
        return 1
    print(f"{path}, {WEEKDAYS_RU[the_day.weekday()]} {the_day.isoformat()}:", file=out)
    for segment in schedule.day_plan(the_day):
        playlist = schedule.playlists[segment.playlist].name if segment.playlist else None
        shown = f"плейлист «{playlist}»" if playlist else "ничего не показывать"
        state = f"экран включён, {shown}" if segment.screen else "экран выключен"
        print(f"  {clock(segment.start)}–{clock(segment.end)}  {state}", file=out)
    return 0
