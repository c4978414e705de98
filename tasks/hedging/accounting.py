"""Hedge accounting on demand (the CLI's entries): closing and reopening periods, loading
"no longer expected" records, the journals and reserve reports of a period. Each entry resolves its bundles once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.errors import InvalidInput
from core.hedging.expectations import parse_no_longer_expected
from core.hedging.period_lock import PeriodAction
from core.hedging.reserve import ReserveRow
from db.hedging.dossiers import Loaded
from db.hedging.expectations import load_no_longer_expected
from db.hedging.journal_reports import ZERO, journal_rows, reserve_rows
from db.hedging.periods import change_period
from tasks.ports import ports

#: The roll-forward's columns (core.hedging.reserve), in the order of IFRS 7 24E.
FIGURES = ("opening", "recognised", "reclassified_to_pnl", "moved_to_cost", "closing")


def change_period_state(
    period: str, action: PeriodAction, *, actor: str, second: str | None, reason: str
) -> dict[str, Any]:
    """Close or reopen `period` (core.hedging.period_lock.PeriodRefused when refused: nothing written)."""
    p = ports()
    with p.uow() as uow:
        event = change_period(uow.session, period, action, actor=actor, second=second, reason=reason, now=p.clock())
        uow.commit()
        return {"period": period, "action": event.action, "by": event.actor, "second": event.second_actor}


def load_no_longer_expected_json(text: str, file: str) -> Loaded:
    """All or nothing: any bad record and nothing is written."""
    p = ports()
    rows, errors = parse_no_longer_expected(text, file, p.date_window)
    if errors:
        raise InvalidInput(f"{file}: {len(errors)} bad record(s); nothing loaded", errors)
    with p.uow() as uow:
        loaded = load_no_longer_expected(uow.session, rows, now=p.clock(), source=file)
        uow.commit()
    return loaded


def journals_report(period: str) -> dict[str, Any]:
    """The GL import of `period`: one row per journal line, totals per currency, balanced or not."""
    with ports().uow() as uow:
        rows = journal_rows(uow.session, period)
    totals: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        total = totals.setdefault(row["currency"], {"debit": ZERO, "credit": ZERO})
        total["debit"] += row["debit"]
        total["credit"] += row["credit"]
    functional = sum((row["functional_amount"] or ZERO for row in rows), ZERO)
    balanced = all(t["debit"] == t["credit"] for t in totals.values()) and functional == 0
    return {"period": period, "rows": rows, "totals": totals, "functional_net": functional, "balanced": balanced}


def reserve_report(period: str) -> dict[str, Any]:
    """The reserves' roll-forward of `period` (IFRS 7 24E), per relationship and reserve, and
    in total; beside each closing the reserve the latest entry's state carries, and whether
    they agree (`reconciled`: false while a correction is awaited)."""
    with ports().uow() as uow:
        rows, totals, refs, held = reserve_rows(uow.session, period)
    lines = [_carried(_figures(r), held.get((r.relationship_id or 0, r.reserve), ZERO)) for r in rows]
    sums: dict[str, Decimal] = {}
    for line in lines:
        sums[line["reserve"]] = sums.get(line["reserve"], ZERO) + line["carried"]
    return {
        "period": period,
        "relationships": [
            {"relationship": refs[r.relationship_id or 0], **line} for r, line in zip(rows, lines, strict=True)
        ],
        "totals": [_carried(_figures(t), sums.get(t.reserve.value, ZERO)) for t in totals.values()],
    }


def _figures(row: ReserveRow) -> dict[str, Any]:
    return {"reserve": row.reserve.value, **{name: getattr(row, name) for name in FIGURES}}


def _carried(figures: dict[str, Any], carried: Decimal) -> dict[str, Any]:
    return figures | {"carried": carried, "reconciled": figures["closing"] == carried}
