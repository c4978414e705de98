"""A test of one designation at D on hand-made MTM series of both legs: each method and
each outcome, the basis of dollar offset, the hedge ratio, and the result's key and hash."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.hedging.effectiveness import DesignationTerms, Series, assess
from core.hedging.methods import Band, LegTerms, Method, MethodParameters, OffsetBasis, Outcome

D = Decimal
D0, JAN, FEB = date(2024, 1, 2), date(2024, 1, 31), date(2024, 2, 29)
EXPIRY = date(2024, 12, 31)


PARAMS = MethodParameters(
    band=Band(D("0.80"), D("1.25")),
    materiality_floor=D("1000"),
    regression_window=60,
    min_observations=3,
    r_squared_min=D("0.80"),
    p_value_max=D("0.05"),
    maturity_tolerance_days=30,
    notional_tolerance=D("0.05"),
)


def terms(**overrides: Any) -> DesignationTerms:
    """The example designation; an override named as a method parameter goes into its params."""
    locked = {name: overrides.pop(name) for name in MethodParameters.names() if name in overrides}
    fields: dict[str, Any] = {
        "designation_id": 17,
        "version": 2,
        "version_id": 40,
        "method": Method.DOLLAR_OFFSET,
        "designation_date": D0,
        "hedge_ratio": D(1),
        "offset_basis": OffsetBasis.CUMULATIVE,
        "params": replace(PARAMS, **locked),
        "instrument": LegTerms("EURUSD", "USD", D("10000000"), EXPIRY, -1),
        "item": LegTerms("EURUSD", "USD", D("10000000"), EXPIRY, 1),
        "instrument_id": 3,
        "item_id": 4,
    }
    return DesignationTerms(**{**fields, **overrides})


def series(*points: tuple[date, str]) -> Series:
    return {day: D(value) for day, value in points}


# The instrument H and the item I from designation to the end of February.
H = series((D0, "0"), (JAN, "119000"), (FEB, "100000"))
I = series((D0, "0"), (JAN, "-118000"), (FEB, "-85000"))


class TestDollarOffset:
    def test_cumulative_pass(self) -> None:
        result = assess(terms(), FEB, H, I, last_test=JAN)
        # cumulative: ΔH = 100,000 - 0, ΔI = -85,000 - 0: ratio = -100,000 / -85,000 = 1.176471
        assert (result.outcome, result.ratio) == (Outcome.PASS, D("1.176471"))
        assert result.details["cumulative"]["from"] == D0

    def test_periodic_fail_on_the_same_figures(self) -> None:
        result = assess(terms(offset_basis=OffsetBasis.PERIODIC), FEB, H, I, last_test=JAN)
        # periodic since the last test (Jan 31): ΔH = 100,000 - 119,000 = -19,000,
        # ΔI = -85,000 - (-118,000) = 33,000: ratio = 19,000 / 33,000 = 0.575758 < 0.80
        assert (result.outcome, result.ratio) == (Outcome.FAIL, D("0.575758"))
        # both are always computed and kept; the dossier's basis decides
        assert result.details["cumulative"]["outcome"] == Outcome.PASS
        assert (result.details["periodic"]["from"], result.details["periodic"]["delta_h"]) == (JAN, D("-19000"))

    def test_the_first_test_is_periodic_from_the_designation_date(self) -> None:
        result = assess(terms(offset_basis=OffsetBasis.PERIODIC), JAN, H, I, last_test=None)
        # ΔH = 119,000, ΔI = -118,000: ratio = 119,000 / 118,000 = 1.008475
        assert (result.outcome, result.ratio, result.details["periodic"]["from"]) == (Outcome.PASS, D("1.008475"), D0)

    def test_inconclusive_below_the_materiality_floor(self) -> None:
        h, i = series((D0, "0"), (JAN, "-40")), series((D0, "0"), (JAN, "500"))
        result = assess(terms(), JAN, h, i, last_test=None)
        # |ΔI| = 500 < 1,000
        assert (result.outcome, result.ratio) == (Outcome.INCONCLUSIVE, None)

    def test_fail_when_the_legs_move_together(self) -> None:
        h, i = series((D0, "0"), (JAN, "30000")), series((D0, "0"), (JAN, "25000"))
        result = assess(terms(), JAN, h, i, last_test=None)
        # -30,000 / 25,000 = -1.2: same sign, no offset
        assert (result.outcome, result.ratio) == (Outcome.FAIL, D("-1.2"))

    def test_insufficient_data_without_the_designation_date(self) -> None:
        result = assess(terms(), JAN, H, series((JAN, "-118000")), last_test=None)
        assert result.outcome is Outcome.INSUFFICIENT_DATA
        assert result.details["reason"] == "the item has no MTM on 2024-01-02"

    def test_insufficient_data_without_d(self) -> None:
        result = assess(terms(), date(2024, 3, 28), H, I, last_test=FEB)
        assert result.outcome is Outcome.INSUFFICIENT_DATA

    def test_the_hedge_ratio_scales_the_item(self) -> None:
        # a 10m exposure hedged at 0.5 with a 5m forward: ΔH = -59,000, ΔI = 0.5 * 118,000 = 59,000
        h, i = series((D0, "0"), (JAN, "-59000")), series((D0, "0"), (JAN, "118000"))
        result = assess(terms(hedge_ratio=D("0.5")), JAN, h, i, last_test=None)
        # ratio = 59,000 / 59,000 = 1
        assert (result.outcome, result.ratio, result.details["cumulative"]["delta_i"]) == (
            Outcome.PASS,
            D("1"),
            D("59000"),
        )


def daily(values: list[str]) -> Series:
    return {D0 + timedelta(days=n): D(v) for n, v in enumerate(values)}


class TestRegression:
    # H moves by (-2000, -1000, 0, 1000, 2000) from 0; I by (2100, 900, 0, -1100, -1900):
    # the pairs of TestRegression.test_pass in test_hedging_methods (slope -1, R² 0.996016).
    H5 = daily(["0", "-2000", "-3000", "-3000", "-2000", "0"])
    I5 = daily(["0", "2100", "3000", "3000", "1900", "0"])
    LAST = D0 + timedelta(days=5)

    def test_pass(self) -> None:
        result = assess(terms(method=Method.REGRESSION), self.LAST, self.H5, self.I5, None)
        assert (result.outcome, result.slope, result.r_squared, result.p_value, result.n) == (
            Outcome.PASS,
            D("-1"),
            D("0.996016"),
            D("0.000106856"),
            5,
        )
        assert (result.details["first_date"], result.details["last_date"]) == (D0, self.LAST)

    def test_the_window_keeps_the_latest_changes(self) -> None:
        result = assess(terms(method=Method.REGRESSION, regression_window=3), self.LAST, self.H5, self.I5, None)
        # the last 3 changes: ΔH (0, 1000, 2000), ΔI (0, -1100, -1900):
        # x̄ = 1000, ȳ = -1000; Sxy = (-1000)(1000) + 0 + 1000(-900) = -1,900,000; Sxx = 2,000,000
        # slope = -0.95; Syy = 1000² + 100² + 900² = 1,820,000; R² = 1.9² * 10^12 / (2 * 1.82 * 10^12) = 0.991758
        assert (result.n, result.slope, result.r_squared) == (3, D("-0.95"), D("0.991758"))
        assert result.details["first_date"] == D0 + timedelta(days=2)

    def test_insufficient_data(self) -> None:
        result = assess(terms(method=Method.REGRESSION, min_observations=6), self.LAST, self.H5, self.I5, None)
        # 6 dates give 5 changes, fewer than 6
        assert (result.outcome, result.n) == (Outcome.INSUFFICIENT_DATA, 5)

    def test_fail(self) -> None:
        item = daily(["0", "1000", "1500", "1500", "1000", "0"])  # ΔI = -0.5 ΔH exactly
        result = assess(terms(method=Method.REGRESSION), self.LAST, self.H5, item, None)
        assert (result.outcome, result.slope) == (Outcome.FAIL, D("-0.5"))

    def test_inconclusive(self) -> None:
        result = assess(terms(method=Method.REGRESSION), self.LAST, daily(["5"] * 6), self.I5, None)
        assert result.outcome is Outcome.INCONCLUSIVE


class TestCriticalTerms:
    def test_pass_needs_no_series(self) -> None:
        result = assess(terms(method=Method.CRITICAL_TERMS), JAN, {}, {}, None)
        assert (result.outcome, result.details["failed_terms"]) == (Outcome.PASS, [])

    def test_fail(self) -> None:
        late = terms(
            method=Method.CRITICAL_TERMS,
            instrument=LegTerms("EURUSD", "USD", D("10000000"), EXPIRY + timedelta(days=90), -1),
        )
        result = assess(late, JAN, {}, {}, None)
        assert (result.outcome, result.details["failed_terms"]) == (Outcome.FAIL, ["maturity"])


class TestResult:
    def test_key_and_payload(self) -> None:
        result = assess(terms(), FEB, H, I, last_test=JAN)
        assert result.key == "EFF:17:2:2024-02-29"
        assert {k: result.payload[k] for k in ("designation_id", "version", "as_of_date", "outcome")} == {
            "designation_id": 17,
            "version": 2,
            "as_of_date": FEB,
            "outcome": Outcome.PASS,
        }

    def test_the_hash_covers_the_inputs(self) -> None:
        first = assess(terms(), FEB, H, I, last_test=JAN)
        again = assess(terms(), FEB, dict(H), dict(I), last_test=JAN)
        moved = assess(terms(), FEB, {**H, FEB: D("100000.01")}, I, last_test=JAN)
        assert first.sha256 == again.sha256 != moved.sha256

    @pytest.mark.parametrize("change", [{"version": 3}, {"designation_id": 18}])
    def test_another_version_or_designation_is_another_key(self, change: dict[str, int]) -> None:
        assert assess(replace(terms(), **change), FEB, H, I, JAN).key != assess(terms(), FEB, H, I, JAN).key
