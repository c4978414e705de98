"""Rounding rules: explicit, half-even, 2 dp for money and 6 dp for prices and rates.

Arithmetic on money runs in MONEY_CONTEXT, never in the thread's current context: whatever
a caller (or a library) set there, a value and its hash stay the same. The context is the
decimal module's default one written out: 28 significant digits, half-even, and the traps
of an invalid operation, a division by zero and an overflow.

EXACT_CONTEXT is the same with 60 digits: wide enough that every value the inputs allow is
computed exactly and rounded once. Quantities and prices are below 10^18 with 6 decimals
(24 digits), so a difference of prices has at most 25 digits, `quantity * (price - entry)`
at most 49, and that product to the cent (below 10^36, 2 decimals) 38. The MTM product and
every rounding here (`money`, `price`) run in it: in 28 digits a product >= 10^16 was
rounded twice, and one of 36 digits raised InvalidOperation when quantized (issue 21,
point 7). A quantize in a wider context gives the same result or none, so rounding there
changes no value that rounded before.

A value a money column cannot hold (NUMERIC(24, 2): |value| < 10^22) is not written:
`fits_money` says so, and the valuation makes it a `value_out_of_range` exception.
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
#: Exact for every product and rounding the inputs allow (see the module's docstring).
EXACT_CONTEXT = MONEY_CONTEXT.copy()
EXACT_CONTEXT.prec = 60
MONEY_QUANTUM = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.000001")
#: NUMERIC(24, 2), the money columns (db.base.Money): 22 digits before the point.
MONEY_LIMIT = Decimal("1E22")


def money(value: Decimal) -> Decimal:
    """Half-even to the cent; a zero is never negative (-0.00 would hash and store apart)."""
    result = value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT_CONTEXT)
    return result if result != 0 else result.copy_abs()


def price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT_CONTEXT)


def fits_money(value: Decimal) -> bool:
    """A money column (NUMERIC(24, 2)) holds it: |value| < 10^22 once rounded to the cent."""
    return abs(money(value)) < MONEY_LIMIT
