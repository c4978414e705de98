"""The reserve roll-forward of IFRS 7 24E-24F: per relationship and reserve, and in total
per reserve, over one period, from the relationship's journal entries.

    rows, totals = roll_forward(entries, Period.parse("2026-11"))

Figures are the reserve's balance and movements, credit positive (a gain on the hedging
instrument held in OCI is positive), transaction currency:

- opening: the movements of entries posted before the period;
- recognised: revaluation entries' OCI movements (the effective portion, 6.5.11(a)-(b));
- reclassified_to_pnl: releases to P&L (recycling 6.5.11(d)(ii), no longer expected 6.5.12(b));
- moved_to_cost: releases into the cost of a non-financial item (6.5.11(d)(i));
- closing = opening + recognised + reclassified_to_pnl + moved_to_cost.

An entry counts in the period of its posting date; a reversal in the column of the entry it
reverses (it has that entry's kind), so a correction nets out where it lands.

`carried` is the reserve the relationship's latest entry (by date, then as posted) left in
its state: sign(A) x min(|A|, |B|) as last computed. A closing that differs from it says the
ledger awaits a correction (e.g. a date posted before an entry whose period is open: that
entry's conflict is corrected once its period is closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.hedging.accounts import AccountRole
from core.hedging.dossier import HedgeType
from core.hedging.journal import EntryKind, JournalEntry
from core.hedging.periods import Period

RESERVES = (AccountRole.CASH_FLOW_HEDGE_RESERVE, AccountRole.TRANSLATION_RESERVE)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ReserveRow:
    relationship_id: int | None  # None: the total of a reserve
    reserve: AccountRole
    opening: Decimal = ZERO
    recognised: Decimal = ZERO
    reclassified_to_pnl: Decimal = ZERO
    moved_to_cost: Decimal = ZERO

    @property
    def closing(self) -> Decimal:
        return self.opening + self.recognised + self.reclassified_to_pnl + self.moved_to_cost

    def plus(self, column: str, amount: Decimal) -> ReserveRow:
        values = {c: getattr(self, c) for c in ("opening", "recognised", "reclassified_to_pnl", "moved_to_cost")}
        values[column] += amount
        return ReserveRow(self.relationship_id, self.reserve, **values)


def column_of(entry: JournalEntry) -> str:
    """Where an entry's reserve movement shows within its period."""
    if entry.kind is EntryKind.REVALUATION:
        return "recognised"
    if any(line.role is AccountRole.INVENTORY_BASIS_ADJUSTMENT for line in entry.lines):
        return "moved_to_cost"
    return "reclassified_to_pnl"


def roll_forward(
    entries: Iterable[JournalEntry], period: Period
) -> tuple[list[ReserveRow], dict[AccountRole, ReserveRow]]:
    """Rows by (relationship, reserve), sorted, and the total of each reserve."""
    rows: dict[tuple[int, AccountRole], ReserveRow] = {}
    for entry in entries:
        posted = Period.of(entry.posting_date)
        if posted > period:
            continue
        column = "opening" if posted < period else column_of(entry)
        for reserve in RESERVES:
            movement = -entry.total(reserve)
            if movement or any(line.role is reserve for line in entry.lines):
                key = (entry.relationship_id, reserve)
                rows[key] = rows.get(key, ReserveRow(entry.relationship_id, reserve)).plus(column, movement)
    ordered = [rows[k] for k in sorted(rows)]
    totals: dict[AccountRole, ReserveRow] = {}
    for row in ordered:
        total = totals.get(row.reserve, ReserveRow(None, row.reserve))
        for column in ("opening", "recognised", "reclassified_to_pnl", "moved_to_cost"):
            total = total.plus(column, getattr(row, column))
        totals[row.reserve] = total
    return ordered, totals


def carried(entries: Iterable[JournalEntry], period: Period) -> dict[tuple[int, AccountRole], Decimal]:
    """Per (relationship, reserve): the reserve in the state of the latest entry posted up to
    `period` (latest by date; among one date's entries the last given, so give them as posted)."""
    latest: dict[int, JournalEntry] = {}
    for entry in entries:
        if Period.of(entry.posting_date) > period:
            continue
        mine = latest.get(entry.relationship_id)
        if mine is None or entry.as_of >= mine.as_of:
            latest[entry.relationship_id] = entry
    return {(rid, reserve_of(e.hedge_type)): e.state_after.reserve for rid, e in latest.items()}


def reserve_of(hedge_type: HedgeType) -> AccountRole:
    if hedge_type is HedgeType.NET_INVESTMENT:
        return AccountRole.TRANSLATION_RESERVE
    return AccountRole.CASH_FLOW_HEDGE_RESERVE
