"""Accounting periods (seed 004 Lock 1): calendar months, named "YYYY-MM".

    Period.of(date(2026, 11, 20))            # Period(2026, 11), str() "2026-11"
    Period.parse("2026-11")                  # or PeriodError naming what is wrong
    first_open_period(date(2026, 11, 20), {"2026-11"})   # Period(2026, 12)
    posting_date(date(2026, 11, 20), {"2026-11"})        # date(2026, 12, 1)
    reopen_problem("alice", "Alice ")        # "... two distinct people ..."

A date's entries post in its own period while that is open; once it is closed they post in
the first open period after it, on that period's first day.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class PeriodError(ValueError):
    """A period name that is not "YYYY-MM" with a month 01 to 12."""


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text.strip())
        if match is None:
            raise PeriodError(f"period {text!r}: expected YYYY-MM, e.g. 2026-11")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"period {text!r}: month {month:02d} is not 01 to 12")
        if year < 1:
            raise PeriodError(f"period {text!r}: year 0000 does not exist")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.next().first_day.toordinal() - 1)

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def contains(self, day: date) -> bool:
        return Period.of(day) == self


def period_of(day: date) -> str:
    """The period of `day`, as its name: 2026-11-20 -> "2026-11"."""
    return str(Period.of(day))


def first_open_period(day: date, closed: Collection[Period | str]) -> Period:
    """The period of `day` if it is open, else the first open one after it."""
    shut = {p if isinstance(p, Period) else Period.parse(p) for p in closed}
    period = Period.of(day)
    while period in shut:
        period = period.next()
    return period


def posting_date(day: date, closed: Collection[Period | str]) -> date:
    """Where an entry for `day` lands: `day` itself in an open period, else the first day
    of the first open period after it."""
    period = first_open_period(day, closed)
    return day if period.contains(day) else period.first_day


def reopen_problem(requested_by: str, approved_by: str) -> str | None:
    """Reopening a closed period takes two distinct people (compared without case and
    surrounding blanks): one asks, another approves. None when the rule holds."""
    if not requested_by.strip() or not approved_by.strip():
        return "reopening a period names who asks and who approves"
    if requested_by.strip().casefold() == approved_by.strip().casefold():
        return (
            f"{approved_by.strip()} asked to reopen the period and may not approve it: two distinct people are required"
        )
    return None
