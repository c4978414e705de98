"""FX forwards: the MTM formula, the market rate it uses, and discounting.

A pair is six letters, base then quote (`EURUSD`: USD per 1 EUR). A contract on it has
`quantity` = the notional in the base currency, `unit` = the base currency, `currency` = the
quote currency and `entry_price` = the contracted forward rate. Rates come from stored
prices: the pair itself is the spot (ECB reference) rate; `<PAIR>-<maturity>` (for example
`EURUSD-2024-12-31`) is a forward rate for that maturity, when a source provides one.

The market rate of a leg (its basis): a stored forward quote for its maturity wins
(`forward_quote`); else the forward by covered interest parity from the D-1 spot and the
two currencies' rate curves (`cip`); `spot_proxy` (the spot itself) only when set so.
The two legs of a designation under test are valued on one basis, or neither is
(`basis_mismatch`).
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
from core.hedging.curves import RateCurve
from core.money import money, price
from core.mtm_results import MtmException, MtmSnapshot
from core.values import Contract, ExceptionReason, Instrument, ObjectType, Price

#: Discounting starts when more than this many days remain to maturity.
DISCOUNT_AFTER_DAYS = 90
DAY_COUNT = Decimal(360)
FACTOR_QUANTUM = Decimal("1E-10")  # the discount factor as reported (the MTM uses it unrounded)
PAIR = re.compile(r"^[A-Z]{6}$")


class RateSource(StrEnum):
    """How an FX valuation's market rate was made (its provenance, the leg's basis)."""

    FORWARD_QUOTE = "forward_quote"  # a stored forward rate for the contract's maturity
    CIP = "cip"  # covered interest parity from the spot and both curves
    SPOT_PROXY = "spot_proxy"  # the spot rate stands in (only when set so)


@dataclass(frozen=True, slots=True)
class Partner:
    """The other leg of the designation a leg is tested in: both legs share one basis."""

    designation_id: int
    object_type: ObjectType
    contract: Contract


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

    mtm: Decimal  # money, quote currency, 2 dp
    undiscounted: Decimal  # money, quote currency, 2 dp
    discount_factor: Decimal  # 1 when not discounted; reported to 10 dp
    discounted: bool


def fx_forward_mtm(
    side_sign: int, notional: Decimal, market_rate: Decimal, forward_rate: Decimal, days: int, rate: Decimal | None
) -> FxMtm:
    """mtm = side * notional * (market_rate - forward_rate) * DF.

    side +1 buys the base currency forward, -1 sells it; notional in the base currency;
    rates in quote currency per 1 base unit (6 dp); the MTM is money in the quote currency.
    DF = 1 / (1 + r * days / 360) when more than 90 days remain (`days` > 90), else 1;
    `rate` is the quote currency's annual rate for `days`, from its curve (required only
    when discounting).
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
    price of each symbol on it (spot pairs and forward symbols), the rate curve of each
    currency, what stands in for a forward quote (`method`: cip, or spot_proxy only when
    set so), and the other leg of each leg under test (for one basis on both legs)."""

    price_dates: Mapping[str, date] = field(default_factory=dict)
    prices: Mapping[str, Price] = field(default_factory=dict)
    curves: Mapping[str, RateCurve] = field(default_factory=dict)
    method: RateSource = RateSource.CIP
    partners: Mapping[tuple[ObjectType, int], Partner] = field(default_factory=dict)

    def basis(self, pair: str, maturity: date) -> RateSource:
        """A stored forward quote for the maturity wins; else the market's method."""
        return RateSource.FORWARD_QUOTE if forward_symbol(pair, maturity) in self.prices else self.method

    def rate(self, currency: str, as_of: date, days: int) -> Decimal | None:
        curve = self.curves.get(currency)
        return curve.rate_at(as_of, days) if curve is not None else None


def with_forward_symbols(dates: Mapping[str, date], contracts: Iterable[Contract]) -> dict[str, date]:
    """`dates` (symbol -> D-1 date) plus the forward symbol of each FX forward, on its pair's date."""
    found = dict(dates)
    for c in contracts:
        if c.instrument is Instrument.FX_FORWARD and c.underlying in dates:
            found[forward_symbol(c.underlying, c.maturity_date)] = dates[c.underlying]
    return found


def cip_forward(spot: Decimal, quote_rate: Decimal, base_rate: Decimal, days: int) -> Decimal:
    """F = S * (1 + r_quote * d / 360) / (1 + r_base * d / 360): covered interest parity.

    S the spot (quote currency per 1 base unit), r_quote and r_base the two currencies'
    annual simple rates for d days (ACT/360; negative allowed), d the days from the as-of
    date to maturity (0 once past: F = S). Computed at full precision and rounded half-even
    to 6 dp once, like every stored rate.
    """
    d = Decimal(max(days, 0))
    return price((spot * (1 + quote_rate * d / DAY_COUNT)) / (1 + base_rate * d / DAY_COUNT))


@dataclass(frozen=True, slots=True)
class MarketRate:
    """The market rate a leg is valued at, the price row it comes from and how it was made."""

    price: Price  # the forward quote's row, or the spot's (cip, spot_proxy)
    rate: Decimal  # quote currency per 1 base unit, 6 dp
    basis: RateSource
    inputs: dict[str, Any]  # cip: S, both rates and d


Problem = tuple[ExceptionReason, dict[str, Any]]


def market_rate(contract: Contract, as_of: date, market: FxMarket) -> MarketRate | Problem:
    """The leg's market rate on its basis, or why there is none."""
    pair, maturity, days = contract.underlying, contract.maturity_date, (contract.maturity_date - as_of).days
    basis = market.basis(pair, maturity)
    found = market.prices.get(forward_symbol(pair, maturity) if basis is RateSource.FORWARD_QUOTE else pair)
    if found is None:
        return ExceptionReason.PRICE_UNAVAILABLE, {}
    if found.unverified:  # the pricing variance control holds it (core.price_checks)
        return ExceptionReason.PRICE_UNVERIFIED, {"price_id": found.id, "price_source": found.source}
    if basis is not RateSource.CIP:
        return MarketRate(found, found.price, basis, {})
    base, quote = base_currency(pair), quote_currency(pair)
    r_quote, r_base = market.rate(quote, as_of, days), market.rate(base, as_of, days)
    if r_quote is None or r_base is None:
        missing = [c for c, r in ((quote, r_quote), (base, r_base)) if r is None]
        return ExceptionReason.RATE_UNAVAILABLE, {"currencies": missing, "needed_for": "cip forward"}
    inputs = {
        "spot_rate": found.price,
        "spot_price_id": found.id,
        "quote_rate": r_quote,
        "base_rate": r_base,
        "cip_days": max(days, 0),
    }
    return MarketRate(found, cip_forward(found.price, r_quote, r_base, days), basis, inputs)


def value_fx_forward(
    contract: Contract, as_of: date, market: FxMarket, oid: ObjectType = ObjectType.HEDGE_CONTRACT
) -> MtmSnapshot | MtmException:
    """Value an FX forward (or a hedged item's hypothetical one) at `as_of`, or say why not."""
    pair, maturity = contract.underlying, contract.maturity_date
    days = (maturity - as_of).days
    found = market_rate(contract, as_of, market)
    rate = market.rate(contract.currency, as_of, days) if days > DISCOUNT_AFTER_DAYS else None
    problem = _mismatched_basis(contract, market, oid) or _problem(contract, found, days, rate)
    if problem is not None or not isinstance(found, MarketRate):
        reason, extra = problem or (ExceptionReason.PRICE_UNAVAILABLE, {})
        details = {
            "symbol": pair,
            "forward_symbol": forward_symbol(pair, maturity),
            "price_date": market.price_dates.get(pair),
            **extra,
        }
        return MtmException(
            keys.mtm_exception_key(oid, contract.id, as_of, reason), contract.id, as_of, reason, details, oid
        )
    result = fx_forward_mtm(contract.side.sign, contract.quantity, found.rate, contract.entry_price, days, rate)
    return MtmSnapshot(
        key=keys.mtm_snapshot_key(oid, contract.id, as_of),
        contract_id=contract.id,
        as_of=as_of,
        price_date=found.price.price_date,
        price_id=found.price.id,
        mtm_value=result.mtm,
        price_d1=found.rate,
        entry_price=contract.entry_price,
        quantity=contract.quantity,
        currency=contract.currency,
        object_type=oid,
        extra=_provenance(found, maturity, days, rate, result),
    )


def _mismatched_basis(contract: Contract, market: FxMarket, oid: ObjectType) -> Problem | None:
    """A leg under test whose other leg would be valued on another basis: neither is valued."""
    partner = market.partners.get((oid, contract.id))
    if partner is None or partner.contract.instrument is not Instrument.FX_FORWARD:
        return None
    mine = market.basis(contract.underlying, contract.maturity_date)
    theirs = market.basis(partner.contract.underlying, partner.contract.maturity_date)
    if mine is theirs:
        return None
    return ExceptionReason.BASIS_MISMATCH, {
        "designation_id": partner.designation_id,
        "basis": mine.value,
        "other_leg": {
            "object_type": partner.object_type.value,
            "object_id": partner.contract.id,
            "symbol": partner.contract.underlying,
            "basis": theirs.value,
        },
    }


def _problem(contract: Contract, found: MarketRate | Problem, days: int, rate: Decimal | None) -> Problem | None:
    if not isinstance(found, MarketRate):
        return found
    price = found.price
    if price.currency != contract.currency:
        return ExceptionReason.CURRENCY_MISMATCH, {
            "price_currency": price.currency,
            "contract_currency": contract.currency,
        }
    if price.unit != contract.unit:
        return ExceptionReason.UNIT_MISMATCH, {"price_unit": price.unit, "contract_unit": contract.unit}
    if days > DISCOUNT_AFTER_DAYS and rate is None:
        return ExceptionReason.DISCOUNT_RATE_UNAVAILABLE, {"currency": contract.currency, "days_to_maturity": days}
    return None


def _provenance(found: MarketRate, maturity: date, days: int, rate: Decimal | None, result: FxMtm) -> dict[str, Any]:
    return {
        "instrument": "fx_forward",
        "symbol": found.price.symbol,
        "rate_source": found.basis.value,
        "maturity_date": maturity,
        "days_to_maturity": days,
        **found.inputs,
        "discount_rate": rate if result.discounted else None,
        "discount_factor": result.discount_factor,
        "undiscounted_mtm": result.undiscounted,
    }
