"""The retrospective test methods of a designation, on values already read: dollar offset
and critical terms (regression: core.hedging.regression), and the parameters a dossier
locks for them. Outcomes are returned values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from core.canonical import normalise_decimal as text
from core.hedging.policy import HedgingPolicy

RATIO_QUANTUM = Decimal("0.000001")


class Method(StrEnum):
    DOLLAR_OFFSET = "dollar_offset"
    REGRESSION = "regression"
    CRITICAL_TERMS = "critical_terms"


class OffsetBasis(StrEnum):
    """Dollar offset since designation (cumulative) or since the last test (periodic)."""

    CUMULATIVE = "cumulative"
    PERIODIC = "periodic"


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT_DATA = "insufficient_data"


def ratio6(value: Decimal) -> Decimal:
    """Ratios, slopes and R² are stored and shown to 6 dp, half-even; decisions are taken
    on the unrounded value (a ratio of 1.2500004 is outside a band ending at 1.25)."""
    return value.quantize(RATIO_QUANTUM, rounding=ROUND_HALF_EVEN)


def shown(value: Decimal) -> str:
    """A figure as a reason shows it: to 10 dp, so that what decided is visible."""
    return text(value.quantize(Decimal("1E-10"), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Band:
    """The policy band of the effectiveness ratio, both ends included (default 0.80-1.25)."""

    low: Decimal
    high: Decimal

    def contains(self, value: Decimal) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, Decimal]:
        return {"min": self.low, "max": self.high}


@dataclass(frozen=True, slots=True)
class MethodParameters:
    """The method parameters a designation version locks in its dossier: the policy's
    defaults, with those its file gives in their place; a later policy change moves none."""

    band: Band
    #: Dollar offset: |ΔI| below this (in the legs' currency) is inconclusive.
    materiality_floor: Decimal
    #: Regression: the most recent changes used, the fewest that make a test, the fit asked.
    regression_window: int
    min_observations: int
    r_squared_min: Decimal
    p_value_max: Decimal
    #: Critical terms: maturities at most this many days apart, notionals within this fraction.
    maturity_tolerance_days: int
    notional_tolerance: Decimal

    @classmethod
    def locked(cls, policy: HedgingPolicy, given: Mapping[str, Any]) -> MethodParameters:
        """The policy's defaults, each replaced by the value `given` under its name (None: left out)."""
        defaults = cls(
            Band(policy.band_min, policy.band_max),
            policy.materiality_floor,
            policy.regression_window,
            policy.min_observations,
            policy.r_squared_min,
            policy.p_value_max,
            policy.maturity_tolerance_days,
            policy.notional_tolerance,
        )
        return replace(defaults, **{name: value for name, value in given.items() if value is not None})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_payload(self) -> dict[str, Any]:
        """By name, as a dossier's payload holds them (the band as {min, max})."""
        return {name: getattr(self, name) for name in self.names()} | {"band": self.band.as_dict()}


@dataclass(frozen=True, slots=True)
class OffsetTest:
    outcome: Outcome
    ratio: Decimal | None
    reason: str


def dollar_offset(delta_h: Decimal, delta_i: Decimal, band: Band, floor: Decimal) -> OffsetTest:
    """ratio = -ΔH / ΔI; decided at full precision (28 digits), stored 6 dp half-even.

    ΔH: change of the hedging instrument's MTM, ΔI: change of the hedged item's (at the
    hedge ratio), both money in the same currency over the same period. |ΔI| below the
    materiality `floor` is `inconclusive` (too small to judge); changes of the same sign
    are `fail` (no offset at all); else `pass` when the unrounded ratio is inside `band`.
    """
    if abs(delta_i) < floor or delta_i == 0:
        return OffsetTest(
            Outcome.INCONCLUSIVE, None, f"|ΔI| {text(abs(delta_i))} is below the materiality floor {text(floor)}"
        )
    exact = -delta_h / delta_i
    ratio = ratio6(exact)
    if delta_h != 0 and (delta_h > 0) == (delta_i > 0):
        return OffsetTest(
            Outcome.FAIL, ratio, f"ΔH {text(delta_h)} and ΔI {text(delta_i)} have the same sign: no offset"
        )
    where = "inside" if band.contains(exact) else "outside"
    outcome = Outcome.PASS if band.contains(exact) else Outcome.FAIL
    return OffsetTest(outcome, ratio, f"ratio {shown(exact)} {where} [{text(band.low)}, {text(band.high)}]")


@dataclass(frozen=True, slots=True)
class LegTerms:
    """The critical terms of one leg: what it is on, in which currency, how much, when."""

    underlying: str
    currency: str
    quantity: Decimal
    maturity: date
    side_sign: int


def critical_terms(
    instrument: LegTerms, item: LegTerms, hedge_ratio: Decimal, tolerance_days: int, notional_tolerance: Decimal
) -> tuple[Outcome, dict[str, Any]]:
    """Pass when every term matches: the same underlying and currency; maturities at most
    `tolerance_days` apart; the instrument's notional within `notional_tolerance` of the
    designated part of the item, |Q_H - ratio * Q_I| / (ratio * Q_I); opposite sides."""
    designated = hedge_ratio * item.quantity
    days_apart = abs((instrument.maturity - item.maturity).days)
    exact_gap = abs(instrument.quantity - designated) / designated
    gap = ratio6(exact_gap)
    terms: dict[str, Any] = {
        "underlying": {
            "instrument": instrument.underlying,
            "item": item.underlying,
            "match": instrument.underlying == item.underlying,
        },
        "currency": {
            "instrument": instrument.currency,
            "item": item.currency,
            "match": instrument.currency == item.currency,
        },
        "maturity": {
            "instrument": instrument.maturity,
            "item": item.maturity,
            "days_apart": days_apart,
            "tolerance_days": tolerance_days,
            "match": days_apart <= tolerance_days,
        },
        "notional": {
            "instrument": instrument.quantity,
            "item_designated": designated,
            "difference": gap,
            "tolerance": notional_tolerance,
            "match": exact_gap <= notional_tolerance,
        },
        "sides": {
            "instrument": instrument.side_sign,
            "item": item.side_sign,
            "match": instrument.side_sign == -item.side_sign,
        },
    }
    failed = [name for name, term in terms.items() if not term["match"]]
    outcome = Outcome.FAIL if failed else Outcome.PASS
    return outcome, {**terms, "failed_terms": failed, "reason": _terms_reason(terms, failed)}


def _terms_reason(terms: dict[str, Any], failed: list[str]) -> str:
    """Which terms failed, with their figures (or that all matched)."""
    if not failed:
        return "all critical terms match"
    said = {
        "underlying": lambda t: f"underlying {t['instrument']} vs {t['item']}",
        "currency": lambda t: f"currency {t['instrument']} vs {t['item']}",
        "maturity": lambda t: (
            f"maturity {t['instrument']} vs {t['item']}: {t['days_apart']} days apart, tolerance {t['tolerance_days']}"
        ),
        "notional": lambda t: (
            f"notional {text(t['instrument'])} vs {text(t['item_designated'])} designated: "
            f"difference {text(t['difference'])}, tolerance {text(t['tolerance'])}"
        ),
        "sides": lambda t: f"sides {t['instrument']} and {t['item']} are not opposite",
    }
    return "failed: " + "; ".join(said[name](terms[name]) for name in failed)
