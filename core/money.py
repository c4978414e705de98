"""Rounding rules: explicit, half-even, 2 dp for money and 6 dp for prices and rates.

Arithmetic on money runs in MONEY_CONTEXT, never in the thread's current context: whatever
a caller (or a library) set there, a value and its hash stay the same. The context is the
decimal module's default one written out: 28 significant digits, half-even, and the
traps of an invalid operation, a division by zero and an overflow; the SQL valuation
(db.mtm_in_database) relies on those 28 digits to compute the same products exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

MONEY_CONTEXT = Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
MONEY_QUANTUM = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.000001")


def money(value: Decimal) -> Decimal:
    """Half-even to the cent; a zero is never negative (-0.00 would hash and store apart)."""
    result = value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT)
    return result if result != 0 else result.copy_abs()


def price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT)
