"""The price-decisions file: a person's decision on each price the pricing variance control
flagged (core.price_checks). `accept` lets the flagged price value its contracts; `replace`
supplies the price that values them instead (stored as a settlement price of source
`manual`, in the flagged price's currency and unit). Pure: it takes text, never a path."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from core.identifiers import PlainText, Ref, Symbol
from core.price_checks import Decision
from core.prices import empty_is_none
from core.rows import PositiveDecimal, SaneDate, parse_rows
from core.values import ParseReport, RowError

DECISION_HEADER = ("symbol", "price_date", "source", "decision", "price", "decided_by", "reason")


class PriceDecisionRow(BaseModel):
    """One decision: the flagged price (symbol, date, its source), accept or replace, the
    replacing price (replace only), who decided and why."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: Symbol
    price_date: SaneDate
    source: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
    decision: Decision
    price: Annotated[PositiveDecimal | None, BeforeValidator(empty_is_none)] = None
    decided_by: Ref
    reason: Annotated[PlainText, StringConstraints(min_length=1, max_length=500)]


def _consistent(row: PriceDecisionRow) -> str | None:
    if row.decision is Decision.REPLACE and row.price is None:
        return "price: a replace decision needs the price that replaces the flagged one"
    if row.decision is Decision.ACCEPT and row.price is not None:
        return "price: an accept decision takes no price (the flagged price stands)"
    return None


def parse_price_decisions(text: str, file: str) -> ParseReport[PriceDecisionRow]:
    """Every row checked; a (symbol, date, source) named twice is an error on the second."""
    report = parse_rows(text, file, DECISION_HEADER, "price decisions", PriceDecisionRow, _consistent)
    seen: dict[tuple[str, str, str], int] = {}
    kept = []
    for line, row in report.rows:
        key = (row.symbol, row.price_date.isoformat(), row.source)
        first = seen.setdefault(key, line)
        if first != line:
            report.errors.append(RowError(file, line, f"{' '.join(key)} decided twice (first at line {first})"))
        else:
            kept.append((line, row))
    report.rows = kept
    report.errors.sort(key=lambda e: e.line)
    return report
