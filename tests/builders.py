"""Builders of input files, so tests say only what matters to them."""

from __future__ import annotations

from core.contracts import CONTRACT_HEADER
from core.prices import PRICE_HEADER


def contracts_csv(*rows: dict[str, str]) -> str:
    lines = [",".join(CONTRACT_HEADER)]
    for row in rows:
        full = {
            "instrument": "commodity_forward",
            "side": "buy",
            "quantity": "10",
            "unit": "mt",
            "entry_price": "2500",
            "currency": "USD",
            "trade_date": "2026-10-01",
            "maturity_date": "2027-03-17",
            "status": "active",
            "underlying": "LME-AL",
            **row,
        }
        lines.append(",".join(full[h] for h in CONTRACT_HEADER))
    return "\n".join(lines) + "\n"


def contract(ref: str, **fields: str) -> dict[str, str]:
    return {"contract_ref": ref, **fields}


def prices_csv(*rows: tuple[str, str, str]) -> str:
    """Rows of (symbol, price_date, price); USD per mt cash settlement."""
    lines = [",".join(PRICE_HEADER)]
    lines += [f"{symbol},{day},{price},USD,mt,cash_settlement" for symbol, day, price in rows]
    return "\n".join(lines) + "\n"
