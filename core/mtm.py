"""Mark-to-market of commodity contracts against their D-1 settlement price; FX forwards
are dispatched to core.hedging.fx."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from core import keys
from core.hedging.fx import FxMarket, value_fx_forward
from core.money import EXACT_CONTEXT, fits_money, money
from core.mtm_results import MtmException, MtmSnapshot, Valuation
from core.values import Contract, ExceptionReason, Instrument, ObjectType, Price


def commodity_mtm(side_sign: int, quantity: Decimal, price_d1: Decimal, entry_price: Decimal) -> Decimal:
    """mtm = side * quantity * (price_d1 - entry_price).

    side is +1 (buy) or -1 (sell); quantity in the contract's unit (metric tonnes for
    metals); prices per unit in the contract's currency. The result is money in that
    currency, rounded half-even to 2 dp once, at the end. The arithmetic runs in
    core.money.EXACT_CONTEXT (60 digits): every product the inputs allow is exact.
    """
    ctx = EXACT_CONTEXT
    return money(ctx.multiply(ctx.multiply(Decimal(side_sign), quantity), ctx.subtract(price_d1, entry_price)))


def value_contract(
    contract: Contract, as_of: date, price_date: date, price: Price | None, oid: ObjectType = ObjectType.HEDGE_CONTRACT
) -> MtmSnapshot | MtmException:
    """Value one contract at `as_of` with the price of `price_date`, or say why not."""
    problem = (ExceptionReason.PRICE_UNAVAILABLE, {}) if price is None else _mismatch(contract, price)
    if problem is not None or price is None:
        reason, extra = problem or (ExceptionReason.PRICE_UNAVAILABLE, {})
        details = {"symbol": contract.underlying, "price_date": price_date, **extra}
        return MtmException(
            keys.mtm_exception_key(oid, contract.id, as_of, reason), contract.id, as_of, reason, details, oid
        )
    return MtmSnapshot(
        key=keys.mtm_snapshot_key(oid, contract.id, as_of),
        contract_id=contract.id,
        as_of=as_of,
        price_date=price_date,
        price_id=price.id,
        mtm_value=commodity_mtm(contract.side.sign, contract.quantity, price.price, contract.entry_price),
        price_d1=price.price,
        entry_price=contract.entry_price,
        quantity=contract.quantity,
        currency=contract.currency,
        object_type=oid,
    )


def out_of_range(snapshot: MtmSnapshot) -> MtmException:
    """A value its column (NUMERIC(24, 2)) cannot hold: an exception for its contract alone,
    the rest of the chunk is valued (issue 21, point 7)."""
    reason = ExceptionReason.VALUE_OUT_OF_RANGE
    oid, cid, as_of = snapshot.object_type, snapshot.contract_id, snapshot.as_of
    details = {"mtm_value": str(snapshot.mtm_value), "limit": "1E+22", "currency": snapshot.currency}
    return MtmException(keys.mtm_exception_key(oid, cid, as_of, reason), cid, as_of, reason, details, oid)


def _mismatch(contract: Contract, price: Price) -> tuple[ExceptionReason, dict[str, Any]] | None:
    """A price in another currency or per another unit cannot value the contract as it is;
    one the variance control holds (`unverified`) does not value it yet."""
    if price.unverified:
        return unverified(price)
    if price.currency != contract.currency:
        return ExceptionReason.CURRENCY_MISMATCH, {
            "price_currency": price.currency,
            "contract_currency": contract.currency,
        }
    if price.unit != contract.unit:
        return ExceptionReason.UNIT_MISMATCH, {"price_unit": price.unit, "contract_unit": contract.unit}
    return None


def unverified(price: Price) -> tuple[ExceptionReason, dict[str, Any]]:
    """A price the pricing variance control flagged and blocks (core.price_checks): the
    contract waits for a person's decision on it."""
    return ExceptionReason.PRICE_UNVERIFIED, {"price_id": price.id, "price_source": price.source}


def value_contracts(
    contracts: Iterable[Contract],
    as_of: date,
    price_date: date | Mapping[str, date],
    prices: Mapping[str, Price],
    fx: FxMarket | None = None,
    oid: ObjectType = ObjectType.HEDGE_CONTRACT,
) -> Valuation:
    """Value every contract whose status revalues; `price_date` is the D-1 date of every
    symbol, or a date per symbol (each follows its own calendar); `prices` maps symbol to
    the chosen D-1 price of commodities; FX forwards are valued with `fx` (their own dates and rates)."""
    result = Valuation([], [])
    for contract in contracts:
        if not contract.status.revalues:
            result.skipped += 1
            continue
        if contract.instrument is Instrument.FX_FORWARD:
            outcome = value_fx_forward(contract, as_of, fx or FxMarket(), oid)
        else:
            day = price_date[contract.underlying] if isinstance(price_date, Mapping) else price_date
            outcome = value_contract(contract, as_of, day, prices.get(contract.underlying), oid)
        if isinstance(outcome, MtmSnapshot) and not fits_money(outcome.mtm_value):
            outcome = out_of_range(outcome)
        if isinstance(outcome, MtmSnapshot):
            result.snapshots.append(outcome)
        else:
            result.exceptions.append(outcome)
    return result


def best_price(candidates: Iterable[Price]) -> Price | None:
    """Of several sources' prices for one symbol and date, the most trusted one.

    Order: confidence (FIRM first), then source name, then row id, so the choice is
    the same on every run.
    """
    ordered = sorted(candidates, key=lambda p: (p.confidence.rank, p.source, p.id))
    return ordered[0] if ordered else None
