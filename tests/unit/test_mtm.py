"""MTM of commodity contracts: the formula, its rounding, and the valuation of a book.

Every expected number is worked out by hand beside its case; the code only checks it.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from itertools import permutations
from typing import Any

import pytest

from core.mtm import best_price, commodity_mtm, value_contract, value_contracts
from core.mtm_results import SNAPSHOT_FIELDS, SNAPSHOT_KEY, MtmException, MtmSnapshot
from core.values import Confidence, Contract, ContractStatus, ExceptionReason, Instrument, ObjectType, Price, Side

D = Decimal
AS_OF = date(2026, 11, 20)  # Friday
PRICE_DATE = date(2026, 11, 19)  # Thursday, D-1


def a_contract(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "id": 42,
        "contract_ref": "HC-42",
        "instrument": Instrument.COMMODITY_FORWARD,
        "underlying": "LME-AL",
        "side": Side.SELL,
        "quantity": D("125"),
        "unit": "mt",
        "entry_price": D("2612.00"),
        "currency": "USD",
        "trade_date": date(2026, 10, 1),
        "maturity_date": date(2027, 3, 17),
        "status": ContractStatus.ACTIVE,
    }
    return Contract(**{**fields, **overrides})


def a_price(**overrides: Any) -> Price:
    fields: dict[str, Any] = {
        "id": 7,
        "symbol": "LME-AL",
        "price_date": PRICE_DATE,
        "price": D("2563.50"),
        "currency": "USD",
        "unit": "mt",
        "source": "vendor_csv",
        "confidence": Confidence.FIRM,
    }
    return Price(**{**fields, **overrides})


def test_a_zero_mtm_is_never_negative() -> None:
    # sell 50 mt: -1 * 50 * (2500 - 2500) = -0 in Decimal arithmetic; stored and hashed as 0.00
    result = commodity_mtm(-1, D("50"), D("2500"), D("2500"))
    assert (str(result), result.is_signed()) == ("0.00", False)


class TestCommodityMtm:
    @pytest.mark.parametrize(
        ("side", "quantity", "price_d1", "entry_price", "expected"),
        [
            # sell 125 mt: -1 * 125 * (2563.50 - 2612.00) = -1 * 125 * -48.50 = 6062.50
            pytest.param(-1, "125", "2563.50", "2612.00", "6062.50", id="sell-price-fell-gains"),
            # buy 125 mt: +1 * 125 * (2563.50 - 2612.00) = -6062.50
            pytest.param(1, "125", "2563.50", "2612.00", "-6062.50", id="buy-price-fell-loses"),
            # buy 10 mt: +1 * 10 * (2612.00 - 2563.50) = 10 * 48.50 = 485.00
            pytest.param(1, "10", "2612.00", "2563.50", "485.00", id="buy-price-rose-gains"),
            # sell 10 mt: -1 * 10 * (2612.00 - 2563.50) = -485.00
            pytest.param(-1, "10", "2612.00", "2563.50", "-485.00", id="sell-price-rose-loses"),
            # buy 50 mt: +1 * 50 * (2500.00 - 2500.00) = 0.00
            pytest.param(1, "50", "2500.00", "2500.00", "0.00", id="buy-zero-difference"),
            # sell 50 mt: -1 * 50 * (2500.000000 - 2500) = 0.00 (a -0.00 is still zero)
            pytest.param(-1, "50", "2500.000000", "2500", "0.00", id="sell-zero-difference"),
            # half-even, odd cent rounds up: 75.5 * (108.25 - 100.00) = 75.5 * 8.25 = 622.875 -> 622.88
            pytest.param(1, "75.5", "108.25", "100.00", "622.88", id="half-even-odd-cent-up"),
            # half-even, even cent stays: 12.5 * (2510.05 - 2500.00) = 12.5 * 10.05 = 125.625 -> 125.62
            pytest.param(1, "12.5", "2510.05", "2500.00", "125.62", id="half-even-even-cent-down"),
            # half-even, zero cent stays: 0.5 * (102.01 - 100.00) = 0.5 * 2.01 = 1.005 -> 1.00 (half-up: 1.01)
            pytest.param(1, "0.5", "102.01", "100.00", "1.00", id="half-even-zero-cent-down"),
            # half-even on a loss, even cent: -1 * 12.5 * (2510.05 - 2500.00) = -125.625 -> -125.62
            pytest.param(-1, "12.5", "2510.05", "2500.00", "-125.62", id="half-even-negative-even-cent"),
            # half-even on a loss, odd cent: -1 * 75.5 * (108.25 - 100.00) = -622.875 -> -622.88
            pytest.param(-1, "75.5", "108.25", "100.00", "-622.88", id="half-even-negative-odd-cent"),
            # below the half: 3 * (100.333 - 100) = 0.999 -> 1.00; 2 * (100.002 - 100) = 0.004 -> 0.00
            pytest.param(1, "3", "100.333", "100", "1.00", id="above-half-rounds-up"),
            pytest.param(1, "2", "100.002", "100", "0.00", id="below-half-rounds-down"),
            # rounded once, at the end: 1000 * (2500.0005 - 2500) = 0.5 -> 0.50
            # (rounding the difference to cents first would give 1000 * 0.00 = 0.00)
            pytest.param(1, "1000", "2500.0005", "2500", "0.50", id="rounded-once-at-the-end"),
            # big notional: 1,250,000 * (2612.123456 - 2563.500000) = 1,250,000 * 48.623456 = 60,779,320.00
            pytest.param(1, "1250000", "2612.123456", "2563.500000", "60779320.00", id="big-notional"),
            # bigger: -1 * 40,000,000 * (9876.543210 - 1234.567890) = -40,000,000 * 8641.975320
            #       = -345,679,012,800.00
            pytest.param(-1, "40000000", "9876.543210", "1234.567890", "-345679012800.00", id="huge-notional"),
            # big and half-even: 10,000,000.5 * (2500.25 - 2500.00) = 10,000,000.5 * 0.25
            #       = 2,500,000.125 -> 2,500,000.12
            pytest.param(1, "10000000.5", "2500.25", "2500.00", "2500000.12", id="big-notional-half-even"),
        ],
    )
    def test_formula_and_rounding(
        self, side: int, quantity: str, price_d1: str, entry_price: str, expected: str
    ) -> None:
        result = commodity_mtm(side, D(quantity), D(price_d1), D(entry_price))

        assert result == D(expected)
        assert result.as_tuple().exponent == -2  # always money: two decimal places

    @pytest.mark.parametrize(
        "context",
        [
            # 5 digits, half-up: 1234567.891 * 0.01 would be 12346 -> 12346.00 and
            # -1 * 12.5 * 10.05 = -125.625 would be -125.63 -> -125.63
            pytest.param({"prec": 5, "rounding": ROUND_HALF_UP}, id="five-digits-half-up"),
            pytest.param({"prec": 3, "rounding": ROUND_DOWN}, id="three-digits-down"),
        ],
    )
    def test_the_thread_context_changes_nothing(self, context: dict[str, Any]) -> None:
        # The arithmetic runs in core.money.MONEY_CONTEXT (28 digits, half-even), whatever
        # the caller set: 1234567.891 * (100.01 - 100.00) = 12345.67891 -> 12345.68;
        # -1 * 12.5 * (2510.05 - 2500) = -125.625 -> -125.62 (half-even)
        cases = [(1, "1234567.891", "100.01", "100.00", "12345.68"), (-1, "12.5", "2510.05", "2500", "-125.62")]
        with localcontext(**context):
            results = [str(commodity_mtm(side, D(q), D(p), D(e))) for side, q, p, e, _ in cases]
        assert results == [expected for *_, expected in cases]

    def test_buy_and_sell_of_the_same_contract_are_opposite(self) -> None:
        # +1 * 33 * (2563.50 - 2612.00) = -1600.50 and -1 * ... = 1600.50
        buy = commodity_mtm(1, D("33"), D("2563.50"), D("2612.00"))
        sell = commodity_mtm(-1, D("33"), D("2563.50"), D("2612.00"))

        assert (buy, sell) == (D("-1600.50"), D("1600.50"))


class TestValueContract:
    @pytest.mark.parametrize(
        ("side", "quantity", "entry_price", "price", "expected"),
        [
            # sell 125 mt: -1 * 125 * (2563.50 - 2612.00) = 6062.50
            pytest.param(Side.SELL, "125", "2612.00", "2563.50", "6062.50", id="sell"),
            # buy 125 mt: +1 * 125 * (2563.50 - 2612.00) = -6062.50
            pytest.param(Side.BUY, "125", "2612.00", "2563.50", "-6062.50", id="buy"),
            # buy 75.5 mt: +1 * 75.5 * (2508.25 - 2500.00) = 75.5 * 8.25 = 622.875 -> 622.88
            pytest.param(Side.BUY, "75.5", "2500.00", "2508.25", "622.88", id="buy-half-even"),
            # sell 80 mt: -1 * 80 * (2400.00 - 2400.00) = 0.00
            pytest.param(Side.SELL, "80", "2400.00", "2400.00", "0.00", id="sell-zero-difference"),
        ],
    )
    def test_a_priced_contract_gives_a_snapshot(
        self, side: Side, quantity: str, entry_price: str, price: str, expected: str
    ) -> None:
        contract = a_contract(side=side, quantity=D(quantity), entry_price=D(entry_price))

        outcome = value_contract(contract, AS_OF, PRICE_DATE, a_price(price=D(price)))

        assert outcome == MtmSnapshot(
            key="MTM:hedge_contract:42:2026-11-20",
            contract_id=42,
            as_of=AS_OF,
            price_date=PRICE_DATE,
            price_id=7,
            mtm_value=D(expected),
            price_d1=D(price),
            entry_price=D(entry_price),
            quantity=D(quantity),
            currency="USD",
        )

    def test_no_price_is_a_price_unavailable_exception(self) -> None:
        outcome = value_contract(a_contract(), AS_OF, PRICE_DATE, None)

        assert outcome == MtmException(
            key="MTMX:hedge_contract:42:2026-11-20:price_unavailable",
            contract_id=42,
            as_of=AS_OF,
            reason=ExceptionReason.PRICE_UNAVAILABLE,
            details={"symbol": "LME-AL", "price_date": PRICE_DATE},
        )

    def test_a_price_in_another_currency_is_a_currency_mismatch(self) -> None:
        outcome = value_contract(a_contract(currency="USD"), AS_OF, PRICE_DATE, a_price(currency="EUR"))

        assert outcome == MtmException(
            key="MTMX:hedge_contract:42:2026-11-20:currency_mismatch",
            contract_id=42,
            as_of=AS_OF,
            reason=ExceptionReason.CURRENCY_MISMATCH,
            details={"symbol": "LME-AL", "price_date": PRICE_DATE, "price_currency": "EUR", "contract_currency": "USD"},
        )

    def test_a_price_per_another_unit_is_a_unit_mismatch(self) -> None:
        outcome = value_contract(a_contract(unit="mt"), AS_OF, PRICE_DATE, a_price(unit="lb"))

        assert outcome == MtmException(
            key="MTMX:hedge_contract:42:2026-11-20:unit_mismatch",
            contract_id=42,
            as_of=AS_OF,
            reason=ExceptionReason.UNIT_MISMATCH,
            details={"symbol": "LME-AL", "price_date": PRICE_DATE, "price_unit": "lb", "contract_unit": "mt"},
        )

    def test_exception_payload_hash_differs_by_reason(self) -> None:
        unavailable = value_contract(a_contract(), AS_OF, PRICE_DATE, None)
        mismatch = value_contract(a_contract(), AS_OF, PRICE_DATE, a_price(currency="EUR"))

        assert isinstance(unavailable, MtmException) and isinstance(mismatch, MtmException)
        assert unavailable.sha256 != mismatch.sha256
        assert unavailable.key != mismatch.key


class TestValueContracts:
    def test_only_active_contracts_are_valued_and_every_active_one_is_covered(self) -> None:
        contracts = [
            a_contract(id=1, underlying="LME-AL", status=ContractStatus.ACTIVE),
            a_contract(id=2, underlying="LME-AL", status=ContractStatus.CANCELLED),
            a_contract(id=3, underlying="LME-CU", status=ContractStatus.ACTIVE),  # no CU price
            a_contract(id=4, underlying="LME-AL", status=ContractStatus.SETTLED),
            a_contract(id=5, underlying="LME-ZN", status=ContractStatus.ACTIVE, currency="EUR"),
            a_contract(id=6, underlying="LME-ZN", status=ContractStatus.ACTIVE),
        ]
        prices = {"LME-AL": a_price(id=70), "LME-ZN": a_price(id=71, symbol="LME-ZN", price=D("3000.00"))}

        valuation = value_contracts(contracts, AS_OF, PRICE_DATE, prices)

        assert [s.contract_id for s in valuation.snapshots] == [1, 6]
        assert [(e.contract_id, e.reason) for e in valuation.exceptions] == [
            (3, ExceptionReason.PRICE_UNAVAILABLE),
            (5, ExceptionReason.CURRENCY_MISMATCH),
        ]
        assert valuation.skipped == 2
        active = sum(c.status is ContractStatus.ACTIVE for c in contracts)
        assert len(valuation.snapshots) + len(valuation.exceptions) == active

    def test_each_contract_gets_the_price_of_its_own_underlying(self) -> None:
        contracts = [
            a_contract(id=1, underlying="LME-AL", side=Side.BUY, quantity=D("10"), entry_price=D("2500.00")),
            a_contract(id=2, underlying="LME-CU", side=Side.SELL, quantity=D("4"), entry_price=D("9000.00")),
        ]
        prices = {
            "LME-AL": a_price(id=70, symbol="LME-AL", price=D("2563.50")),
            "LME-CU": a_price(id=71, symbol="LME-CU", price=D("9125.25")),
        }

        valuation = value_contracts(contracts, AS_OF, PRICE_DATE, prices)

        assert [(s.contract_id, s.price_id, s.mtm_value) for s in valuation.snapshots] == [
            (1, 70, D("635.00")),  # +1 * 10 * (2563.50 - 2500.00) = 635.00
            (2, 71, D("-501.00")),  # -1 * 4 * (9125.25 - 9000.00) = -501.00
        ]
        assert valuation.exceptions == []

    @pytest.mark.parametrize("status", [ContractStatus.CANCELLED, ContractStatus.SETTLED])
    def test_a_non_active_contract_without_price_is_no_exception(self, status: ContractStatus) -> None:
        valuation = value_contracts([a_contract(status=status)], AS_OF, PRICE_DATE, {})

        assert (valuation.snapshots, valuation.exceptions, valuation.skipped) == ([], [], 1)

    def test_no_contracts_give_an_empty_valuation(self) -> None:
        valuation = value_contracts([], AS_OF, PRICE_DATE, {"LME-AL": a_price()})

        assert (valuation.snapshots, valuation.exceptions, valuation.skipped) == ([], [], 0)


FIRM, INDICATIVE, REFERENCE = Confidence.FIRM, Confidence.INDICATIVE, Confidence.REFERENCE


class TestBestPrice:
    @pytest.mark.parametrize(
        ("candidates", "expected_id"),
        [
            pytest.param([], None, id="none"),
            pytest.param([(1, "vendor_csv", REFERENCE)], 1, id="only-one"),
            # confidence first, even against a better source name and a lower id
            pytest.param(
                [(1, "a_source", REFERENCE), (2, "b_source", INDICATIVE), (3, "z_source", FIRM)],
                3,
                id="firm-beats-indicative-and-reference",
            ),
            pytest.param([(1, "a_source", REFERENCE), (9, "z_source", INDICATIVE)], 9, id="indicative-beats-reference"),
            # same confidence: source name, alphabetical
            pytest.param(
                [(1, "vendor_csv", FIRM), (2, "http_json", FIRM), (3, "ecb", INDICATIVE)],
                2,
                id="same-confidence-source-name",
            ),
            # same confidence and source: the lowest row id
            pytest.param(
                [(12, "vendor_csv", FIRM), (5, "vendor_csv", FIRM), (8, "vendor_csv", FIRM)],
                5,
                id="same-confidence-and-source-lowest-id",
            ),
        ],
    )
    def test_most_trusted_price(self, candidates: list[tuple[int, str, Confidence]], expected_id: int | None) -> None:
        prices = [a_price(id=i, source=s, confidence=c) for i, s, c in candidates]

        chosen = best_price(prices)

        assert (chosen.id if chosen else None) == expected_id

    def test_the_choice_does_not_depend_on_the_order_given(self) -> None:
        prices = [
            a_price(id=4, source="vendor_csv", confidence=INDICATIVE),
            a_price(id=3, source="vendor_csv", confidence=FIRM),
            a_price(id=2, source="http_json", confidence=FIRM),
            a_price(id=1, source="ecb", confidence=REFERENCE),
        ]

        chosen = {best_price(list(order)).id for order in permutations(prices)}  # type: ignore[union-attr]

        assert chosen == {2}

    def test_accepts_any_iterable(self) -> None:
        chosen = best_price(p for p in [a_price(id=3, confidence=INDICATIVE), a_price(id=9, confidence=FIRM)])

        assert chosen is not None and chosen.id == 9


def a_snapshot(**overrides: Any) -> MtmSnapshot:
    fields: dict[str, Any] = {
        "key": "MTM:hedge_contract:42:2026-11-20",
        "contract_id": 42,
        "as_of": AS_OF,
        "price_date": PRICE_DATE,
        "price_id": 7,
        "mtm_value": D("6062.50"),
        "price_d1": D("2563.50"),
        "entry_price": D("2612.00"),
        "quantity": D("125"),
        "currency": "USD",
    }
    return MtmSnapshot(**{**fields, **overrides})


#: One other value for every business field of a snapshot.
CHANGED_BUSINESS_VALUES: dict[str, Any] = {
    "contract_id": 43,
    "as_of": date(2026, 11, 23),
    "price_date": date(2026, 11, 18),
    "price_id": 8,
    "mtm_value": D("6062.51"),
    "price_d1": D("2563.51"),
    "entry_price": D("2612.01"),
    "quantity": D("125.5"),
    "currency": "EUR",
    "object_type": ObjectType.HEDGED_ITEM,
    "extra": {"rate_source": "spot_proxy"},
}


class TestSnapshotPayloadHash:
    def test_the_payload_holds_the_snapshot_fields_of_their_kinds(self) -> None:
        # core.mtm_results.SNAPSHOT_FIELDS names the payload's fields and the columns: the
        # SQL valuation and the benchmark's reference spell each field by its kind.
        snapshot = a_snapshot()

        assert list(snapshot.payload) == list(SNAPSHOT_FIELDS)
        assert {name: type(value) for name, value in snapshot.payload.items()} == dict(SNAPSHOT_FIELDS)
        assert snapshot.key == SNAPSHOT_KEY.format(object_type="hedge_contract", object_id=42, as_of_date="2026-11-20")

    def test_every_business_field_has_a_case(self) -> None:
        # A field added to the snapshot without a case here would go unchecked.
        business = {f.name for f in dataclasses.fields(MtmSnapshot)} - {"key"}

        assert business == set(CHANGED_BUSINESS_VALUES)

    @pytest.mark.parametrize(("name", "value"), list(CHANGED_BUSINESS_VALUES.items()))
    def test_changes_when_a_business_value_changes(self, name: str, value: Any) -> None:
        assert a_snapshot(**{name: value}).sha256 != a_snapshot().sha256

    @pytest.mark.parametrize(
        ("name", "same_value"),
        [
            ("price_d1", D("2563.500000")),  # 2563.50 == 2563.500000
            ("price_d1", D("2563.5")),
            ("mtm_value", D("6062.5")),
            ("mtm_value", D("6062.500")),
            ("entry_price", D("2612")),
            ("entry_price", D("2.612E+3")),
            ("quantity", D("125.000000")),
            ("quantity", D("1.25E+2")),
        ],
    )
    def test_same_when_a_decimal_is_written_with_another_exponent(self, name: str, same_value: Decimal) -> None:
        assert a_snapshot(**{name: same_value}).sha256 == a_snapshot().sha256

    def test_price_written_two_ways_gives_one_hash(self) -> None:
        assert a_snapshot(price_d1=D("2563.5")).sha256 == a_snapshot(price_d1=D("2563.500000")).sha256

    def test_the_key_is_not_part_of_the_payload(self) -> None:
        assert a_snapshot(key="anything else").sha256 == a_snapshot().sha256

    def test_a_sell_at_zero_difference_hashes_like_zero(self) -> None:
        # -1 * 50 * (2500.00 - 2500.00) is -0.00 in Decimal arithmetic: still the value zero
        zero = commodity_mtm(-1, D("50"), D("2500.00"), D("2500.00"))

        assert a_snapshot(mtm_value=zero).sha256 == a_snapshot(mtm_value=D("0.00")).sha256

    def test_snapshot_from_value_contract_has_a_stable_hash(self) -> None:
        first = value_contract(a_contract(), AS_OF, PRICE_DATE, a_price(price=D("2563.5")))
        again = value_contract(a_contract(), AS_OF, PRICE_DATE, a_price(price=D("2563.500000")))

        assert isinstance(first, MtmSnapshot) and isinstance(again, MtmSnapshot)
        assert first.sha256 == again.sha256 == a_snapshot().sha256
