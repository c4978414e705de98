"""Read queries for people: summaries printed by the CLI, and what the morning pack reads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.monitoring import RunFacts
from core.run_details import RunRecord
from core.values import ContractStatus, Job, RunStatus
from db import ledger
from db.hedging.journal_models import PostingException
from db.hedging.models import HedgeRelationship
from db.models import BatchRun, Counterparty, HedgeContract, IdempotencyConflict, MtmException, MtmSnapshot


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


def nightly_facts(session: Session, as_of: date) -> RunFacts | None:
    """The newest nightly of `as_of` as `hedgeops check nightly` weighs it (core.monitoring)."""
    run = ledger.latest_run(session, Job.NIGHTLY, as_of)
    if run is None:
        return None
    missing = RunRecord.from_details(run.details).price_missing or []
    active, unvalued = unvalued_contracts(session, as_of)
    return RunFacts(
        run.id,
        RunStatus(run.status),
        run.exceptions,
        run.conflicts,
        len(missing),
        run.error,
        missing_symbols=tuple(sorted({m.symbol for m in missing})),
        active_contracts=active,
        unvalued_contracts=unvalued,
    )


def runs_of_date(session: Session, as_of: date) -> list[BatchRun]:
    """Every run (every attempt, steps too) of as-of date `as_of`, by id."""
    return list(session.scalars(select(BatchRun).where(BatchRun.as_of_date == as_of).order_by(BatchRun.id)))


def conflicts_of(session: Session, run_ids: list[int]) -> list[IdempotencyConflict]:
    """The idempotency conflicts the runs recorded: a restated value refused, for a person."""
    if not run_ids:
        return []
    stmt = select(IdempotencyConflict).where(IdempotencyConflict.batch_run_id.in_(run_ids))
    return list(session.scalars(stmt.order_by(IdempotencyConflict.id)))


def contract_mtm_lines(session: Session, as_of: date, previous: date | None) -> list[ContractMtm]:
    """Each contract's MTM of `as_of` with its previous date's, its underlying and its
    counterparty's legal name (`-` without one)."""
    before = aliased(MtmSnapshot)
    stmt = (
        select(HedgeContract.underlying, Counterparty.legal_name, MtmSnapshot.currency, MtmSnapshot.mtm_value)
        .add_columns(before.mtm_value)
        .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
        .outerjoin(Counterparty, Counterparty.id == HedgeContract.counterparty_id)
        .outerjoin(
            before,
            (before.object_type == MtmSnapshot.object_type)
            & (before.object_id == MtmSnapshot.object_id)
            & (before.as_of_date == previous),
        )
        .where(MtmSnapshot.as_of_date == as_of, MtmSnapshot.object_type == "hedge_contract")
    )
    return [ContractMtm(u, name or "-", c, v, p) for u, name, c, v, p in session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class ContractMtm:
    underlying: str
    counterparty: str
    currency: str
    mtm: Decimal
    previous: Decimal | None


def blocked_postings(session: Session, as_of: date) -> list[tuple[str, str, int | None]]:
    """(designation ref, reason, run id) of each relationship whose entries of `as_of` were blocked."""
    stmt = (
        select(HedgeRelationship.designation_ref, PostingException.reason, PostingException.batch_run_id)
        .join(HedgeRelationship, HedgeRelationship.id == PostingException.relationship_id)
        .where(PostingException.as_of_date == as_of)
        .order_by(HedgeRelationship.designation_ref)
    )
    return [(ref, reason, run_id) for ref, reason, run_id in session.execute(stmt)]
