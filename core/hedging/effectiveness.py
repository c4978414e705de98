"""A retrospective effectiveness test of one designation version at as-of date D, on the
MTM series of both legs (hedging instrument H, hedged item I) read up to D."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from core import keys
from core.canonical import payload_sha256
from core.hedging.methods import (
    LegTerms,
    Method,
    MethodParameters,
    OffsetBasis,
    OffsetTest,
    Outcome,
    critical_terms,
    dollar_offset,
)
from core.hedging.regression import regression

Series = Mapping[date, Decimal]  # one leg's MTM by as-of date


@dataclass(frozen=True, slots=True)
class LegSeries:
    """The MTM a test reads of its two legs: instrument `h`, hedged item `i`, by date."""

    h: dict[date, Decimal]
    i: dict[date, Decimal]


@dataclass(frozen=True, slots=True)
class DesignationTerms:
    """What a test needs of a designation version: its locked parameters and both legs."""

    designation_id: int  # the hedge relationship: the same for every version
    version: int
    version_id: int  # the row of this version
    method: Method
    designation_date: date
    hedge_ratio: Decimal
    offset_basis: OffsetBasis
    params: MethodParameters
    instrument: LegTerms
    item: LegTerms
    instrument_id: int  # the MTM series of the instrument: snapshots of this hedge contract
    item_id: int  # and of this hedged item


@dataclass(frozen=True, slots=True)
class EffectivenessResult:
    key: str
    designation_id: int
    version: int
    version_id: int
    as_of: date
    method: Method
    outcome: Outcome
    ratio: Decimal | None
    slope: Decimal | None
    r_squared: Decimal | None
    p_value: Decimal | None
    n: int | None
    details: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        return {
            "designation_id": self.designation_id,
            "version": self.version,
            "as_of_date": self.as_of,
            "method": self.method,
            "outcome": self.outcome,
            "ratio": self.ratio,
            "slope": self.slope,
            "r_squared": self.r_squared,
            "p_value": self.p_value,
            "n": self.n,
            "details": self.details,
        }

    @property
    def sha256(self) -> str:
        return payload_sha256(self.payload)


def dates_needed(terms: DesignationTerms, as_of: date, last_test: date | None) -> set[date]:
    """The MTM dates dollar offset reads of each leg: D, the designation date, the last test."""
    return {as_of, terms.designation_date} | ({last_test} if last_test is not None else set())


def assess(
    terms: DesignationTerms, as_of: date, h: Series, i: Series, last_test: date | None, blocked: str | None = None
) -> EffectivenessResult:
    """Test `terms` at `as_of` with the method locked in its dossier. `h` and `i` hold the
    legs' MTM by date: for dollar offset at least D, the designation date and `last_test`
    when there are snapshots; for regression the dates both legs have, the window's last;
    `last_test` is the date of the previous test of this designation before D, if any;
    `blocked` says why a leg could not be valued on D (basis_mismatch): insufficient_data."""
    if terms.method is Method.CRITICAL_TERMS:
        outcome, details = critical_terms(
            terms.instrument,
            terms.item,
            terms.hedge_ratio,
            terms.params.maturity_tolerance_days,
            terms.params.notional_tolerance,
        )
        return _result(terms, as_of, outcome, details)
    if blocked is not None:
        return _result(terms, as_of, Outcome.INSUFFICIENT_DATA, {"reason": blocked})
    needed = {as_of} if terms.method is Method.REGRESSION else {as_of, terms.designation_date}
    missing = [
        f"{leg} has no MTM on {day}"
        for leg, series in (("the instrument", h), ("the item", i))
        for day in sorted(needed)
        if day not in series
    ]
    if missing:
        return _result(terms, as_of, Outcome.INSUFFICIENT_DATA, {"reason": "; ".join(missing)})
    if terms.method is Method.DOLLAR_OFFSET:
        return _dollar_offset(terms, as_of, h, i, last_test)
    return _regression(terms, as_of, h, i)


def _result(
    terms: DesignationTerms,
    as_of: date,
    outcome: Outcome,
    details: dict[str, Any],
    *,
    ratio: Decimal | None = None,
    slope: Decimal | None = None,
    r_squared: Decimal | None = None,
    p_value: Decimal | None = None,
    n: int | None = None,
) -> EffectivenessResult:
    common = {
        "method": terms.method,
        "outcome": outcome,
        "band": terms.params.band.as_dict(),
        "hedge_ratio": terms.hedge_ratio,
        "designation_date": terms.designation_date,
    }
    return EffectivenessResult(
        keys.effectiveness_key(terms.designation_id, terms.version, as_of),
        terms.designation_id,
        terms.version,
        terms.version_id,
        as_of,
        terms.method,
        outcome,
        ratio,
        slope,
        r_squared,
        p_value,
        n,
        {**common, **details},
    )


def _offset_over(
    terms: DesignationTerms, start: date, end: date, h: Series, i: Series
) -> tuple[OffsetTest, dict[str, Any]]:
    """ΔH = H(end) - H(start); ΔI = hedge_ratio * (I(end) - I(start)); then the ratio test."""
    if start not in h or start not in i:
        test = OffsetTest(Outcome.INSUFFICIENT_DATA, None, f"no MTM of both legs on {start}")
        return test, {"from": start, "to": end, "outcome": test.outcome, "reason": test.reason}
    delta_h = h[end] - h[start]
    delta_i = terms.hedge_ratio * (i[end] - i[start])
    test = dollar_offset(delta_h, delta_i, terms.params.band, terms.params.materiality_floor)
    return test, {
        "from": start,
        "to": end,
        "h_from": h[start],
        "h_to": h[end],
        "i_from": i[start],
        "i_to": i[end],
        "delta_h": delta_h,
        "delta_i": delta_i,
        "ratio": test.ratio,
        "outcome": test.outcome,
        "reason": test.reason,
    }


def _dollar_offset(
    terms: DesignationTerms, as_of: date, h: Series, i: Series, last_test: date | None
) -> EffectivenessResult:
    cumulative = _offset_over(terms, terms.designation_date, as_of, h, i)
    since = (
        last_test if last_test is not None and terms.designation_date <= last_test < as_of else terms.designation_date
    )
    periodic = _offset_over(terms, since, as_of, h, i)
    test, _ = cumulative if terms.offset_basis is OffsetBasis.CUMULATIVE else periodic
    details = {
        "basis": terms.offset_basis,
        "materiality_floor": terms.params.materiality_floor,
        "cumulative": cumulative[1],
        "periodic": periodic[1],
        "reason": test.reason,
    }
    return _result(terms, as_of, test.outcome, details, ratio=test.ratio)


def _regression(terms: DesignationTerms, as_of: date, h: Series, i: Series) -> EffectivenessResult:
    """The last `regression_window` changes between consecutive dates on which both legs
    have an MTM, from the designation date to D, and nothing else; the dates are kept."""
    params = terms.params
    days = sorted(d for d in h.keys() & i.keys() if terms.designation_date <= d <= as_of)
    days = days[-(params.regression_window + 1) :]
    xs = [h[b] - h[a] for a, b in pairwise(days)]
    ys = [terms.hedge_ratio * (i[b] - i[a]) for a, b in pairwise(days)]
    test = regression(xs, ys, params.band, params.r_squared_min, params.p_value_max, params.min_observations)
    details = {
        "window": params.regression_window,
        "min_observations": params.min_observations,
        "r_squared_min": params.r_squared_min,
        "p_value_max": params.p_value_max,
        "first_date": days[0] if days else None,
        "last_date": days[-1] if days else None,
        "dates": days,
        **test.figures(),
        "reason": test.reason,
    }
    return _result(
        terms, as_of, test.outcome, details, slope=test.slope, r_squared=test.r_squared, p_value=test.p_value, n=test.n
    )
