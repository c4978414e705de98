"""The effectiveness dossier's figures, shaped from what was stored (pure): the dollar-offset
ratios of each test over time, the regression's points, and the reserve's roll-forward of
one relationship by period. Nothing is recomputed that a test did not compute the same way:
the regression's points are the changes core.hedging.effectiveness regressed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from core.hedging.journal import JournalEntry
from core.hedging.periods import Period
from core.hedging.reserve import ReserveRow, roll_forward


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class OffsetPoint:
    """A dollar-offset test of `day`: ΔH / ΔI since designation (cumulative) and since the
    previous test (periodic), as stored (6 dp); None when that leg was inconclusive."""

    day: date
    cumulative: Decimal | None
    periodic: Decimal | None


def offset_points(results: Iterable[tuple[date, Mapping[str, Any]]]) -> list[OffsetPoint]:
    """One point per dollar-offset result (its date and stored details), in date order."""
    points = []
    for day, details in results:
        cumulative, periodic = details.get("cumulative") or {}, details.get("periodic") or {}
        points.append(OffsetPoint(day, _decimal(cumulative.get("ratio")), _decimal(periodic.get("ratio"))))
    return sorted(points, key=lambda p: p.day)


@dataclass(frozen=True, slots=True)
class ScatterPoint:
    """One change the regression used: from `start` to `end`, ΔH = H(end) - H(start) and
    ΔI = hedge_ratio * (I(end) - I(start)), in the legs' currency, unrounded."""

    start: date
    end: date
    delta_h: Decimal
    delta_i: Decimal


def regression_points(
    dates: Sequence[date], h: Mapping[date, Decimal], i: Mapping[date, Decimal], hedge_ratio: Decimal
) -> list[ScatterPoint] | str:
    """The changes between the consecutive `dates` a regression result names (details
    `dates`), from the stored snapshots; or why they cannot be shown (a snapshot missing)."""
    missing = [d.isoformat() for d in dates if d not in h or d not in i]
    if missing:
        return f"no snapshot of both legs on {', '.join(missing)}"
    return [ScatterPoint(a, b, h[b] - h[a], hedge_ratio * (i[b] - i[a])) for a, b in pairwise(dates)]


def stored_dates(details: Mapping[str, Any]) -> list[date]:
    return [date.fromisoformat(str(d)) for d in details.get("dates") or []]


def reserve_by_period(entries: Sequence[JournalEntry], relationship_id: int) -> list[tuple[str, ReserveRow]]:
    """The roll-forward of each reserve of one relationship, for every period from its first
    posting to its last (core.hedging.reserve.roll_forward: opening, recognised, reclassified
    to P&L, moved to cost, closing; in the entries' currency)."""
    own = [e for e in entries if e.relationship_id == relationship_id]
    if not own:
        return []
    period, last = Period.of(min(e.posting_date for e in own)), Period.of(max(e.posting_date for e in own))
    found = []
    while period <= last:
        rows, _ = roll_forward(own, period)
        found += [(str(period), row) for row in rows if row.relationship_id == relationship_id]
        period = period.next()
    return found
