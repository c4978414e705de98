"""The period lock (seed 004 §4.3 Lock 1): accounting periods are calendar months
(`2026-11`); a posting dated in a closed period is refused, and a closed period's
corrections go to the first open period after it. Closing takes one person; reopening
takes two distinct people (as a designation's two approvers: compared without case or
surrounding blanks). Pure: the periods' states are arguments."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from enum import StrEnum

from core.errors import HedgeopsError

PERIOD = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")


class PeriodAction(StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"


class PeriodRefused(HedgeopsError):
    """A close or reopen that the lock's rules refuse (nothing written)."""


def parse_period(text: str) -> str:
    """`2026-11` as given, or ValueError."""
    if not PERIOD.match(text.strip()):
        raise ValueError(f"{text!r}: a period is a calendar month, YYYY-MM")
    return text.strip()


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(period: str) -> date:
    year, month = parse_period(period).split("-")
    return date(int(year), int(month), 1)


def next_period(period: str) -> str:
    start = first_day(period)
    return f"{start.year + start.month // 12:04d}-{start.month % 12 + 1:02d}"


def first_open_period(after: str, is_closed: Callable[[str], bool], *, limit: int = 1200) -> str:
    """The first period after `after` (exclusive) that is not closed."""
    period = next_period(after)
    for _ in range(limit):
        if not is_closed(period):
            return period
        period = next_period(period)
    raise PeriodRefused(f"no open period within {limit} months after {after}")


def change_problem(action: PeriodAction, closed: bool, actor: str, second: str | None, reason: str) -> str | None:
    """Why this close or reopen is refused, or None."""
    if not actor.strip() or not reason.strip():
        return "a person (--by) and a reason (--reason) are required"
    if action is PeriodAction.CLOSE:
        return "the period is already closed" if closed else None
    if not closed:
        return "the period is open: only a closed period can be reopened"
    if second is None or not second.strip():
        return "a reopen needs a second person (--second)"
    if second.strip().casefold() == actor.strip().casefold():
        return f"a reopen needs two distinct people: {actor.strip()} and {second.strip()} are one"
    return None


def refused_posting_reason(period: str) -> str:
    return f"period {period} is closed: a posting dated in it is refused (seed 004 Lock 1)"
