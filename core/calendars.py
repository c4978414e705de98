"""Which price date an as-of date needs (D-1)."""
from __future__ import annotations

from datetime import date, timedelta

from core.values import D1Policy

SATURDAY = 5


def previous_weekday(day: date) -> date:
    """The weekday before `day` (Mon -> previous Fri). Holidays come with calendars."""
    prev = day - timedelta(days=1)
    while prev.weekday() >= SATURDAY:
        prev -= timedelta(days=1)
    return prev


def price_date_for(as_of: date, policy: D1Policy) -> date:
    """D-1 for as-of date D: the previous business day, or plain D-1 under `calendar`."""
    if policy is D1Policy.CALENDAR:
        return as_of - timedelta(days=1)
    return previous_weekday(as_of)
