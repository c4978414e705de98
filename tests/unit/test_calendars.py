"""D-1: which price date an as-of date needs, under each policy."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.calendars import previous_weekday, price_date_for
from core.values import D1Policy

SATURDAY = 5


class TestBusinessPolicy:
    @pytest.mark.parametrize(
        ("as_of", "as_of_weekday", "expected", "expected_weekday"),
        [
            (date(2026, 11, 16), "Monday", date(2026, 11, 13), "Friday"),
            (date(2026, 11, 17), "Tuesday", date(2026, 11, 16), "Monday"),
            (date(2026, 11, 18), "Wednesday", date(2026, 11, 17), "Tuesday"),
            (date(2026, 11, 19), "Thursday", date(2026, 11, 18), "Wednesday"),
            (date(2026, 11, 20), "Friday", date(2026, 11, 19), "Thursday"),
            (date(2026, 11, 21), "Saturday", date(2026, 11, 20), "Friday"),
            (date(2026, 11, 22), "Sunday", date(2026, 11, 20), "Friday"),
            # across a month end: Monday 1 June 2026 -> Friday 29 May 2026
            (date(2026, 6, 1), "Monday", date(2026, 5, 29), "Friday"),
            # across a year end: Monday 1 January 2024 -> Friday 29 December 2023
            (date(2024, 1, 1), "Monday", date(2023, 12, 29), "Friday"),
            # leap day: Friday 1 March 2024 -> Thursday 29 February 2024
            (date(2024, 3, 1), "Friday", date(2024, 2, 29), "Thursday"),
        ],
    )
    def test_previous_weekday(self, as_of: date, as_of_weekday: str, expected: date, expected_weekday: str) -> None:
        # the weekday names are checked too, so the table cannot lie about its dates
        assert (as_of.strftime("%A"), expected.strftime("%A")) == (as_of_weekday, expected_weekday)

        assert price_date_for(as_of, D1Policy.BUSINESS) == expected
        assert previous_weekday(as_of) == expected

    def test_every_day_of_a_year_gets_the_closest_earlier_weekday(self) -> None:
        for offset in range(366):
            as_of = date(2026, 1, 1) + timedelta(days=offset)

            result = price_date_for(as_of, D1Policy.BUSINESS)

            assert result < as_of
            assert result.weekday() < SATURDAY
            between = [result + timedelta(days=n) for n in range(1, (as_of - result).days)]
            assert all(day.weekday() >= SATURDAY for day in between), as_of


class TestCalendarPolicy:
    @pytest.mark.parametrize(
        ("as_of", "as_of_weekday", "expected", "expected_weekday"),
        [
            (date(2026, 11, 16), "Monday", date(2026, 11, 15), "Sunday"),
            (date(2026, 11, 17), "Tuesday", date(2026, 11, 16), "Monday"),
            (date(2026, 11, 20), "Friday", date(2026, 11, 19), "Thursday"),
            (date(2026, 11, 21), "Saturday", date(2026, 11, 20), "Friday"),
            (date(2026, 11, 22), "Sunday", date(2026, 11, 21), "Saturday"),
            # year end: Monday 1 January 2024 -> Sunday 31 December 2023
            (date(2024, 1, 1), "Monday", date(2023, 12, 31), "Sunday"),
            # leap day: Friday 1 March 2024 -> Thursday 29 February 2024
            (date(2024, 3, 1), "Friday", date(2024, 2, 29), "Thursday"),
        ],
    )
    def test_plain_day_before(self, as_of: date, as_of_weekday: str, expected: date, expected_weekday: str) -> None:
        assert (as_of.strftime("%A"), expected.strftime("%A")) == (as_of_weekday, expected_weekday)

        assert price_date_for(as_of, D1Policy.CALENDAR) == expected


class TestPolicyValues:
    @pytest.mark.parametrize(("text", "policy"), [("business", D1Policy.BUSINESS), ("calendar", D1Policy.CALENDAR)])
    def test_a_setting_names_a_policy(self, text: str, policy: D1Policy) -> None:
        assert D1Policy(text) is policy

    def test_policies_differ_only_after_a_weekend(self) -> None:
        # Wednesday: both give Tuesday; Monday: Friday against Sunday
        wednesday, monday = date(2026, 11, 18), date(2026, 11, 16)

        assert price_date_for(wednesday, D1Policy.BUSINESS) == price_date_for(wednesday, D1Policy.CALENDAR)
        assert price_date_for(monday, D1Policy.BUSINESS) != price_date_for(monday, D1Policy.CALENDAR)
