"""Business calendars and D-1 per symbol, with the dates worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from core.calendars import CalendarName, calendar_for, d1_dates, price_date_for
from core.values import D1Policy

TARGET = calendar_for("EURUSD")
ENGLAND = calendar_for("LME-AL")


@pytest.mark.parametrize(
    "as_of, target, england",
    [
        # Tue 29 Dec 2026: TARGET closed 25 (Fri) and 26 Dec (Sat anyway), open Mon 28 -> 28 Dec;
        # England and Wales: Boxing Day (Sat 26) observed Mon 28, Christmas Fri 25 -> Thu 24 Dec.
        (date(2026, 12, 29), date(2026, 12, 28), date(2026, 12, 24)),
        # Tue 5 May 2026: TARGET closed Fri 1 May only -> Mon 4 May; England and Wales: early May
        # bank holiday Mon 4 May -> Fri 1 May.
        (date(2026, 5, 5), date(2026, 5, 4), date(2026, 5, 1)),
        # Tue 7 Apr 2026: Easter Monday 6 Apr and Good Friday 3 Apr closed on both -> Thu 2 Apr.
        (date(2026, 4, 7), date(2026, 4, 2), date(2026, 4, 2)),
        # Mon 23 Nov 2026: no holiday -> the Friday before, 20 Nov.
        (date(2026, 11, 23), date(2026, 11, 20), date(2026, 11, 20)),
        # Fri 2 Jan 2026: New Year's Day Thu 1 Jan closed on both -> Wed 31 Dec 2025.
        (date(2026, 1, 2), date(2025, 12, 31), date(2025, 12, 31)),
    ],
)
def test_d1_under_target_and_england_and_wales(as_of: date, target: date, england: date) -> None:
    assert price_date_for(as_of, D1Policy.BUSINESS, TARGET) == target
    assert price_date_for(as_of, D1Policy.BUSINESS, ENGLAND) == england


def test_the_calendar_policy_is_plain_d_minus_1_whatever_the_calendar() -> None:
    # Mon 4 May 2026 -> Sun 3 May 2026 under `calendar`, even on a holiday calendar
    assert price_date_for(date(2026, 5, 4), D1Policy.CALENDAR, ENGLAND) == date(2026, 5, 3)


@pytest.mark.parametrize(
    "symbol, overrides, expected",
    [
        ("LME-CU", {}, CalendarName.ENGLAND_WALES),
        ("EURGBP", {}, CalendarName.TARGET),
        ("COMEX-GC", {}, CalendarName.WEEKDAYS),
        ("COMEX-GC", {"COMEX-": "WEEKDAYS", "COMEX-GC": "TARGET"}, CalendarName.TARGET),  # exact beats prefix
        ("LME-NI", {"LME-N": "TARGET"}, CalendarName.TARGET),  # the longer prefix wins
        ("EURUSD", {"EUR": "ENGLAND_WALES"}, CalendarName.ENGLAND_WALES),  # settings over defaults
    ],
)
def test_calendar_of_a_symbol(symbol: str, overrides: dict[str, str], expected: CalendarName) -> None:
    assert calendar_for(symbol, overrides).name is expected


def test_d1_dates_gives_each_symbol_its_own_calendar() -> None:
    assert d1_dates(["LME-AL", "EURUSD"], date(2026, 5, 5), D1Policy.BUSINESS) == {
        "LME-AL": date(2026, 5, 1),
        "EURUSD": date(2026, 5, 4),
    }


def test_business_days_between_two_dates() -> None:
    # 24 Dec 2026 (Thu) to 4 Jan 2027 (Mon) under TARGET: 24, 28, 29, 30, 31 Dec, 4 Jan
    # (25 Dec and 1 Jan closed; 26-27 Dec and 2-3 Jan weekends)
    assert TARGET.business_days(date(2026, 12, 24), date(2027, 1, 4)) == [
        date(2026, 12, 24),
        date(2026, 12, 28),
        date(2026, 12, 29),
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 4),
    ]
