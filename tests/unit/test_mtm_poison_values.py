"""Poison values stay in their row (issue 21, point 7): every product the inputs allow is
exact and rounded once; a value the money column cannot hold is an exception for its own
contract; an amount is bounded once rounded. Figures worked out by hand beside each case."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from core.money import fits_money
from core.mtm import commodity_mtm, value_contracts
from core.mtm_results import MtmException, MtmSnapshot
from core.prices import parse_price_csv
from core.values import Confidence, Contract, ContractStatus, ExceptionReason, Instrument, Price, Side

D = Decimal
AS_OF, D1 = date(2026, 11, 20), date(2026, 11, 19)


def contract(cid: int, quantity: str, entry: str, symbol: str = "LME-AL") -> Contract:
    return Contract(
        id=cid,
        contract_ref=f"HC-{cid}",
        instrument=Instrument.COMMODITY_FORWARD,
        underlying=symbol,
        side=Side.BUY,
        quantity=D(quantity),
        unit="mt",
        entry_price=D(entry),
        currency="USD",
        trade_date=date(2026, 10, 1),
        maturity_date=date(2027, 3, 17),
        status=ContractStatus.ACTIVE,
    )


def price(value: str, symbol: str = "LME-AL", **overrides: Any) -> Price:
    return Price(7, symbol, D1, D(value), "USD", "mt", "vendor_csv", Confidence.FIRM)


def test_a_product_over_10_16_is_rounded_once() -> None:
    # buy 1.000003 mt, price 9999970001116111.666666, entry 0.000001:
    # 1 * 1.000003 * 9999970001116111.666665 = 10000000001026115.014999999995 (exact, 29 digits);
    # half-even to the cent once: .014999999995 -> 10000000001026115.01.
    # In the default 28 digits the product was first rounded to 10000000001026115.01500000000
    # (a tie at the 11th decimal goes to the even 0), then to the cent: .015 -> .02 (odd 1 up).
    result = commodity_mtm(1, D("1.000003"), D("9999970001116111.666666"), D("0.000001"))
    assert result == D("10000000001026115.01")


def test_a_36_digit_product_is_an_exception_for_its_row_and_its_neighbour_is_valued() -> None:
    # quantity 999999999999999999.999999 * (999999999999999999.999999 - 0.000001):
    # about 10^36: in 28 digits, quantizing it to the cent raised InvalidOperation (38 digits).
    book = [contract(1, "999999999999999999.999999", "0.000001"), contract(2, "125", "2612.00", "LME-CU")]
    prices = {"LME-AL": price("999999999999999999.999999"), "LME-CU": price("2563.50", "LME-CU")}
    result = value_contracts(book, AS_OF, D1, prices)
    assert [type(o) for o in (*result.exceptions, *result.snapshots)] == [MtmException, MtmSnapshot]
    exception, snapshot = result.exceptions[0], result.snapshots[0]
    assert (exception.contract_id, exception.reason) == (1, ExceptionReason.VALUE_OUT_OF_RANGE)
    # (999999999999999999.999999 - 0.000001) = 999999999999999999.999998;
    # * 999999999999999999.999999 = 999999999999999999999997000000000000.000001999998 -> to the cent
    assert exception.details["mtm_value"] == "999999999999999999999997000000000000.00"
    # buy 125 mt: 1 * 125 * (2563.50 - 2612.00) = -6062.50
    assert (snapshot.contract_id, snapshot.mtm_value) == (2, D("-6062.50"))


def test_an_mtm_of_10_23_is_an_exception_and_10_22_less_a_cent_is_valued() -> None:
    # contract 1: buy 100000 mt * (999999999999999999.999999 - 0.000001) = 99999999999999999999999.9998
    #   -> 10^23 at the cent: NUMERIC(24, 2) cannot hold it.
    # contract 2: buy 10000 mt * (999999999999999999.999999 - 0) = 9999999999999999999999.99: it fits.
    book = [contract(1, "100000", "0.000001"), contract(2, "10000", "0")]
    prices = {"LME-AL": price("999999999999999999.999999")}
    result = value_contracts(book, AS_OF, D1, prices)
    assert [(e.contract_id, e.reason) for e in result.exceptions] == [(1, ExceptionReason.VALUE_OUT_OF_RANGE)]
    assert [(s.contract_id, s.mtm_value) for s in result.snapshots] == [(2, D("9999999999999999999999.99"))]
    assert not fits_money(D("9999999999999999999999.995"))  # half-even to 10^22.00: does not fit
    assert fits_money(D("-9999999999999999999999.99"))


@pytest.mark.parametrize(
    ("amount", "refused"),
    [
        ("999999999999999999.9999995", True),  # < 10^18 as written; 10^18 at 6 dp (half-even: ...9999995 -> up)
        ("999999999999999999.9999985", False),  # ...999998|5 -> the even 8: 999999999999999999.999998
        ("999999999999999999.999999", False),
    ],
)
def test_an_amount_is_bounded_once_rounded(amount: str, refused: bool) -> None:
    text = f"symbol,price_date,price,currency,unit,price_type\nLME-AL,2026-11-19,{amount},USD,mt,cash_settlement\n"
    text += "LME-CU,2026-11-19,9876.50,USD,mt,cash_settlement\n"
    report = parse_price_csv(text, "p.csv", date(2026, 11, 20))
    assert [r.symbol for _, r in report.rows] == (["LME-CU"] if refused else ["LME-AL", "LME-CU"])
    assert [e.reason for e in report.errors] == (
        ["price: must be less than 1E+18 at 6 decimal places"] if refused else []
    )
