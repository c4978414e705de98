"""Rounding rules: explicit, half-even, 2 dp for money and 6 dp for prices and rates."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MONEY_QUANTUM = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.000001")


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
