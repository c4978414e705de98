"""`hedgeops load price-decisions FILE`: a person's decisions on the prices the pricing
variance control flagged (docs/price-verification.md)."""

from __future__ import annotations

from pathlib import Path

from workers.cli.common import load_file, out


def load_price_decisions(file: Path) -> None:
    """Accept flagged D-1 prices, or replace them with a price of your own (CSV: symbol,
    price_date, source, decision, price, decided_by, reason). All or nothing, audited; a
    decision is final. The next MTM run values the contracts they held."""
    from tasks.price_checks import load_price_decisions_csv

    loaded = load_file(file, load_price_decisions_csv)
    out.print(
        f"{file.name}: {loaded.accepted} accepted, {loaded.replaced} replaced, {loaded.existing} existing",
        markup=False,
        highlight=False,
    )
