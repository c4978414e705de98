"""The functional currency: each snapshot's MTM also converted, at the D-1 rate, into one
currency, for reporting across pairs (setting HEDGEOPS_FUNCTIONAL_CURRENCY)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from core.money import money
from core.mtm_results import MtmSnapshot, Valuation
from core.values import Price


def conversion_symbols(currency: str, functional: str) -> tuple[str, str]:
    """The pairs that convert `currency` into `functional`: direct (functional per 1
    currency, e.g. USDEUR) first, then the inverse (EURUSD)."""
    return f"{currency}{functional}", f"{functional}{currency}"


def functional_figures(mtm: Decimal, currency: str, functional: str, prices: Mapping[str, Price]) -> dict[str, Any]:
    """mtm_f = mtm * R (R: `functional` per 1 `currency`, the pair currency+functional) or
    mtm_f = mtm / R' (R': the pair functional+currency, `currency` per 1 `functional`),
    whichever D-1 price is stored, the direct one first; the same currency converts at 1.
    Money, half-even to 2 dp once. No rate: the converted MTM is None, with the reason."""
    figures: dict[str, Any] = {"functional_currency": functional}
    if currency == functional:
        return {**figures, "functional_mtm": mtm, "functional_rate": Decimal(1), "functional_rate_price_id": None}
    direct, inverse = conversion_symbols(currency, functional)
    if direct in prices:
        row, converted = prices[direct], mtm * prices[direct].price
    elif inverse in prices:
        row, converted = prices[inverse], mtm / prices[inverse].price
    else:
        return {
            **figures,
            "functional_mtm": None,
            "functional_rate": None,
            "functional_rate_price_id": None,
            "functional_reason": f"no D-1 price of {direct} or {inverse}",
        }
    return {
        **figures,
        "functional_mtm": money(converted),
        "functional_rate_symbol": row.symbol,
        "functional_rate": row.price,
        "functional_rate_price_id": row.id,
    }


def with_functional(valuation: Valuation, functional: str | None, prices: Mapping[str, Price]) -> Valuation:
    """Every snapshot with its MTM in `functional` too (None: the valuation as it is)."""
    if functional is None:
        return valuation
    snapshots = [_converted(s, functional, prices) for s in valuation.snapshots]
    return Valuation(snapshots, valuation.exceptions, valuation.skipped)


def _converted(snapshot: MtmSnapshot, functional: str, prices: Mapping[str, Price]) -> MtmSnapshot:
    figures = functional_figures(snapshot.mtm_value, snapshot.currency, functional, prices)
    return replace(snapshot, extra={**(snapshot.extra or {}), **figures})
