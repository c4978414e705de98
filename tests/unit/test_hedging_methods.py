"""The three test methods on small hand-made figures: dollar offset, regression, critical
terms. Each expected figure is worked out by hand beside its case."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.hedging.methods import Band, LegTerms, Outcome, critical_terms, dollar_offset
from core.hedging.regression import RegressionTest, regression

D = Decimal
BAND = Band(D("0.80"), D("1.25"))
FLOOR = D("1000.00")


class TestDollarOffset:
    @pytest.mark.parametrize(
        ("delta_h", "delta_i", "outcome", "ratio"),
        [
            # ratio = -ΔH / ΔI = -(-95,000) / 100,000 = 0.95: inside [0.80, 1.25]
            pytest.param("-95000", "100000", Outcome.PASS, "0.95", id="pass"),
            # -(-80,000) / 100,000 = 0.80: the band's ends are inside
            pytest.param("-80000", "100000", Outcome.PASS, "0.8", id="pass-at-the-lower-end"),
            # -(125,000) / -100,000 = 1.25
            pytest.param("125000", "-100000", Outcome.PASS, "1.25", id="pass-at-the-upper-end"),
            # -(-130,000) / 100,000 = 1.30 > 1.25
            pytest.param("-130000", "100000", Outcome.FAIL, "1.3", id="fail-over-offset"),
            # -(-50,000) / 100,000 = 0.50 < 0.80
            pytest.param("-50000", "100000", Outcome.FAIL, "0.5", id="fail-under-offset"),
            # same sign: -(20,000) / 100,000 = -0.20: no offset at all
            pytest.param("20000", "100000", Outcome.FAIL, "-0.2", id="fail-same-sign"),
            # the instrument did not move: -(0) / 100,000 = 0
            pytest.param("0", "100000", Outcome.FAIL, "0", id="fail-instrument-still"),
            # |ΔI| = 999.99 < 1,000.00 floor: too small to judge, whatever ΔH
            pytest.param("-50000", "999.99", Outcome.INCONCLUSIVE, None, id="inconclusive-below-floor"),
            pytest.param("0", "0", Outcome.INCONCLUSIVE, None, id="inconclusive-nothing-moved"),
            # |ΔI| = 1,000.00 is not below the floor: -(-1,000) / 1,000 = 1
            pytest.param("-1000.00", "1000.00", Outcome.PASS, "1", id="at-the-floor-is-tested"),
            # -(-2,000) / 3,000 = 0.6666... -> 6 dp half-even 0.666667
            pytest.param("-2000", "3000", Outcome.FAIL, "0.666667", id="ratio-six-places"),
        ],
    )
    def test_outcomes(self, delta_h: str, delta_i: str, outcome: Outcome, ratio: str | None) -> None:
        test = dollar_offset(D(delta_h), D(delta_i), BAND, FLOOR)
        assert (test.outcome, test.ratio) == (outcome, D(ratio) if ratio else None)

    def test_a_floor_of_zero_still_never_divides_by_zero(self) -> None:
        assert dollar_offset(D("5"), D("0"), BAND, D("0")).outcome is Outcome.INCONCLUSIVE


X = [D(v) for v in ("-2000", "-1000", "0", "1000", "2000")]


def fit(ys: list[str], xs: list[Decimal] = X, least: int = 3) -> RegressionTest:
    return regression(xs, [D(y) for y in ys], BAND, D("0.80"), D("0.05"), least)


class TestRegression:
    def test_pass(self) -> None:
        # x̄ = 0, ȳ = (2100 + 900 + 0 - 1100 - 1900) / 5 = 0
        # Sxy = -2000*2100 - 1000*900 + 0 + 1000*-1100 + 2000*-1900 = -10,000,000
        # Sxx = 2000² + 1000² + 0 + 1000² + 2000² = 10,000,000 -> slope = Sxy / Sxx = -1
        # Syy = 2100² + 900² + 1100² + 1900² = 10,040,000 -> R² = Sxy² / (Sxx * Syy) = 1 / 1.004 = 0.996016
        # t = sqrt(3 * R² / (1 - R²)) = sqrt(750) = 27.39, 3 df: two-sided p = 0.000106856 (6 significant digits)
        test = fit(["2100", "900", "0", "-1100", "-1900"])
        assert (test.outcome, test.n, test.slope, test.intercept, test.r_squared, test.p_value) == (
            Outcome.PASS,
            5,
            D("-1"),
            D("0.00"),
            D("0.996016"),
            D("0.000106856"),
        )

    def test_fail_on_the_slope(self) -> None:
        # y = -0.5 x exactly: slope -0.5 is outside [-1.25, -0.80]; R² = 1, p = 0
        test = fit(["1000", "500", "0", "-500", "-1000"])
        assert (test.outcome, test.slope, test.r_squared) == (Outcome.FAIL, D("-0.5"), D("1"))
        assert test.reason == "slope -0.5 outside [-1.25, -0.8]"

    def test_fail_on_r_squared_and_p(self) -> None:
        # y = -x + e with e = 1000 * (2, -1, -2, -1, 2), orthogonal to x and to 1:
        # y = (4000, 0, -2000, -2000, 0); Sxy = -2000*4000 + 1000*-2000 = -10,000,000 -> slope -1
        # Syy = 4000² + 2000² + 2000² = 24,000,000 -> R² = 10^14 / (10^7 * 2.4 * 10^7) = 0.416667
        # t = sqrt(3 * 0.416667 / 0.583333) = 1.464, 3 df: p = 0.239443
        test = fit(["4000", "0", "-2000", "-2000", "0"])
        assert (test.outcome, test.slope, test.r_squared, test.p_value) == (
            Outcome.FAIL,
            D("-1"),
            D("0.416667"),
            D("0.239443"),
        )
        assert test.reason == "R² 0.4166666667 below 0.8; p 0.239443 not below 0.05"  # 5/12, shown to 10 dp

    def test_insufficient_data_below_the_minimum(self) -> None:
        test = fit(["1", "2"], xs=[D("1"), D("2")], least=3)
        assert (test.outcome, test.n, test.slope) == (Outcome.INSUFFICIENT_DATA, 2, None)

    def test_inconclusive_when_the_instrument_did_not_move(self) -> None:
        test = fit(["1", "2", "3"], xs=[D("5"), D("5"), D("5")])
        assert (test.outcome, test.slope) == (Outcome.INCONCLUSIVE, None)


EXPIRY = date(2024, 12, 31)
HEDGE = LegTerms("EURUSD", "USD", D("10000000"), EXPIRY, -1)  # sold EUR 10m forward
ITEM = LegTerms("EURUSD", "USD", D("10000000"), EXPIRY, 1)  # EUR 10m receivable


class TestCriticalTerms:
    @pytest.mark.parametrize(
        ("hedge", "item", "ratio", "outcome", "failed"),
        [
            pytest.param(HEDGE, ITEM, "1", Outcome.PASS, [], id="all-match"),
            # |2025-01-30 - 2024-12-31| = 30 days: within 30
            pytest.param(
                replace(HEDGE, maturity=EXPIRY + timedelta(days=30)),
                ITEM,
                "1",
                Outcome.PASS,
                [],
                id="maturity-30-days-apart",
            ),
            pytest.param(
                replace(HEDGE, maturity=EXPIRY + timedelta(days=31)),
                ITEM,
                "1",
                Outcome.FAIL,
                ["maturity"],
                id="maturity-31-days-apart",
            ),
            pytest.param(
                replace(HEDGE, maturity=EXPIRY + timedelta(days=90)),
                ITEM,
                "1",
                Outcome.FAIL,
                ["maturity"],
                id="maturity-90-days-after",
            ),
            # |10.5m - 10m| / 10m = 0.05: within 5%
            pytest.param(replace(HEDGE, quantity=D("10500000")), ITEM, "1", Outcome.PASS, [], id="notional-5pct"),
            # |10.6m - 10m| / 10m = 0.06
            pytest.param(
                replace(HEDGE, quantity=D("10600000")), ITEM, "1", Outcome.FAIL, ["notional"], id="notional-6pct"
            ),
            # |5m - 10m| / 10m = 0.50
            pytest.param(
                replace(HEDGE, quantity=D("5000000")), ITEM, "1", Outcome.FAIL, ["notional"], id="half-notional"
            ),
            # designated at a hedge ratio of 0.5: |5m - 0.5 * 10m| / 5m = 0
            pytest.param(replace(HEDGE, quantity=D("5000000")), ITEM, "0.5", Outcome.PASS, [], id="half-at-ratio-0.5"),
            pytest.param(replace(HEDGE, underlying="GBPUSD"), ITEM, "1", Outcome.FAIL, ["underlying"], id="underlying"),
            pytest.param(HEDGE, replace(ITEM, currency="EUR"), "1", Outcome.FAIL, ["currency"], id="currency"),
            pytest.param(replace(HEDGE, side_sign=1), ITEM, "1", Outcome.FAIL, ["sides"], id="same-side-no-hedge"),
        ],
    )
    def test_terms(self, hedge: LegTerms, item: LegTerms, ratio: str, outcome: Outcome, failed: list[str]) -> None:
        result, details = critical_terms(hedge, item, D(ratio), 30, D("0.05"))
        assert (result, details["failed_terms"]) == (outcome, failed)

    def test_details_show_each_term(self) -> None:
        _, details = critical_terms(replace(HEDGE, maturity=EXPIRY + timedelta(days=90)), ITEM, D(1), 30, D("0.05"))
        assert details["maturity"] == {
            "instrument": date(2025, 3, 31),
            "item": EXPIRY,
            "days_apart": 90,
            "tolerance_days": 30,
            "match": False,
        }
