"""Read queries for people: summaries printed by the CLI."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.values import ContractStatus
from db.models import HedgeContract, IdempotencyConflict, MtmException, MtmSnapshot


@dataclass(slots=True)
class ValuationSummary:
    as_of: date
    contracts: int
    active: int
    snapshots: int
    exceptions: int
    conflicts: int
    mtm_by_underlying: dict[tuple[str, str], Decimal] = field(default_factory=dict)


def valuation_summary(session: Session, as_of: date) -> ValuationSummary:
    """Counts of the day and total MTM per (underlying, currency). Sums are made in
    Python over Decimals: SQLite would add exact text as floats."""
    contracts = session.scalar(select(func.count()).select_from(HedgeContract)) or 0
    active = (
        session.scalar(
            select(func.count()).select_from(HedgeContract).where(HedgeContract.status == ContractStatus.ACTIVE.value)
        )
        or 0
    )
    exceptions = (
        session.scalar(select(func.count()).select_from(MtmException).where(MtmException.as_of_date == as_of)) or 0
    )
    conflicts = session.scalar(select(func.count()).select_from(IdempotencyConflict)) or 0
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    snapshots = 0
    stmt = (
        select(HedgeContract.underlying, MtmSnapshot.currency, MtmSnapshot.mtm_value)
        .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
        .where(MtmSnapshot.as_of_date == as_of, MtmSnapshot.object_type == "hedge_contract")
    )
    for underlying, currency, value in session.execute(stmt):
        totals[(underlying, currency)] += value
        snapshots += 1
    return ValuationSummary(as_of, contracts, active, snapshots, exceptions, conflicts, dict(sorted(totals.items())))


def unvalued_contracts(session: Session, as_of: date) -> tuple[int, int]:
    """(active contracts, those of them without a snapshot of `as_of`): what a monitor
    weighs against its share of unvalued contracts."""
    active = select(HedgeContract.id).where(HedgeContract.status == ContractStatus.ACTIVE.value)
    valued = select(MtmSnapshot.object_id).where(
        MtmSnapshot.as_of_date == as_of, MtmSnapshot.object_type == "hedge_contract"
    )
    total = session.scalar(select(func.count()).select_from(active.subquery())) or 0
    unvalued = session.scalar(
        select(func.count()).select_from(active.where(HedgeContract.id.not_in(valued)).subquery())
    )
    return int(total), int(unvalued or 0)
