"""Parity forwards, rate curves, negative rates, ECB crosses, one basis on both legs, the
functional currency, and decisions at full precision. Every expected figure is worked out
by hand beside its case (Decimal, half-even)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.ecb import cross_legs, cross_rate, derive_cross
from core.hedging.curves import RateCurve, curve_from, tenor_days
from core.hedging.functional import functional_figures
from core.hedging.fx import FxMarket, Partner, RateSource, cip_forward, forward_symbol, value_fx_forward
from core.hedging.methods import Band, LegTerms, Outcome, critical_terms, dollar_offset
from core.hedging.regression import regression
from core.mtm_results import MtmException, MtmSnapshot
from core.values import Confidence, Contract, ContractStatus, ExceptionReason, Instrument, ObjectType, Price, Side

D = Decimal
AS_OF = date(2024, 3, 28)
D1 = date(2024, 3, 27)
MATURITY = date(2024, 12, 31)  # 278 days after 2024-03-28
FLAT = {"USD": RateCurve(flat=D("0.05")), "EUR": RateCurve(flat=D("0.035"))}


def forward(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "id": 1,
        "contract_ref": "FXF-1",
        "instrument": Instrument.FX_FORWARD,
        "underlying": "EURUSD",
        "side": Side.SELL,
        "quantity": D("10000000"),
        "unit": "EUR",
        "entry_price": D("1.0956"),
        "currency": "USD",
        "trade_date": date(2024, 1, 2),
        "maturity_date": MATURITY,
        "status": ContractStatus.ACTIVE,
    }
    return Contract(**{**fields, **overrides})


def rate(symbol: str = "EURUSD", value: str = "1.0811", **overrides: Any) -> Price:
    fields: dict[str, Any] = {
        "id": 70,
        "symbol": symbol,
        "price_date": D1,
        "price": D(value),
        "currency": symbol[3:6],
        "unit": symbol[:3],
        "source": "ecb",
        "confidence": Confidence.REFERENCE,
    }
    return Price(**{**fields, **overrides})


def market(*prices: Price, curves: dict[str, RateCurve] | None = None, **kw: Any) -> FxMarket:
    return FxMarket({"EURUSD": D1}, {p.symbol: p for p in prices}, FLAT if curves is None else curves, **kw)


class TestParityForward:
    def test_the_formula(self) -> None:
        # F = 1.0811 * (1 + 0.05 * 278 / 360) / (1 + 0.035 * 278 / 360)
        #   = 1.0811 * 1.0386111111 / 1.0270277778 = 1.0932931869... -> 6 dp 1.093293
        assert cip_forward(D("1.0811"), D("0.05"), D("0.035"), 278) == D("1.093293")

    def test_past_maturity_the_forward_is_the_spot(self) -> None:
        assert cip_forward(D("1.0811"), D("0.05"), D("0.035"), -3) == D("1.081100")

    def test_negative_rates(self) -> None:
        # EURCHF 0.95, CHF -0.75%, EUR 3.5%, 180 days:
        # F = 0.95 * (1 - 0.0075 * 180 / 360) / (1 + 0.035 * 180 / 360) = 0.95 * 0.99625 / 1.0175
        #   = 0.930159705... -> 0.930160
        assert cip_forward(D("0.95"), D("-0.0075"), D("0.035"), 180) == D("0.930160")

    def test_a_forward_without_a_quote_is_valued_by_parity(self) -> None:
        snap = value_fx_forward(forward(), AS_OF, market(rate()))
        assert isinstance(snap, MtmSnapshot)
        # F = 1.093293 (above); DF = 1 / (1 + 0.05 * 278 / 360) = 1 / 1.0386111111
        # MTM = -1 * 10,000,000 * (1.093293 - 1.0956) / 1.0386111111 = 23,070 / 1.0386111111 = 22,212.36
        assert (snap.mtm_value, snap.price_d1, snap.price_id) == (D("22212.36"), D("1.093293"), 70)
        assert {
            k: snap.payload[k]
            for k in ("rate_source", "spot_rate", "spot_price_id", "quote_rate", "base_rate", "cip_days")
        } == {
            "rate_source": "cip",
            "spot_rate": D("1.0811"),
            "spot_price_id": 70,
            "quote_rate": D("0.05"),
            "base_rate": D("0.035"),
            "cip_days": 278,
        }

    def test_a_stored_quote_for_the_tenor_wins(self) -> None:
        quote = rate(forward_symbol("EURUSD", MATURITY), "1.0900", id=71)
        snap = value_fx_forward(forward(), AS_OF, market(rate(), quote))
        assert isinstance(snap, MtmSnapshot)
        # -1 * 10,000,000 * (1.0900 - 1.0956) / 1.0386111111 = 56,000 / 1.0386111111 = 53,918.16
        assert (snap.mtm_value, snap.price_id, snap.payload["rate_source"]) == (D("53918.16"), 71, "forward_quote")

    def test_spot_proxy_only_when_set(self) -> None:
        snap = value_fx_forward(forward(), AS_OF, market(rate(), method=RateSource.SPOT_PROXY))
        assert isinstance(snap, MtmSnapshot)
        # -1 * 10,000,000 * (1.0811 - 1.0956) / 1.0386111111 = 145,000 / 1.0386111111 = 139,609.52
        assert (snap.mtm_value, snap.payload["rate_source"]) == (D("139609.52"), "spot_proxy")

    def test_a_currency_without_a_rate_is_an_exception(self) -> None:
        exc = value_fx_forward(forward(), AS_OF, market(rate(), curves={"USD": FLAT["USD"]}))
        assert isinstance(exc, MtmException)
        assert (exc.reason, exc.details["currencies"]) == (ExceptionReason.RATE_UNAVAILABLE, ["EUR"])


class TestCurves:
    CURVE = RateCurve(points=(("1M", D("0.04")), ("1Y", D("0.05"))))

    def test_tenors_count_from_the_as_of_date(self) -> None:
        # 1M: 2024-04-28, 31 days; 1Y: 2025-03-28, 365 days; 3M from 30 Nov: 28 Feb 2025 (clamped), 90 days
        assert (tenor_days("1M", AS_OF), tenor_days("1Y", AS_OF), tenor_days("3M", date(2024, 11, 30))) == (31, 365, 90)

    @pytest.mark.parametrize(
        ("days", "expected"),
        [
            # between the tenors: 0.04 + (0.05 - 0.04) * (278 - 31) / (365 - 31) = 0.04 + 0.01 * 247 / 334
            #   = 0.04739520958083832335329341317 (not rounded: the forward is rounded once)
            (278, "0.04739520958083832335329341317"),
            (31, "0.04"),
            (10, "0.04"),  # at and before the first tenor: its rate
            (365, "0.05"),
            (400, "0.05"),  # at and beyond the last tenor: its rate (flat)
        ],
    )
    def test_linear_in_time(self, days: int, expected: str) -> None:
        assert self.CURVE.rate_at(AS_OF, days) == D(expected)

    def test_the_interpolated_rate_makes_the_forward(self) -> None:
        curves = {**FLAT, "USD": self.CURVE}
        snap = value_fx_forward(forward(), AS_OF, market(rate(), curves=curves))
        assert isinstance(snap, MtmSnapshot)
        # F = 1.0811 * (1 + 0.0473952096 * 278 / 360) / 1.0270277778 = 1.0911758072 -> 1.091176
        assert (snap.price_d1, snap.payload["quote_rate"]) == (D("1.091176"), D("0.04739520958083832335329341317"))

    @pytest.mark.parametrize("bad", ["1.5", [], [["1Q", "0.01"]], [["1M", "0.01"], ["1M", "0.02"]]])
    def test_bad_curves_are_refused(self, bad: Any) -> None:
        with pytest.raises(ValueError):
            curve_from(bad)


class TestCrosses:
    def test_a_cross_and_its_inverse(self) -> None:
        # GBPUSD = EURUSD / EURGBP = 1.0830 / 0.85735 = 1.2631947279... -> 1.263195
        # USDEUR = 1 / EURUSD = 1 / 1.0830 = 0.9233610341... -> 0.923361
        assert (cross_legs("GBPUSD"), cross_legs("USDEUR")) == (("EURUSD", "EURGBP"), (None, "EURUSD"))
        assert (cross_rate(D("1.0830"), D("0.85735")), cross_rate(D(1), D("1.0830"))) == (D("1.263195"), D("0.923361"))

    def test_rounded_once_at_full_precision(self) -> None:
        # USDJPY = EURJPY / EURUSD = 163.87 / 1.0833 = 151.2692698237... -> 151.269270; rounding EURUSD's
        # inverse first (0.923105) would give 163.87 * 0.923105 = 151.2692164 -> 151.269216
        assert cross_rate(D("163.87"), D("1.0833")) == D("151.269270")

    def test_present_only_when_both_legs_are_and_named_by_their_ids(self) -> None:
        legs = [
            rate("EURUSD", "1.0830", id=11),
            rate("EURGBP", "0.85735", id=12),
            rate("EURUSD", "1.0811", id=13, price_date=AS_OF),
        ]  # no EURGBP on AS_OF
        derived = derive_cross(legs, "GBPUSD")
        # GBPUSD = EURUSD / EURGBP = 1.0830 / 0.85735 = 1.2631947279... -> 1.263195, from rows 11 and 12
        assert [
            (
                c.row.symbol,
                c.row.price_date,
                c.row.price,
                c.row.currency,
                c.row.unit,
                c.numerator_price_id,
                c.denominator_price_id,
            )
            for c in derived
        ] == [("GBPUSD", D1, D("1.263195"), "USD", "GBP", 11, 12)]

    def test_the_inverse_names_its_one_leg(self) -> None:
        # USDEUR = 1 / EURUSD: 1 / 1.0830 = 0.9233610341... -> 0.923361; 1 / 1.0811 = 0.9249837203... -> 0.924984
        derived = derive_cross(
            [rate("EURUSD", "1.0830", id=11), rate("EURUSD", "1.0811", id=13, price_date=AS_OF)], "USDEUR"
        )
        assert [(c.row.price_date, c.row.price, c.numerator_price_id, c.denominator_price_id) for c in derived] == [
            (D1, D("0.923361"), None, 11),
            (AS_OF, D("0.924984"), None, 13),
        ]


class TestOneBasis:
    ITEM = forward(id=5, side=Side.BUY)

    def test_a_quote_for_one_leg_only_is_a_basis_mismatch_for_it(self) -> None:
        quote = rate(forward_symbol("EURUSD", MATURITY), "1.0900", id=71)
        item = forward(id=5, side=Side.BUY, maturity_date=MATURITY + timedelta(days=10))  # no quote for its date
        partners = {
            (ObjectType.HEDGE_CONTRACT, 1): Partner(9, ObjectType.HEDGED_ITEM, item),
            (ObjectType.HEDGED_ITEM, 5): Partner(9, ObjectType.HEDGE_CONTRACT, forward()),
        }
        fx = market(rate(), quote, partners=partners)
        h, i = value_fx_forward(forward(), AS_OF, fx), value_fx_forward(item, AS_OF, fx, ObjectType.HEDGED_ITEM)
        assert isinstance(h, MtmException) and isinstance(i, MtmException)
        assert (h.reason, i.reason) == (ExceptionReason.BASIS_MISMATCH, ExceptionReason.BASIS_MISMATCH)
        assert (h.details["basis"], h.details["other_leg"]["basis"], i.details["basis"]) == (
            "forward_quote",
            "cip",
            "cip",
        )
        assert h.key == "MTMX:hedge_contract:1:2024-03-28:basis_mismatch"

    def test_legs_on_one_basis_are_valued(self) -> None:
        partners = {(ObjectType.HEDGE_CONTRACT, 1): Partner(9, ObjectType.HEDGED_ITEM, self.ITEM)}
        assert isinstance(value_fx_forward(forward(), AS_OF, market(rate(), partners=partners)), MtmSnapshot)


class TestFunctionalCurrency:
    def test_converted_at_the_inverse_rate(self) -> None:
        # 17,340.50 USD in EUR with EURUSD 1.0811: 17,340.50 / 1.0811 = 16,039.6818... -> 16,039.68
        figures = functional_figures(D("17340.50"), "USD", "EUR", {"EURUSD": rate()})
        assert (figures["functional_mtm"], figures["functional_rate_price_id"]) == (D("16039.68"), 70)

    def test_converted_at_the_direct_rate_first(self) -> None:
        # 1,000.00 USD * USDEUR 0.923361 = 923.361 -> 923.36
        figures = functional_figures(
            D("1000.00"), "USD", "EUR", {"USDEUR": rate("USDEUR", "0.923361", id=80), "EURUSD": rate()}
        )
        assert (figures["functional_mtm"], figures["functional_rate_symbol"]) == (D("923.36"), "USDEUR")

    def test_no_rate_says_so(self) -> None:
        assert functional_figures(D("1"), "USD", "CHF", {})["functional_mtm"] is None


BAND = Band(D("0.80"), D("1.25"))


class TestFullPrecision:
    def test_a_ratio_just_above_the_band_fails(self) -> None:
        # -ΔH / ΔI = 1,250,000.40 / 1,000,000.00 = 1.2500004 > 1.25: fail, though it is 1.25 to 6 dp
        test = dollar_offset(D("-1250000.40"), D("1000000.00"), BAND, D("1000"))
        assert (test.outcome, test.ratio) == (Outcome.FAIL, D("1.250000"))
        assert test.reason == "ratio 1.2500004 outside [0.8, 1.25]"

    def test_a_slope_just_outside_the_band_fails(self) -> None:
        # y = -1.2500004 x exactly: slope -1.2500004 < -1.25 (fail) though it is -1.25 to 6 dp; R² = 1
        xs = [D(v) for v in ("-2000", "-1000", "0", "1000", "2000", "500")]
        test = regression(xs, [D("-1.2500004") * x for x in xs], BAND, D("0.80"), D("0.05"), 3)
        assert (test.outcome, test.slope, test.r_squared) == (Outcome.FAIL, D("-1.250000"), D("1"))
        assert test.reason.startswith("slope -1.2500004 outside [-1.25, -0.8]")

    def test_a_small_p_value_keeps_its_digits(self) -> None:
        # ΔI = -ΔH + e, e tiny against ΔH: p far below 1e-6 is stored with 6 significant digits, not as 0
        xs = [D(v) for v in ("-2000", "-1000", "0", "1000", "2000", "3000", "-3000")]
        noise = [D(v) for v in ("3", "-1", "-2", "1", "-1", "2", "-2")]
        test = regression(xs, [-x + e for x, e in zip(xs, noise, strict=True)], BAND, D("0.80"), D("0.05"), 3)
        assert test.outcome is Outcome.PASS and test.p_value is not None
        assert D(0) < test.p_value < D("1E-6") and len(test.p_value.normalize().as_tuple().digits) <= 6

    def test_critical_terms_say_which_term_failed_with_its_figures(self) -> None:
        h = LegTerms("EURUSD", "USD", D("10000000"), date(2025, 3, 31), -1)
        i = LegTerms("EURUSD", "USD", D("10000000"), date(2024, 12, 31), 1)
        outcome, details = critical_terms(h, i, D(1), 30, D("0.05"))
        assert (outcome, details["reason"]) == (
            Outcome.FAIL,
            "failed: maturity 2025-03-31 vs 2024-12-31: 90 days apart, tolerance 30",
        )
