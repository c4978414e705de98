"""FX forwards: the MTM formula, the market rate it uses, and discounting.

A pair is six letters, base then quote (`EURUSD`: USD per 1 EUR). A contract on it has
`quantity` = the notional in the base currency, `unit` = the base currency, `currency` = the
quote currency and `entry_price` = the contracted forward rate. Rates come from stored
prices: the pair itself is the spot (ECB reference) rate; `<PAIR>-<maturity>` (for example
`EURUSD-2024-12-31`) is a forward rate for that maturity, when a source provides one.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from core import keys
from core.money import money
from core.mtm_results import MtmException, MtmSnapshot
from core.values import Contract, ExceptionReason, Instrument, ObjectType, Price

#: Discounting starts when more than this many days remain to maturity.
DISCOUNT_AFTER_DAYS = 90
DAY_COUNT = Decimal(360)
FACTOR_QUANTUM = Decimal("1E-10")  # the discount factor as reported (the MTM uses it unrounded)
PAIR = re.compile(r"^[A-Z]{6}$")


class RateSource(StrEnum):
    """Where an FX valuation's market rate came from (its provenance)."""

    FORWARD = "forward"        # a stored forward rate for the contract's maturity
    SPOT_PROXY = "spot_proxy"  # no forward rate: the spot rate stands in for it


class SettlementMethod(StrEnum):
    """Seed 004: a deliverable forward exchanges both currencies, an NDF settles the difference."""

    DELIVERABLE = "deliverable"
    NDF = "ndf"


def is_pair(symbol: str) -> bool:
    return bool(PAIR.match(symbol))


def fx_terms_problem(underlying: str, unit: str, currency: str) -> str | None:
    """Why (underlying, unit, currency) are not the terms of an FX position, or None:
    the underlying is a pair, the unit its base currency and the currency its quote one."""
    if not is_pair(underlying) or base_currency(underlying) == quote_currency(underlying):
        return f"underlying: {underlying} is not a currency pair (six letters, base then quote: EURUSD)"
    if unit != base_currency(underlying):
        return f"unit: {unit} is not the base currency of {underlying} ({base_currency(underlying)})"
    if currency != quote_currency(underlying):
        return f"currency: {currency} is not the quote currency of {underlying} ({quote_currency(underlying)})"
    return None


def base_currency(pair: str) -> str:
    return pair[:3]


def quote_currency(pair: str) -> str:
    return pair[3:]


def forward_symbol(pair: str, maturity: date) -> str:
    """The symbol of the forward rate of `pair` for value date `maturity`."""
    return f"{pair}-{maturity.isoformat()}"


def discount_factor(rate: Decimal, days: int) -> Decimal:
    """DF = 1 / (1 + r * days / 360): simple interest, ACT/360, `rate` annual (0.05 = 5%).

    Not rounded: the MTM it multiplies is rounded once, at the end.
    """
    return 1 / (1 + rate * Decimal(days) / DAY_COUNT)


@dataclass(frozen=True, slots=True)
class FxMtm:
    """An FX forward's MTM and how it was reached."""

    mtm: Decimal              # money, quote currency, 2 dp
    undiscounted: Decimal     # money, quote currency, 2 dp
    discount_factor: Decimal  # 1 when not discounted; reported to 10 dp
    discounted: bool


def fx_forward_mtm(side_sign: int, notional: Decimal, market_rate: Decimal, forward_rate: Decimal,
                   days: int, rate: Decimal | None) -> FxMtm:
    """mtm = side * notional * (market_rate - forward_rate) * DF.

    side +1 buys the base currency forward, -1 sells it; notional in the base currency;
    rates in quote currency per 1 base unit (6 dp); the MTM is money in the quote currency.
    DF = 1 / (1 + r * days / 360) when more than 90 days remain (`days` > 90), else 1;
    `rate` is the quote currency's flat annual rate (required only when discounting).
    Rounded half-even to 2 dp once, at the end (the undiscounted figure likewise).
    """
    raw = Decimal(side_sign) * notional * (market_rate - forward_rate)
    if days <= DISCOUNT_AFTER_DAYS:
        return FxMtm(money(raw), money(raw), Decimal(1), False)
    if rate is None:
        raise ValueError("discounting needs a rate")
    factor = discount_factor(rate, days)
    return FxMtm(money(raw * factor), money(raw), factor.quantize(FACTOR_QUANTUM, ROUND_HALF_EVEN), True)


@dataclass(frozen=True)
class FxMarket:
    """What FX valuation reads: the D-1 date of each pair (its own calendar), the chosen
    price of each symbol on it (spot pairs and forward symbols) and discount rates."""

    price_dates: Mapping[str, date] = field(default_factory=dict)
    prices: Mapping[str, Price] = field(default_factory=dict)
    discount_rates: Mapping[str, Decimal] = field(default_factory=dict)

    def market_price(self, pair: str, maturity: date) -> tuple[Price, RateSource] | None:
        """The forward rate for `maturity` when there is one, else the spot rate."""
        forward = self.prices.get(forward_symbol(pair, maturity))
        if forward is not None:
            return forward, RateSource.FORWARD
        spot = self.prices.get(pair)
        return (spot, RateSource.SPOT_PROXY) if spot is not None else None


def with_forward_symbols(dates: Mapping[str, date], contracts: Iterable[Contract]) -> dict[str, date]:
    """`dates` (symbol -> D-1 date) plus the forward symbol of each FX forward, on its pair's date."""
    found = dict(dates)
    for c in contracts:
        if c.instrument is Instrument.FX_FORWARD and c.underlying in dates:
            found[forward_symbol(c.underlying, c.maturity_date)] = dates[c.underlying]
    return found


def rates_as_text(rates: Mapping[str, Decimal]) -> dict[str, str]:
    """Discount rates as a run's plan keeps them (JSON), so every chunk values alike."""
    return {currency: str(rate) for currency, rate in sorted(rates.items())}


def rates_from_text(rates: Mapping[str, str]) -> dict[str, Decimal]:
    return {currency: Decimal(rate) for currency, rate in rates.items()}


def value_fx_forward(contract: Contract, as_of: date, market: FxMarket,
                     oid: ObjectType = ObjectType.HEDGE_CONTRACT) -> MtmSnapshot | MtmException:
    """Value an FX forward (or a hedged item's hypothetical one) at `as_of`, or say why not."""
    pair, maturity = contract.underlying, contract.maturity_date
    price_date = market.price_dates.get(pair)
    days = (maturity - as_of).days
    found = market.market_price(pair, maturity)
    rate = market.discount_rates.get(contract.currency)
    problem = _problem(contract, found, days, rate)
    if problem is not None or found is None:
        reason, extra = problem or (ExceptionReason.PRICE_UNAVAILABLE, {})
        details = {"symbol": pair, "forward_symbol": forward_symbol(pair, maturity), "price_date": price_date, **extra}
        return MtmException(keys.mtm_exception_key(oid, contract.id, as_of, reason), contract.id, as_of, reason,
                            details, oid)
    price, source = found
    result = fx_forward_mtm(contract.side.sign, contract.quantity, price.price, contract.entry_price, days, rate)
    return MtmSnapshot(
        key=keys.mtm_snapshot_key(oid, contract.id, as_of), contract_id=contract.id, as_of=as_of,
        price_date=price.price_date, price_id=price.id, mtm_value=result.mtm, price_d1=price.price,
        entry_price=contract.entry_price, quantity=contract.quantity, currency=contract.currency,
        object_type=oid, extra=_provenance(price, source, maturity, days, rate, result),
    )


def _problem(contract: Contract, found: tuple[Price, RateSource] | None, days: int,
             rate: Decimal | None) -> tuple[ExceptionReason, dict[str, Any]] | None:
    if found is None:
        return ExceptionReason.PRICE_UNAVAILABLE, {}
    price = found[0]
    if price.currency != contract.currency:
        return ExceptionReason.CURRENCY_MISMATCH, {"price_currency": price.currency,
                                                   "contract_currency": contract.currency}
    if price.unit != contract.unit:
        return ExceptionReason.UNIT_MISMATCH, {"price_unit": price.unit, "contract_unit": contract.unit}
    if days > DISCOUNT_AFTER_DAYS and rate is None:
        return ExceptionReason.DISCOUNT_RATE_UNAVAILABLE, {"currency": contract.currency, "days_to_maturity": days}
    return None


def _provenance(price: Price, source: RateSource, maturity: date, days: int, rate: Decimal | None,
                result: FxMtm) -> dict[str, Any]:
    return {
        "instrument": "fx_forward", "symbol": price.symbol, "rate_source": source.value,
        "maturity_date": maturity, "days_to_maturity": days,
        "discount_rate": rate if result.discounted else None,
        "discount_factor": result.discount_factor, "undiscounted_mtm": result.undiscounted,
    }
