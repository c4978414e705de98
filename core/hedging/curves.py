"""Interest-rate curves of FX valuation: per currency a flat rate or a term structure of
(tenor, rate) points, interpolated linearly in time.

Rates are annual simple rates on ACT/360 (0.05 = 5%); negative rates are allowed (EUR,
CHF and JPY rates were below zero from 2015 to 2022). A curve's text form is what the
settings and a run's plan (`batch_runs.details["rate_curves"]`) hold: a flat rate
`"0.05"`, or points `[["1M", "0.053"], ["1Y", "0.048"]]` whose tenors are `<n>D`,
`<n>W`, `<n>M` or `<n>Y` counted from the as-of date (months and years on the
calendar, the day clamped to the month's end).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from core.canonical import normalise_decimal

TENOR = re.compile(r"^([1-9][0-9]{0,3})([DWMY])$")
RATE_LIMIT = Decimal(1)  # |rate| below 100% a year


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months, clamped to the last day of the month."""
    year, month = divmod(day.month - 1 + months, 12)
    target_year, target_month = day.year + year, month + 1
    last = calendar.monthrange(target_year, target_month)[1]
    return date(target_year, target_month, min(day.day, last))


def tenor_days(tenor: str, as_of: date) -> int:
    """Days from `as_of` to the end of `tenor` (`3M` from 2024-03-28: 2024-06-28, 92 days)."""
    found = TENOR.match(tenor)
    if found is None:
        raise ValueError(f"tenor {tenor!r} is not <n>D, <n>W, <n>M or <n>Y")
    n, unit = int(found.group(1)), found.group(2)
    if unit == "D":
        return n
    if unit == "W":
        return 7 * n
    end = add_months(as_of, n if unit == "M" else 12 * n)
    return (end - as_of).days


def check_rate(rate: Decimal) -> Decimal:
    if not -RATE_LIMIT < rate < RATE_LIMIT:
        raise ValueError(f"rate {rate} is not between -1 and 1 (0.05 = 5% a year)")
    return rate


@dataclass(frozen=True, slots=True)
class RateCurve:
    """One currency's rates: a flat rate (one point without tenor) or (tenor, rate) points."""

    flat: Decimal | None = None
    points: tuple[tuple[str, Decimal], ...] = ()

    def rate_at(self, as_of: date, days: int) -> Decimal:
        """The annual rate for `days` from `as_of`, at full precision (not rounded).

        Flat: the rate. Points (tenor days t_i from `as_of`): for t_1 <= d <= t_n,
        r(d) = r_1 + (r_2 - r_1) * (d - t_1) / (t_2 - t_1) between the two tenors around d;
        before the first tenor r(d) = r_1 and beyond the last r(d) = r_n (flat extrapolation).
        """
        if self.flat is not None:
            return self.flat
        pillars = sorted((tenor_days(t, as_of), r) for t, r in self.points)
        if days <= pillars[0][0]:
            return pillars[0][1]
        for (t1, r1), (t2, r2) in pairwise(pillars):
            if days <= t2:
                return r1 + (r2 - r1) * Decimal(days - t1) / Decimal(t2 - t1)
        return pillars[-1][1]

    def as_text(self) -> str | list[list[str]]:
        if self.flat is not None:
            return normalise_decimal(self.flat)
        return [[tenor, normalise_decimal(rate)] for tenor, rate in self.points]


def curve_from(value: Any) -> RateCurve:
    """A curve from its text form (a rate, or a list of [tenor, rate] pairs); ValueError if bad."""
    if isinstance(value, (str, int, Decimal)):
        return RateCurve(flat=check_rate(Decimal(str(value))))
    if not isinstance(value, Sequence) or not value:
        raise ValueError("a curve is a rate or a non-empty list of [tenor, rate] points")
    points: list[tuple[str, Decimal]] = []
    for point in value:
        if not isinstance(point, Sequence) or isinstance(point, str) or len(point) != 2:
            raise ValueError(f"a curve point is [tenor, rate], not {point!r}")
        tenor = str(point[0])
        tenor_days(tenor, date(2000, 1, 31))  # checks the spelling
        points.append((tenor, check_rate(Decimal(str(point[1])))))
    if len({t for t, _ in points}) != len(points):
        raise ValueError("a curve names each tenor once")
    return RateCurve(points=tuple(points))


def curves_from(flat: Mapping[str, Decimal], curves: Mapping[str, Any]) -> dict[str, RateCurve]:
    """Flat rates by currency, each replaced by the curve `curves` gives for it."""
    found = {currency: RateCurve(flat=rate) for currency, rate in flat.items()}
    found.update({currency: curve_from(value) for currency, value in curves.items()})
    return found


def curves_as_text(curves: Mapping[str, RateCurve]) -> dict[str, Any]:
    """The curves as a run's plan keeps them (JSON), so every chunk and `verify` value alike."""
    return {currency: curve.as_text() for currency, curve in sorted(curves.items())}


def curves_from_text(text: Mapping[str, Any]) -> dict[str, RateCurve]:
    return {currency: curve_from(value) for currency, value in text.items()}
