"""Rounding rules: explicit, half-even, 2 dp for money and 6 dp for prices and rates."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MONEY_QUANTUM = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.000001")


def money(value: Decimal) -> Decimal:
    """Half-even to the cent; a zero is never negative (-0.00 would hash and store apart)."""
    result = value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    return result if result != 0 else abs(result)


def price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
