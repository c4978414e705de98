"""FX forward MTM: the formula, discounting after 90 days, the market rate it picks and
the exceptions. Every expected number is worked out by hand beside its case."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.hedging.curves import RateCurve, curves_as_text, curves_from_text
from core.hedging.fx import (
    FxMarket,
    RateSource,
    discount_factor,
    forward_symbol,
    fx_forward_mtm,
    fx_terms_problem,
    value_fx_forward,
    with_forward_symbols,
)
from core.mtm import value_contracts
from core.mtm_results import MtmException, MtmSnapshot
from core.values import Confidence, Contract, ContractStatus, ExceptionReason, Instrument, ObjectType, Price, Side

D = Decimal
AS_OF = date(2024, 1, 31)
D1 = date(2024, 1, 30)


def a_forward(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "id": 7,
        "contract_ref": "FXF-7",
        "instrument": Instrument.FX_FORWARD,
        "underlying": "EURUSD",
        "side": Side.SELL,
        "quantity": D("10000000"),
        "unit": "EUR",
        "entry_price": D("1.095600"),
        "currency": "USD",
        "trade_date": date(2024, 1, 2),
        "maturity_date": AS_OF + timedelta(days=60),
        "status": ContractStatus.ACTIVE,
        "settlement_method": "deliverable",
    }
    return Contract(**{**fields, **overrides})


def a_rate(symbol: str = "EURUSD", price: str = "1.083700", **overrides: Any) -> Price:
    fields: dict[str, Any] = {
        "id": 70,
        "symbol": symbol,
        "price_date": D1,
        "price": D(price),
        "currency": "USD",
        "unit": "EUR",
        "source": "ecb",
        "confidence": Confidence.REFERENCE,
    }
    return Price(**{**fields, **overrides})


def market(*prices: Price, rates: dict[str, Decimal] | None = None) -> FxMarket:
    """The explicit spot-proxy setting (parity: tests/unit/test_hedging_cip.py)."""
    flat = rates if rates is not None else {"USD": D("0.05")}
    return FxMarket(
        {"EURUSD": D1},
        {p.symbol: p for p in prices},
        {c: RateCurve(flat=r) for c, r in flat.items()},
        RateSource.SPOT_PROXY,
    )


class TestFormula:
    @pytest.mark.parametrize(
        ("side", "notional", "market_rate", "forward_rate", "days", "rate", "expected"),
        [
            # sell 10m EUR: -1 * 10,000,000 * (1.0837 - 1.0956) = -1 * 10,000,000 * -0.0119 = 119,000.00
            pytest.param(-1, "10000000", "1.0837", "1.0956", 60, None, "119000.00", id="sell-eur-fell-gains"),
            # buy 10m EUR, same rates: +1 * 10,000,000 * -0.0119 = -119,000.00
            pytest.param(1, "10000000", "1.0837", "1.0956", 60, None, "-119000.00", id="buy-eur-fell-loses"),
            # exactly 90 days remain: not discounted (only *more* than 90 days are)
            pytest.param(-1, "10000000", "1.0837", "1.0956", 90, "0.05", "119000.00", id="90-days-undiscounted"),
            # 91 days: 119,000 / (1 + 0.05 * 91 / 360) = 119,000 / 1.012638889 = 117,514.74
            pytest.param(-1, "10000000", "1.0837", "1.0956", 91, "0.05", "117514.74", id="91-days-discounted"),
            # 335 days: 119,000 / (1 + 0.05 * 335 / 360) = 119,000 / 1.046527778 = 113,709.36
            pytest.param(-1, "10000000", "1.0837", "1.0956", 335, "0.05", "113709.36", id="335-days-discounted"),
            # buy 2.5m GBP, 120 days at 4.5%: 2,500,000 * (1.27125 - 1.2650) = 15,625.00;
            # / (1 + 0.045 * 120 / 360) = 15,625 / 1.015 = 15,394.088... -> 15,394.09
            pytest.param(1, "2500000", "1.27125", "1.2650", 120, "0.045", "15394.09", id="gbp-discounted"),
            # 333,333 * (1.111111 - 1.1) = 3,703.662963 -> half-even 3,703.66
            pytest.param(1, "333333", "1.111111", "1.1", 30, None, "3703.66", id="rounded-half-even"),
            # past maturity (days < 0): never discounted
            pytest.param(-1, "1000", "1.2", "1.1", -5, None, "-100.00", id="past-maturity"),
        ],
    )
    def test_mtm(
        self, side: int, notional: str, market_rate: str, forward_rate: str, days: int, rate: str | None, expected: str
    ) -> None:
        result = fx_forward_mtm(side, D(notional), D(market_rate), D(forward_rate), days, D(rate) if rate else None)
        assert result.mtm == D(expected)
        assert str(result.mtm) == expected  # 2 dp

    def test_the_discount_factor_is_reported_and_the_undiscounted_figure_kept(self) -> None:
        result = fx_forward_mtm(-1, D("10000000"), D("1.0837"), D("1.0956"), 335, D("0.05"))
        # DF = 1 / (1 + 0.05 * 335 / 360) = 0.95554080955... -> 10 dp 0.9555408096
        assert (result.discount_factor, result.undiscounted, result.discounted) == (
            D("0.9555408096"),
            D("119000.00"),
            True,
        )

    def test_discount_factor(self) -> None:
        # 1 / (1 + 0.06 * 180 / 360) = 1 / 1.03 = 0.970873786...
        assert discount_factor(D("0.06"), 180) * D("1.03") == D(1)

    def test_a_zero_mtm_is_not_negative(self) -> None:
        result = fx_forward_mtm(-1, D("1000"), D("1.1"), D("1.1"), 200, D("0.05"))
        assert (str(result.mtm), result.mtm.is_signed()) == ("0.00", False)


class TestValueFxForward:
    def test_spot_stands_in_when_no_forward_rate_is_stored(self) -> None:
        snap = value_fx_forward(a_forward(), AS_OF, market(a_rate()))
        assert isinstance(snap, MtmSnapshot)
        # -1 * 10,000,000 * (1.083700 - 1.095600) = 119,000.00, 60 days: undiscounted
        assert (snap.mtm_value, snap.price_id, snap.price_date, snap.price_d1) == (D("119000.00"), 70, D1, D("1.0837"))
        assert snap.key == "MTM:hedge_contract:7:2024-01-31"
        assert snap.payload["rate_source"] == "spot_proxy"
        assert (snap.payload["quantity_mt"], snap.payload["entry_price"]) == (D("10000000"), D("1.0956"))

    def test_a_stored_forward_rate_for_the_maturity_wins(self) -> None:
        maturity = AS_OF + timedelta(days=60)
        fwd = a_rate(forward_symbol("EURUSD", maturity), "1.090000", id=71, confidence=Confidence.INDICATIVE)
        snap = value_fx_forward(a_forward(), AS_OF, market(a_rate(), fwd))
        assert isinstance(snap, MtmSnapshot)
        # -1 * 10,000,000 * (1.090000 - 1.095600) = 56,000.00
        assert (snap.mtm_value, snap.price_id, snap.payload["rate_source"]) == (D("56000.00"), 71, "forward_quote")
        assert snap.payload["symbol"] == "EURUSD-2024-03-31"

    def test_more_than_90_days_is_discounted_with_the_quote_currency_rate(self) -> None:
        contract = a_forward(maturity_date=date(2024, 12, 31))  # 335 days after 2024-01-31
        snap = value_fx_forward(contract, AS_OF, market(a_rate(), rates={"USD": D("0.05"), "EUR": D("0.04")}))
        assert isinstance(snap, MtmSnapshot)
        # 119,000 / (1 + 0.05 * 335 / 360) = 113,709.36 (the USD rate: the MTM is in USD)
        assert snap.mtm_value == D("113709.36")
        assert {k: snap.payload[k] for k in ("days_to_maturity", "discount_rate", "undiscounted_mtm")} == {
            "days_to_maturity": 335,
            "discount_rate": D("0.05"),
            "undiscounted_mtm": D("119000.00"),
        }

    @pytest.mark.parametrize(
        ("prices", "contract", "rates", "reason"),
        [
            pytest.param((), a_forward(), None, ExceptionReason.PRICE_UNAVAILABLE, id="no-rate"),
            pytest.param(
                (a_rate(currency="GBP"),), a_forward(), None, ExceptionReason.CURRENCY_MISMATCH, id="currency"
            ),
            pytest.param((a_rate(unit="USD"),), a_forward(), None, ExceptionReason.UNIT_MISMATCH, id="unit"),
            pytest.param(
                (a_rate(),),
                a_forward(maturity_date=date(2024, 12, 31)),
                {},
                ExceptionReason.DISCOUNT_RATE_UNAVAILABLE,
                id="no-discount-rate-beyond-90-days",
            ),
        ],
    )
    def test_exceptions(
        self, prices: tuple[Price, ...], contract: Contract, rates: dict[str, Decimal] | None, reason: ExceptionReason
    ) -> None:
        exc = value_fx_forward(contract, AS_OF, market(*prices, rates=rates))
        assert isinstance(exc, MtmException)
        assert (exc.reason, exc.key) == (reason, f"MTMX:hedge_contract:7:2024-01-31:{reason.value}")
        assert exc.details["price_date"] == D1

    def test_within_90_days_no_discount_rate_is_needed(self) -> None:
        assert isinstance(value_fx_forward(a_forward(), AS_OF, market(a_rate(), rates={})), MtmSnapshot)

    def test_a_hedged_item_is_keyed_as_one(self) -> None:
        snap = value_fx_forward(a_forward(side=Side.BUY), AS_OF, market(a_rate()), ObjectType.HEDGED_ITEM)
        assert isinstance(snap, MtmSnapshot)
        # the opposite side: +1 * 10,000,000 * (1.0837 - 1.0956) = -119,000.00
        assert (snap.key, snap.mtm_value, snap.payload["object_type"]) == (
            "MTM:hedged_item:7:2024-01-31",
            D("-119000.00"),
            "hedged_item",
        )


class TestDispatch:
    def test_value_contracts_sends_fx_forwards_to_fx_and_skips_what_does_not_revalue(self) -> None:
        book = [
            a_forward(id=1),
            a_forward(id=2, status=ContractStatus.DESIGNATED),
            a_forward(id=3, status=ContractStatus.DE_DESIGNATED),
            a_forward(id=4, status=ContractStatus.DRAFT),
            a_forward(id=5, status=ContractStatus.REJECTED),
            a_forward(id=6, status=ContractStatus.SETTLED),
        ]
        valuation = value_contracts(book, AS_OF, D1, {}, market(a_rate()))
        # seed 004: designated, active and de-designated contracts are revalued
        assert [s.contract_id for s in valuation.snapshots] == [1, 2, 3]
        assert (valuation.exceptions, valuation.skipped) == ([], 3)

    def test_without_a_market_an_fx_forward_is_an_exception_not_a_commodity(self) -> None:
        valuation = value_contracts([a_forward()], AS_OF, D1, {"EURUSD": a_rate()})
        assert [e.reason for e in valuation.exceptions] == [ExceptionReason.PRICE_UNAVAILABLE]


@pytest.mark.parametrize(
    ("underlying", "unit", "currency", "problem"),
    [
        ("EURUSD", "EUR", "USD", None),
        ("EUR-USD", "EUR", "USD", "underlying: EUR-USD is not a currency pair"),
        ("EUREUR", "EUR", "EUR", "underlying: EUREUR is not a currency pair"),
        ("EURUSD", "USD", "USD", "unit: USD is not the base currency of EURUSD (EUR)"),
        ("EURUSD", "EUR", "EUR", "currency: EUR is not the quote currency of EURUSD (USD)"),
    ],
)
def test_fx_terms(underlying: str, unit: str, currency: str, problem: str | None) -> None:
    found = fx_terms_problem(underlying, unit, currency)
    assert (found or "").startswith(problem or "") and (found is None) == (problem is None)


def test_forward_symbols_are_read_on_their_pairs_date_and_rates_survive_the_plan() -> None:
    commodity = a_forward(id=9, instrument=Instrument.COMMODITY_FORWARD, underlying="LME-AL")
    dates = with_forward_symbols({"EURUSD": D1, "LME-AL": AS_OF}, [a_forward(), commodity])
    assert dates == {"EURUSD": D1, "LME-AL": AS_OF, "EURUSD-2024-03-31": D1}
    curves = {"USD": RateCurve(flat=D("0.05")), "EUR": RateCurve(points=(("1M", D("0.035")), ("1Y", D("-0.001"))))}
    assert curves_as_text(curves) == {"EUR": [["1M", "0.035"], ["1Y", "-0.001"]], "USD": "0.05"}
    assert curves_from_text(curves_as_text(curves)) == curves
