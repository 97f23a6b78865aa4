"""The days a statistic covers: a period (a week by default, any range) and the one before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from classcast.i18n import N_

MAX_DAYS = 731  # two years: longer than any report asks for, short enough to answer in seconds


class PeriodError(ValueError):
    """The period asked for is not one (a bad date, an end before the start, too long)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Period:
    """The days from `start` to `end`, both included."""

    start: date
    end: date

    @classmethod
    def last_week(cls, today: date) -> Period:
        """The last complete week, Monday to Sunday: what a weekly review looks at."""
        start = monday(today) - timedelta(days=7)
        return cls(start, start + timedelta(days=6))

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date) -> Period:
        """Return the period the query names (YYYY-MM-DD); the last complete week when it names none."""
        if not start and not end:
            return cls.last_week(today)
        try:
            first = date.fromisoformat(start) if start else None
            last = date.fromisoformat(end) if end else None
        except ValueError:
            raise PeriodError(N_("Даты периода указываются как ГГГГ-ММ-ДД.")) from None
        first = first or (last - timedelta(days=6) if last else today)
        last = last or min(first + timedelta(days=6), today)
        if last < first:
            raise PeriodError(N_("Конец периода раньше его начала."))
        if (last - first).days + 1 > MAX_DAYS:
            raise PeriodError(N_("Период не может быть длиннее двух лет."))
        return cls(first, last)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def parts(self, today: date) -> tuple[list[date], list[date]]:
        """Return the Mondays of the weeks read whole and the days read one by one.

        A week is read whole when all its days are in the period, or when the days it has outside the
        period are after `today` (they have no figures yet): "this week" costs one row per panel.
        """
        weeks: list[date] = []
        days: list[date] = []
        week = monday(self.start)
        while week <= self.end:
            sunday = week + timedelta(days=6)
            if week >= self.start and (sunday <= self.end or self.end >= today):
                weeks.append(week)
            else:
                days.extend(
                    d for d in (week + timedelta(days=n) for n in range(7)) if self.start <= d <= self.end
                )
            week += timedelta(days=7)
        return weeks, days
