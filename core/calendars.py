"""Business calendars and the D-1 rule: which price date an as-of date needs.

Holiday data comes from the `holidays` package (kept up to date by its maintainers, with
both calendars we need): TARGET as the ECB publishes it (`financial_holidays("XECB")`: no
reference rates on weekends, 1 Jan, Good Friday, Easter Monday, 1 May, 25 and 26 Dec) and
England and Wales bank holidays (`country_holidays("GB", subdiv="ENG")`), which the LME follows.
Currency pairs follow TARGET whatever their first currency: FX rates are the ECB's
reference rates and the crosses derived from them (GBPUSD = EURUSD / EURGBP), present
only on the days both legs are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import holidays

from core.values import D1Policy

SATURDAY = 5


class CalendarName(StrEnum):
    TARGET = "TARGET"
    ENGLAND_WALES = "ENGLAND_WALES"
    WEEKDAYS = "WEEKDAYS"


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekdays that are not holidays of `name`."""

    name: CalendarName
    _holidays: holidays.HolidayBase | None = field(default=None, compare=False, repr=False)

    def is_business_day(self, day: date) -> bool:
        if day.weekday() >= SATURDAY:
            return False
        return self._holidays is None or day not in self._holidays

    def previous_business_day(self, day: date) -> date:
        prev = day - timedelta(days=1)
        while not self.is_business_day(prev):
            prev -= timedelta(days=1)
        return prev

    def business_days(self, first: date, last: date) -> list[date]:
        """Every business day from `first` to `last`, both included."""
        days, day = [], first
        while day <= last:
            if self.is_business_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days


CALENDARS: dict[CalendarName, BusinessCalendar] = {
    CalendarName.TARGET: BusinessCalendar(CalendarName.TARGET, holidays.financial_holidays("XECB")),
    CalendarName.ENGLAND_WALES: BusinessCalendar(
        CalendarName.ENGLAND_WALES, holidays.country_holidays("GB", subdiv="ENG")
    ),
    CalendarName.WEEKDAYS: BusinessCalendar(CalendarName.WEEKDAYS),
}

#: Default calendar by symbol prefix: LME metals follow England and Wales, ECB rates TARGET.
DEFAULT_PREFIXES: dict[str, CalendarName] = {"LME-": CalendarName.ENGLAND_WALES, "EUR": CalendarName.TARGET}
#: A currency pair (`GBPUSD`) or its forward symbol (`GBPUSD-2024-12-31`): TARGET.
CURRENCY_PAIR = re.compile(r"^[A-Z]{6}(-[0-9]{4}-[0-9]{2}-[0-9]{2})?$")


def calendar_named(name: str) -> BusinessCalendar:
    return CALENDARS[CalendarName(name)]


def calendar_for(symbol: str, overrides: Mapping[str, str] | None = None) -> BusinessCalendar:
    """The calendar of a symbol: an exact override, else the longest matching prefix (of the
    overrides, then the defaults), else TARGET for a currency pair, else weekdays."""
    rules = {**{k: v.value for k, v in DEFAULT_PREFIXES.items()}, **(overrides or {})}
    if symbol in rules:
        return calendar_named(rules[symbol])
    prefixes = sorted((p for p in rules if symbol.startswith(p)), key=len, reverse=True)
    if prefixes:
        return calendar_named(rules[prefixes[0]])
    return CALENDARS[CalendarName.TARGET if CURRENCY_PAIR.match(symbol) else CalendarName.WEEKDAYS]


def previous_weekday(day: date) -> date:
    """The weekday before `day` (Mon -> previous Fri), holidays not considered."""
    return CALENDARS[CalendarName.WEEKDAYS].previous_business_day(day)


def price_date_for(as_of: date, policy: D1Policy, calendar: BusinessCalendar | None = None) -> date:
    """D-1 for as-of date D: the previous business day of the price's calendar (weekdays
    when none is given), or plain D-1 under the `calendar` policy."""
    if policy is D1Policy.CALENDAR:
        return as_of - timedelta(days=1)
    return (calendar or CALENDARS[CalendarName.WEEKDAYS]).previous_business_day(as_of)


def d1_dates(
    symbols: Iterable[str], as_of: date, policy: D1Policy, overrides: Mapping[str, str] | None = None
) -> dict[str, date]:
    """The D-1 price date of each symbol for as-of date D, each by its own calendar."""
    return {symbol: price_date_for(as_of, policy, calendar_for(symbol, overrides)) for symbol in set(symbols)}
