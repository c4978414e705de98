"""The SQL valuation against core, differentially: Hypothesis makes books (ties at half a
cent, negative zeros, trailing zeros and exponents, magnitudes around the in-database
limit, tiny quantities), db.mtm_in_database values them on PostgreSQL and core.mtm values
them in Python; every key, value, payload text and hash must be equal, and the statement
must leave to core exactly the contracts at or over the limit.

Each example writes inside one transaction and rolls it back: the database stays empty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.canonical import canonical_form
from core.money import MONEY_LIMIT
from core.mtm import value_contract, value_contracts
from core.mtm_results import SNAPSHOT_FIELDS, MtmSnapshot
from core.plans import KeyRange
from core.values import Confidence, Contract, ContractStatus, ExceptionReason, Instrument, Price, Side
from db.engine import session_factory
from db.models import HedgeContract, SettlementPrice
from db.models import MtmSnapshot as MtmSnapshotRow
from db.mtm_in_database import range_source, value_commodities_in_range
from db.valuations import write_valuation

AS_OF, D1 = date(2026, 11, 20), date(2026, 11, 19)
NOW = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
LIMIT = Decimal("1e16")  # db.mtm_in_database.EXACT_BELOW: |quantity * (price - entry)| below it
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Case:
    """One contract and its own symbol's D-1 price."""

    side: Side
    quantity: Decimal
    entry_price: Decimal
    price: Decimal


def micros(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Decimals of at most 6 places (the columns' scale) from low to high millionths."""
    return st.integers(low, high).map(lambda n: Decimal(n) * MICRO)


@st.composite
def spelled(draw: st.DrawFn, value: Decimal) -> Decimal:
    """The same value spelled another way: six places, normalised (1E+3), trailing zeros."""
    how = draw(st.sampled_from(["as is", "normalised", "trailing zeros"]))
    if how == "normalised":
        return value.normalize()
    return value.quantize(Decimal("1e-9")) if how == "trailing zeros" else value


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["any", "tie", "tiny", "limit", "zero", "poison"]))
    price = draw(micros(1, 10**13))  # up to 10,000,000 a unit
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    if kind == "tie":  # quantity * (price - entry) = an odd number of half cents
        quantity = draw(st.sampled_from(["1", "0.5", "0.25", "0.125", "5", "25", "0.001", "3"]))
        diff = Decimal(draw(st.integers(-(10**5), 10**5)) * 2 + 1) * Decimal("0.005") / Decimal(quantity)
        if diff != diff.quantize(MICRO):  # "3": only some odd numbers of half cents divide
            diff = Decimal("0.125")
        qty = Decimal(quantity)
    elif kind == "tiny":  # a few millionths of a unit: rounds to 0.00 or -0.00
        qty, diff = draw(micros(1, 100)), draw(micros(-(10**9), 10**9))
    elif kind == "limit":  # around 10^16, both sides of it and on it
        qty = Decimal(draw(st.sampled_from([10**8, 10**9, 10**10, 10**11, 10**12])))
        target = draw(st.sampled_from([LIMIT - Decimal("0.01"), LIMIT, LIMIT + 1]) | st.decimals(10**15, 2 * 10**16))
        diff = (target / qty).quantize(MICRO) * draw(st.sampled_from([1, -1]))
    elif kind == "poison":  # issue 21: products up to 10^36, around the money column's 10^22
        qty = draw(micros(10**6, 10**24 - 1) | st.sampled_from([Decimal(10**k) for k in range(3, 18)]))
        price = draw(micros(10**12, 10**24 - 1))
        diff = price - draw(micros(1, 10**24 - 1))
    else:
        qty, diff = draw(micros(1, 10**12)), Decimal(0) if kind == "zero" else draw(micros(-(10**13), 10**13))
    return Case(side, draw(spelled(qty)), draw(spelled(price - diff)), draw(spelled(price)))


EDGES = [
    Case(Side.BUY, Decimal("1"), Decimal("2510"), Decimal("2510.125")),  # 0.125 -> 0.12
    Case(Side.SELL, Decimal("3.000"), Decimal("2510.000000"), Decimal("2510.125")),  # -0.375 -> -0.38
    Case(Side.SELL, Decimal("0.000001"), Decimal("2500"), Decimal("2510.125")),  # -0.000010125 -> 0
    Case(Side.BUY, Decimal("10000000000"), Decimal("0"), Decimal("999999.999999")),  # 10^16 - 10^4: in SQL
    Case(Side.BUY, Decimal("10000000000"), Decimal("1E+6"), Decimal("2000000")),  # exactly 10^16: core's
    Case(Side.SELL, Decimal("1E+2"), Decimal("9800.500000"), Decimal("9875.5")),  # -7550 -> "-7550"
    # issue 21: 10 * (10^22 / 10) = 10^23 beyond NUMERIC(24, 2): value_out_of_range, in core
    Case(Side.BUY, Decimal("100000"), Decimal("0.000001"), Decimal("999999999999999999.999999")),
    # 1.000003 * 9999970001116111.666665 = 10000000001026115.014999999995: .01 (28 digits: .02)
    Case(Side.BUY, Decimal("1.000003"), Decimal("0.000001"), Decimal("9999970001116111.666666")),
    # about 10^36 (InvalidOperation in 28 digits): value_out_of_range
    Case(Side.SELL, Decimal("999999999999999999.999999"), Decimal("0.000001"), Decimal("999999999999999999.999999")),
]


def seed(s: Session, book: list[Case]) -> tuple[list[Contract], list[Price]]:
    """The book's contracts, each with a price of its own symbol, stored in this transaction."""
    contracts, prices = [], []
    for i, case in enumerate(book):
        symbol, maturity = f"S{i}", date(2027, 6, 30)
        stored = SettlementPrice(
            idempotency_key=f"PRICE:{symbol}:{D1}:diff",
            payload={},
            payload_sha256="0" * 64,
            symbol=symbol,
            price_date=D1,
            price=case.price,
            currency="USD",
            unit="mt",
            price_type="cash_settlement",
            source="diff",
            confidence="FIRM",
            fetched_at=NOW,
            created_at=NOW,
        )
        held = HedgeContract(
            contract_ref=f"C{i}",
            instrument=Instrument.COMMODITY_FORWARD.value,
            underlying=symbol,
            side=case.side.value,
            quantity=case.quantity,
            unit="mt",
            entry_price=case.entry_price,
            currency="USD",
            trade_date=D1,
            maturity_date=maturity,
            status=ContractStatus.ACTIVE.value,
            created_at=NOW,
            updated_at=NOW,
        )
        s.add_all([stored, held])
        s.flush()
        prices.append(Price(stored.id, symbol, D1, case.price, "USD", "mt", "diff", Confidence.FIRM))
        contracts.append(
            Contract(
                id=held.id,
                contract_ref=f"C{i}",
                instrument=Instrument.COMMODITY_FORWARD,
                underlying=symbol,
                side=case.side,
                quantity=case.quantity,
                unit="mt",
                entry_price=case.entry_price,
                currency="USD",
                trade_date=D1,
                maturity_date=maturity,
                status=ContractStatus.ACTIVE,
            )
        )
    return contracts, prices


def over_the_limit(case: Case) -> bool:
    """Exactly (60 digits): the statement leaves these to core."""
    exact = Context(prec=60)
    return abs(exact.multiply(case.quantity, exact.subtract(case.price, case.entry_price))) >= LIMIT


def in_sql(s: Session, ids: KeyRange, prices: list[Price]) -> tuple[list[int], dict[str, Any]]:
    """What the statement makes (its rows, payload as text, before any write) and writes."""
    source = range_source(ids, AS_OF, prices, "diff")
    made = s.connection().exec_driver_sql(
        f"WITH {source.ctes} SELECT idempotency_key, payload, payload_sha256, mtm_value FROM {source.relation}",
        dict(source.params),
    )
    texts = {key: (doc, sha, mtm) for key, doc, sha, mtm in made}
    done = value_commodities_in_range(s, ids, AS_OF, prices, batch_run_id=None, now=NOW, correlation_id="diff")
    stored = {r.idempotency_key: r for r in s.scalars(select(MtmSnapshotRow))}
    assert done.counts.processed == done.counts.created == len(texts) == len(stored)
    return done.rest, {key: (*texts[key], stored[key]) for key in stored}


def assert_same(snap: MtmSnapshot, made: tuple[str, str, Decimal, MtmSnapshotRow]) -> None:
    doc, sha, mtm, row = made
    payload, text, core_sha = canonical_form(snap.payload)
    assert (doc, sha) == (text, core_sha)  # the payload's text byte for byte, and its hash
    assert (str(mtm), str(row.mtm_value)) == (str(snap.mtm_value), str(snap.mtm_value))
    assert (row.payload, row.payload_sha256) == (payload, core_sha)
    assert {name: getattr(row, name) for name in SNAPSHOT_FIELDS} == snap.fields  # every column


def left_to_core(s: Session, contracts: list[Contract], prices: list[Price]) -> None:
    """The rows the statement leaves to core are valued there as the chunk values them
    (tasks.valuation: value_contracts, then write_valuation in the same transaction): each is
    a snapshot the column holds or a `value_out_of_range` exception, exactly when the value
    rounded to the cent is >= 10^22, and the write raises no NumericValueOutOfRange."""
    by_symbol = {p.symbol: p for p in prices}
    valuation = value_contracts(contracts, AS_OF, D1, by_symbol)
    exact = Context(prec=80)
    for contract in contracts:
        price = by_symbol[contract.underlying]
        product = exact.multiply(contract.quantity, exact.subtract(price.price, contract.entry_price))
        cents = exact.abs(product).quantize(Decimal("0.01"), context=exact)  # half-even (abs() would round to 28)
        reasons = [e.reason for e in valuation.exceptions if e.contract_id == contract.id]
        values = [exact.abs(v.mtm_value) for v in valuation.snapshots if v.contract_id == contract.id]
        if cents >= MONEY_LIMIT:
            assert (reasons, values) == ([ExceptionReason.VALUE_OUT_OF_RANGE], [])
        else:
            assert (reasons, values) == ([], [cents])
    counts = write_valuation(s, valuation, batch_run_id=None, now=NOW, correlation_id="diff")
    assert (counts.processed, counts.created + counts.exceptions) == (len(contracts), len(contracts))
    s.flush()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=st.lists(cases(), min_size=1, max_size=8))
@example(book=EDGES)
def test_the_sql_valuation_equals_core(pg_url: str, book: list[Case]) -> None:
    with session_factory(pg_url)() as s:
        try:
            contracts, prices = seed(s, book)
            rest, made = in_sql(s, KeyRange(contracts[0].id, contracts[-1].id), prices)
            over = [c.id for c, case in zip(contracts, book, strict=True) if over_the_limit(case)]
            assert rest == over
            for contract, price in zip(contracts, prices, strict=True):
                if contract.id not in over:
                    snap = value_contract(contract, AS_OF, D1, price)
                    assert isinstance(snap, MtmSnapshot) and snap.key in made
                    assert_same(snap, made[snap.key])
            assert len(made) == len(contracts) - len(over)
            left_to_core(s, [c for c in contracts if c.id in over], prices)
        finally:
            s.rollback()
