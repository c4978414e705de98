"""Counterparty credit exposure (seed 004 §6.1 `current_exposure` against `credit_limit`).

Per netting set: net = sum of the MTM of its contracts, each converted into the
counterparty's limit currency; exposure = max(0, net): what the counterparty would owe us
on a close-out, netting allowed inside the set and never across sets. A counterparty
without a netting set (no netting agreement) nets nothing: each contract is its own set,
exposure = sum of max(0, mtm_i).

Conversion at the D-1 ECB reference rates: an amount in X is worth amount * XY in Y, XY =
EURY / EURX (rates per 1 EUR; EUR itself is 1), rounded half-even to 6 dp as every stored
ECB cross is (core.ecb.cross_rate). The converted amounts are summed exactly (EXACT_CONTEXT)
and the net and the exposure rounded half-even to the cent once.

utilisation = exposure / limit, half-even to 4 dp (1.0000 is the whole limit);
headroom = limit - exposure (negative in a breach); a breach is exposure > limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from core.ecb import cross_rate, ecb_symbol
from core.money import EXACT_CONTEXT, money

UTILISATION_QUANTUM = Decimal("0.0001")
ZERO = Decimal(0)


def rate_symbols(currency: str, limit_currency: str) -> set[str]:
    """The ECB symbols (EURX) converting `currency` into `limit_currency`."""
    return {ecb_symbol(c) for c in (currency, limit_currency) if c != "EUR"} if currency != limit_currency else set()


def conversion_rate(currency: str, limit_currency: str, ecb: Mapping[str, Decimal]) -> Decimal | None:
    """`limit_currency` per 1 `currency`: EURY / EURX at 6 dp; 1 for the same currency;
    None when a leg has no rate in `ecb` (EURX -> its rate per 1 EUR)."""
    if currency == limit_currency:
        return Decimal(1)
    legs = []
    for ccy in (limit_currency, currency):
        rate = Decimal(1) if ccy == "EUR" else ecb.get(ecb_symbol(ccy))
        if rate is None:
            return None
        legs.append(rate)
    return cross_rate(legs[0], legs[1])


@dataclass(frozen=True, slots=True)
class Counterparty:
    id: int
    counterparty_id: str
    netting_set: str | None
    credit_limit: Decimal
    limit_currency: str


@dataclass(frozen=True, slots=True)
class ValuedContract:
    """One contract's MTM snapshot of the date, in its own currency."""

    counterparty: int
    mtm: Decimal
    currency: str


@dataclass(slots=True)
class _Tally:
    net: Decimal = ZERO
    positive: Decimal = ZERO
    contracts: int = 0
    missing: set[str] = field(default_factory=set)
    rates: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CounterpartyExposure:
    """A counterparty's exposure of a date, in its limit currency (None: a rate is missing)."""

    counterparty: Counterparty
    contracts: int
    net: Decimal | None
    exposure: Decimal | None
    rates: Mapping[str, Decimal]
    missing_rates: tuple[str, ...] = ()

    @property
    def headroom(self) -> Decimal | None:
        return None if self.exposure is None else money(self.counterparty.credit_limit - self.exposure)

    @property
    def utilisation(self) -> Decimal | None:
        if self.exposure is None:
            return None
        ratio = EXACT_CONTEXT.divide(self.exposure, self.counterparty.credit_limit)
        return ratio.quantize(UTILISATION_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT_CONTEXT)

    @property
    def breached(self) -> bool:
        return self.exposure is not None and self.exposure > self.counterparty.credit_limit

    def payload(self) -> dict[str, Any]:
        cp = self.counterparty
        return {
            "counterparty_id": cp.counterparty_id,
            "netting_set": cp.netting_set,
            "netted": cp.netting_set is not None,
            "contracts": self.contracts,
            "net_mtm": self.net,
            "exposure": self.exposure,
            "credit_limit": cp.credit_limit,
            "limit_currency": cp.limit_currency,
            "utilisation": self.utilisation,
            "headroom": self.headroom,
            "breached": self.breached,
            "rates": dict(sorted(self.rates.items())),
            "missing_rates": list(self.missing_rates),
        }


def exposures(
    counterparties: Iterable[Counterparty], contracts: Iterable[ValuedContract], ecb: Mapping[str, Decimal]
) -> list[CounterpartyExposure]:
    """Every counterparty's exposure (those without contracts too: exposure 0), streaming
    over `contracts` (memory per counterparty, not per contract)."""
    known = {cp.id: cp for cp in counterparties}
    tallies = {cp_id: _Tally() for cp_id in known}
    for contract in contracts:
        cp, tally = known[contract.counterparty], tallies[contract.counterparty]
        tally.contracts += 1
        rate = conversion_rate(contract.currency, cp.limit_currency, ecb)
        if rate is None:
            tally.missing |= rate_symbols(contract.currency, cp.limit_currency) - set(ecb)
            continue
        tally.rates[f"{contract.currency}{cp.limit_currency}"] = rate
        converted = EXACT_CONTEXT.multiply(contract.mtm, rate)
        tally.net = EXACT_CONTEXT.add(tally.net, converted)
        tally.positive = EXACT_CONTEXT.add(tally.positive, max(converted, ZERO))
    return [_exposure(known[cp_id], tally) for cp_id, tally in sorted(tallies.items())]


def _exposure(cp: Counterparty, tally: _Tally) -> CounterpartyExposure:
    if tally.missing:
        return CounterpartyExposure(cp, tally.contracts, None, None, tally.rates, tuple(sorted(tally.missing)))
    exposure = max(tally.net, ZERO) if cp.netting_set is not None else tally.positive
    return CounterpartyExposure(cp, tally.contracts, money(tally.net), money(exposure), tally.rates)
