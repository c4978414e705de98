"""Independent price verification (seed 004 §3.2.3, Lock 8: the pricing variance control).

Each D-1 price of a symbol that has a verification source (a second configured source) is
compared with that source's price of the same date. A relative variance above the
symbol's threshold flags the price: an audit event, an exception on the prices run and,
with blocking on, the contracts valued with it wait (`price_unverified`) until a person
accepts the price or supplies another (a price-decisions file). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from core.money import EXACT_CONTEXT
from core.values import Price

#: The default threshold, in percent of the verification price (seed 004: 1%).
DEFAULT_VARIANCE_PCT = Decimal(1)
#: A variance is reported as a fraction rounded half-even to 10 decimals (0.0200000000 = 2%).
VARIANCE_QUANTUM = Decimal("1E-10")
#: The source of a price a person supplied in a price-decisions file.
MANUAL_SOURCE = "manual"
#: The audit event of a flagged price (seed 004 §4.4's name).
PRICING_VARIANCE_EVENT = "treasury.fx_contract.pricing_variance"


class Decision(StrEnum):
    """What a person decided about a flagged price."""

    ACCEPT = "accept"  # the price stands: contracts are valued with it
    REPLACE = "replace"  # another price (source `manual`) values the contracts instead


def _matching(patterns: Mapping[str, Any], symbol: str) -> Any | None:
    """The value of the exact symbol, else of the longest shell-style pattern covering it."""
    if symbol in patterns:
        return patterns[symbol]
    covering = sorted((p for p in patterns if fnmatchcase(symbol, p)), key=lambda p: (-len(p), p))
    return patterns[covering[0]] if covering else None


@dataclass(frozen=True, slots=True)
class PriceChecks:
    """Which source verifies which symbols (`{"LME-*": "lme_check"}`: exact symbol first,
    then the longest covering pattern), the threshold in percent and its overrides per
    symbol (same matching), and whether a flagged price blocks valuation."""

    verifiers: Mapping[str, str] = field(default_factory=dict)
    threshold_pct: Decimal = DEFAULT_VARIANCE_PCT
    threshold_pct_by_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    blocks: bool = False

    def verifier_of(self, symbol: str) -> str | None:
        found = _matching(self.verifiers, symbol)
        return str(found) if found is not None else None

    def threshold_of(self, symbol: str) -> Decimal:
        """The symbol's threshold as a fraction: percent / 100 (exact)."""
        pct = _matching(self.threshold_pct_by_symbol, symbol)
        return EXACT_CONTEXT.divide(Decimal(pct if pct is not None else self.threshold_pct), Decimal(100))


@dataclass(frozen=True, slots=True)
class PriceVariance:
    """A D-1 price and its verification price too far apart."""

    price: Price
    verification: Price
    variance: Decimal  # |p - v| / v, a fraction, 10 dp half-even
    threshold: Decimal  # a fraction

    @property
    def symbol(self) -> str:
        return self.price.symbol

    @property
    def price_date(self) -> date:
        return self.price.price_date

    def as_details(self) -> dict[str, Any]:
        """Both figures, the variance and the threshold: the audit event's details."""
        return {
            "symbol": self.price.symbol,
            "price_date": self.price.price_date.isoformat(),
            "price": self.price.price,
            "price_source": self.price.source,
            "price_id": self.price.id,
            "verification_price": self.verification.price,
            "verification_source": self.verification.source,
            "verification_price_id": self.verification.id,
            "variance": self.variance,
            "threshold": self.threshold,
        }


def relative_variance(price: Decimal, verification: Decimal) -> Decimal:
    """variance = |p - v| / v: p the D-1 price, v the verification source's price of the same
    date, both in the same currency per the same unit (v > 0). A dimensionless fraction
    (0.02 = 2%), computed in core.money.EXACT_CONTEXT and rounded half-even to 10 decimals."""
    ctx = EXACT_CONTEXT
    return ctx.divide(ctx.abs(ctx.subtract(price, verification)), verification).quantize(
        VARIANCE_QUANTUM, rounding=ROUND_HALF_EVEN, context=ctx
    )


def exceeds(price: Decimal, verification: Decimal, threshold: Decimal) -> bool:
    """|p - v| > t * v: the variance is above the threshold, decided exactly (no division)."""
    ctx = EXACT_CONTEXT
    return ctx.abs(ctx.subtract(price, verification)) > ctx.multiply(threshold, verification)


def compare(price: Price, verification: Price, threshold: Decimal) -> PriceVariance | None:
    """The variance when it is above `threshold` (a fraction), else None. Prices in another
    currency or unit are not comparable: None (the caller says so)."""
    if not comparable(price, verification) or not exceeds(price.price, verification.price, threshold):
        return None
    return PriceVariance(price, verification, relative_variance(price.price, verification.price), threshold)


def comparable(price: Price, verification: Price) -> bool:
    return (
        price.currency == verification.currency
        and price.unit == verification.unit
        and price.price_date == verification.price_date
        and verification.price > 0
    )


def to_verify(checks: PriceChecks, chosen: Mapping[str, Price]) -> dict[str, str]:
    """symbol -> verification source, for each chosen D-1 price that has one other than its
    own source; a price a person supplied (MANUAL_SOURCE) is verified already."""
    found = {}
    for symbol, price in chosen.items():
        verifier = checks.verifier_of(symbol)
        if verifier is not None and verifier != price.source and price.source != MANUAL_SOURCE:
            found[symbol] = verifier
    return found
