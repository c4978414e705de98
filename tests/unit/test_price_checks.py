"""The pricing variance control (seed 004 §3.2.3, Lock 8: |internal - external| / external
> 1% is flagged), the settings it reads, and the price-decisions file. Every figure is
worked out by hand beside its case (IFRS 13.72-90: fair value from observable inputs; the
control checks the input)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from core.errors import NotAFileOfThisKind
from core.hedging.fx import FxMarket, RateSource, value_fx_forward
from core.mtm import value_contract
from core.mtm_results import MtmException
from core.price_checks import PriceChecks, compare, exceeds, relative_variance, to_verify
from core.price_decisions import parse_price_decisions
from core.values import Confidence, Contract, ContractStatus, ExceptionReason, Instrument, Price, Side

D = Decimal
DAY = date(2026, 11, 19)


def a_price(value: str, source: str = "vendor_csv", **fields: Any) -> Price:
    base: dict[str, Any] = {
        "id": 1 if source == "vendor_csv" else 2,
        "symbol": "EURUSD",
        "price_date": DAY,
        "price": D(value),
        "currency": "USD",
        "unit": "EUR",
        "source": source,
        "confidence": Confidence.FIRM,
    }
    return Price(**{**base, **fields})


class TestVariance:
    @pytest.mark.parametrize(
        ("p", "v", "variance"),
        [
            ("1.0710", "1.0500", "0.0200000000"),  # |1.0710 - 1.05| / 1.05 = 0.021 / 1.05 = 0.02
            ("1.0290", "1.0500", "0.0200000000"),  # |1.029 - 1.05| / 1.05 = 0.021 / 1.05 = 0.02 (below too)
            ("1.05525", "1.0500", "0.0050000000"),  # 0.00525 / 1.05 = 0.005
            ("2614.77", "2563.50", "0.0200000000"),  # 51.27 / 2563.5 = 0.02
            ("1", "3", "0.6666666667"),  # 2 / 3 = 0.666666666666..., half-even to 10 dp
            ("1.05", "1.05", "0E-10"),
        ],
    )
    def test_relative_variance_by_hand(self, p: str, v: str, variance: str) -> None:
        assert relative_variance(D(p), D(v)) == D(variance)
        assert str(relative_variance(D(p), D(v))) == variance

    @pytest.mark.parametrize(
        ("p", "v", "threshold", "flagged"),
        [
            ("1.0710", "1.0500", "0.01", True),  # 2% > 1%
            ("1.05525", "1.0500", "0.01", False),  # 0.5% <= 1%
            ("1.0605", "1.0500", "0.01", False),  # |1.0605 - 1.05| = 0.0105 = 1% exactly: not above
            ("1.060501", "1.0500", "0.01", True),  # 0.010501 > 0.0105
            ("1.0710", "1.0500", "0.025", False),  # 2% <= 2.5% (a symbol's own threshold)
        ],
    )
    def test_above_the_threshold_only(self, p: str, v: str, threshold: str, flagged: bool) -> None:
        assert exceeds(D(p), D(v), D(threshold)) is flagged
        found = compare(a_price(p), a_price(v, "ecb"), D(threshold))
        assert (found is not None) is flagged

    def test_the_variance_carries_both_figures(self) -> None:
        found = compare(a_price("1.0710"), a_price("1.0500", "ecb"), D("0.01"))
        assert found is not None
        details = found.as_details()
        assert (details["price"], details["verification_price"], details["variance"]) == (
            D("1.0710"),
            D("1.0500"),
            D("0.02"),
        )
        assert (details["price_source"], details["verification_source"], details["threshold"]) == (
            "vendor_csv",
            "ecb",
            D("0.01"),
        )

    @pytest.mark.parametrize("other", [{"currency": "EUR"}, {"unit": "USD"}, {"price_date": date(2026, 11, 18)}])
    def test_prices_in_another_currency_unit_or_date_are_not_compared(self, other: dict[str, Any]) -> None:
        assert compare(a_price("1.0710"), a_price("1.0500", "ecb", **other), D("0.01")) is None


class TestSettingsOfChecks:
    checks = PriceChecks(
        verifiers={"EURUSD": "ecb", "EUR*": "ecb_copy", "LME-*": "lme_check"},
        threshold_pct=D(1),
        threshold_pct_by_symbol={"LME-NI": D("2.5"), "LME-*": D(2)},
    )

    @pytest.mark.parametrize(
        ("symbol", "verifier", "threshold"),
        [
            ("EURUSD", "ecb", D("0.01")),  # the exact symbol wins over EUR*; 1% / 100
            ("EURGBP", "ecb_copy", D("0.01")),
            ("LME-NI", "lme_check", D("0.025")),  # 2.5% / 100
            ("LME-AL", "lme_check", D("0.02")),
            ("USDJPY", None, D("0.01")),
        ],
    )
    def test_exact_symbol_then_longest_pattern(self, symbol: str, verifier: str | None, threshold: D) -> None:
        assert (self.checks.verifier_of(symbol), self.checks.threshold_of(symbol)) == (verifier, threshold)

    def test_a_price_from_its_verifier_or_a_person_is_not_verified_again(self) -> None:
        chosen = {
            "EURUSD": a_price("1.05", "ecb"),
            "LME-AL": a_price("2563.5", "vendor_csv", symbol="LME-AL"),
            "LME-CU": a_price("9000", "manual", symbol="LME-CU"),
        }
        assert to_verify(self.checks, chosen) == {"LME-AL": "lme_check"}


def a_contract(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "id": 7,
        "contract_ref": "FXF-7",
        "instrument": Instrument.FX_FORWARD,
        "underlying": "EURUSD",
        "side": Side.SELL,
        "quantity": D("1000000"),
        "unit": "EUR",
        "entry_price": D("1.100000"),
        "currency": "USD",
        "trade_date": date(2026, 10, 1),
        "maturity_date": date(2026, 12, 31),
        "status": ContractStatus.ACTIVE,
    }
    return Contract(**{**fields, **overrides})


class TestValuationOfAnUnverifiedPrice:
    def test_a_commodity_forward_waits(self) -> None:
        price = replace(a_price("2614.77", symbol="LME-AL", unit="mt"), unverified=True)
        contract = a_contract(instrument=Instrument.COMMODITY_FORWARD, underlying="LME-AL", unit="mt")
        outcome = value_contract(contract, date(2026, 11, 20), DAY, price)
        assert isinstance(outcome, MtmException)
        assert (outcome.reason, outcome.details["price_id"]) == (ExceptionReason.PRICE_UNVERIFIED, 1)
        assert outcome.key == "MTMX:hedge_contract:7:2026-11-20:price_unverified"

    def test_an_fx_forward_waits(self) -> None:
        price = replace(a_price("1.0710"), unverified=True)
        market = FxMarket({"EURUSD": DAY}, {"EURUSD": price}, method=RateSource.SPOT_PROXY)
        outcome = value_fx_forward(a_contract(), date(2026, 11, 20), market)
        assert isinstance(outcome, MtmException) and outcome.reason is ExceptionReason.PRICE_UNVERIFIED


HEADER = "symbol,price_date,source,decision,price,decided_by,reason\n"


class TestDecisionsFile:
    @pytest.mark.parametrize(
        ("row", "reason"),
        [
            ("EURUSD,2026-11-19,vendor_csv,replace,,ann,x", "a replace decision needs the price"),
            ("EURUSD,2026-11-19,vendor_csv,accept,1.05,ann,x", "an accept decision takes no price"),
            ("EURUSD,2026-11-19,vendor_csv,approve,,ann,x", "decision"),
            ("EURUSD,2026-11-19,vendor_csv,replace,-1,ann,x", "price"),
            ("EURUSD,2026-11-19,vendor_csv,accept,,ann,", "reason"),
            ("EURUSD,2026-13-19,vendor_csv,accept,,ann,x", "price_date"),
        ],
    )
    def test_bad_rows_are_refused_with_their_reason(self, row: str, reason: str) -> None:
        report = parse_price_decisions(HEADER + row + "\n", "d.csv")
        [error] = report.errors
        assert (error.line, reason in error.reason, report.rows) == (2, True, [])

    def test_a_price_decided_twice_in_one_file_is_refused(self) -> None:
        row = "EURUSD,2026-11-19,vendor_csv,accept,,ann,checked\n"
        report = parse_price_decisions(HEADER + row + row, "d.csv")
        assert [str(e) for e in report.errors] == [
            "d.csv:3: EURUSD 2026-11-19 vendor_csv decided twice (first at line 2)"
        ]

    def test_a_replacement_price_is_read_exactly(self) -> None:
        report = parse_price_decisions(HEADER + "EURUSD,2026-11-19,vendor_csv,replace,1.0505,ann,stale\n", "d.csv")
        [(_line, row)] = report.rows
        assert (row.price, row.decided_by, row.reason) == (D("1.050500"), "ann", "stale")

    def test_another_kind_of_file_is_refused_whole(self) -> None:
        with pytest.raises(NotAFileOfThisKind):
            parse_price_decisions("symbol,price_date,price\nEURUSD,2026-11-19,1.05\n", "prices.csv")
