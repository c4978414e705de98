"""A run proves what it covered (issue 21, point 1).

A chunked run's plan keeps, with each chunk, the objects the chunk must value (its
members: tasks.fanout, db.ledger), and the run's details their count and fingerprint per
object type (core.plans.CoveragePlan). At the run's end (`close_gaps`, in the last chunk's
unit of work, before the run's status is decided) every planned object with neither a
result nor an exception becomes an exception: counted, so the run is never `succeeded`
short of its plan. `hedgeops verify` asks the same of a date's runs (tasks.coverage_check),
and checks that each plan still has the fingerprint it was recorded with.

One mechanism for every fanned-out job; what differs is a `JobCoverage` each job's room
declares: which planned ids are covered, and the gap's name. MTM (tasks.valuation): a
snapshot or an exception, a gap `not_valued` in mtm_exceptions. Effectiveness and postings
(tasks.hedging.coverage): a result, or an entry or a `postings_blocked` exception; gaps
`not_assessed`, `not_posted`. A terminal's cycle (tasks.mt5.coverage): a position snapshot
or a failure row; gap `not_synced`. These three write `coverage_gaps` rows (db.coverage_gaps):
a gap is named after what did not happen, so an operator reading one knows which job
missed what. This module names no domain room.

A run planned before members were kept has none: nothing is claimed of it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core.plans import CoveragePlan, IdRuns, PlannedSet, planned_sets, run_count, uncovered
from core.values import Counts, ExceptionReason
from db import ledger
from db.audit import record_event
from db.coverage_gaps import write_gaps
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks.fanout import Chunk
from tasks.ports import Ports

log = structlog.get_logger(__name__)

#: How many ids of a gap its audit row and log line name (all are in the gap rows).
NAMED = 50

#: The ids among a run's planned runs of one object type that have a result or an exception.
Covered = Callable[[Session, BatchRun, str, IdRuns], Collection[int]]
#: Writes a run's gaps of one object type as exceptions; the counts they add to the run.
GapWriter = Callable[[Session, BatchRun, str, list[int], datetime], Counts]


@dataclass(frozen=True, slots=True)
class JobCoverage:
    """How one job's results cover its plan: `covered` (which planned ids have a result or
    an exception), `reason` (what a gap is called: `not_valued`, `not_assessed`,
    `not_posted`, `not_synced`), `write` (how a gap is recorded; by default a
    `coverage_gaps` row) and `key` (the result key a `verify` finding names)."""

    job: str
    reason: str
    covered: Covered
    key: Callable[[str, int, BatchRun], str]
    write: GapWriter | None = None

    def write_gaps(self, session: Session, run: BatchRun, kind: str, ids: list[int], now: datetime) -> Counts:
        if self.write is not None:
            return self.write(session, run, kind, ids, now)
        report = write_gaps(
            session,
            job=run.job,
            object_type=kind,
            object_ids=ids,
            as_of=run.as_of_date,
            reason=self.reason,
            batch_run_id=run.id,
            now=now,
        )
        counts = report.counts()
        counts.exceptions += len(ids)
        return counts


@dataclass(slots=True)
class RunCoverage:
    """What a run planned (per object type, how many), what of it is not covered, and whether
    its plan still has the fingerprint its run recorded."""

    run_id: int
    job: str
    planned: dict[str, int] = field(default_factory=dict)
    missing: dict[str, list[int]] = field(default_factory=dict)
    plan_intact: bool = True
    reason: str = ExceptionReason.NOT_VALUED.value


def gaps(session: Session, run: BatchRun, spec: JobCoverage) -> RunCoverage | None:
    """The planned objects of `run` with neither a result nor an exception (other than a
    gap) of its date; None for a run whose plan kept no members."""
    members = ledger.planned_members(session, run.id)
    if members is None:
        return None
    sets = planned_sets(members)
    found = RunCoverage(run.id, run.job, {kind: run_count(runs) for kind, runs in sets.items()}, reason=spec.reason)
    recorded = CoveragePlan.from_details(run.details).planned or {}
    found.plan_intact = recorded == {kind: PlannedSet.of(runs) for kind, runs in sets.items()}
    for kind, runs in sets.items():
        missing = uncovered(runs, spec.covered(session, run, kind, runs)) if runs else []
        if missing:
            found.missing[kind] = missing
    return found


def closer(spec: JobCoverage) -> Callable[[Ports, SqlAlchemyUnitOfWork, BatchRun], Counts]:
    """`spec`'s coverage as the `close=` hook of tasks.fanin.chunk_step."""

    def close(p: Ports, uow: SqlAlchemyUnitOfWork, run: BatchRun) -> Counts:
        return close_gaps(p, uow.session, run, spec)

    return close


def close_gaps(p: Ports, session: Session, run: BatchRun, spec: JobCoverage) -> Counts:
    """At the end of `run`: its gaps written as exceptions named `spec.reason` (audited, one
    log line), their number recorded in its details; the counts to add to the run."""
    found = gaps(session, run, spec)
    if found is None:
        return Counts()
    total = sum(map(len, found.missing.values()))
    run.details = {**run.details, **CoveragePlan(not_valued=total).as_details()}
    if not total:
        return Counts()
    now, counts = p.clock(), Counts()
    for kind, ids in found.missing.items():
        counts.add(spec.write_gaps(session, run, kind, ids, now))
    named = {kind: ids[:NAMED] for kind, ids in found.missing.items()}
    log.warning("run_not_covered", batch_run_id=run.id, reason=spec.reason, not_covered=total, **named)
    record_event(
        session,
        "run_not_covered",
        entity_type="batch_run",
        entity_id=run.id,
        now=now,
        batch_run_id=run.id,
        details={spec.reason: total, "planned": found.planned, **named},
    )
    return counts


def planned_details(chunks: Sequence[Chunk]) -> dict[str, Any]:
    """What a run records of the members its chunks planned (core.plans.CoveragePlan)."""
    sets = planned_sets(c.members for c in chunks if c.members is not None)
    return CoveragePlan(planned={kind: PlannedSet.of(runs) for kind, runs in sets.items()}).as_details()


def coverage_of_date(p: Ports, as_of: date, specs: Sequence[JobCoverage]) -> list[RunCoverage]:
    """The coverage of the latest ended attempt of each covered job of `as_of` (a running
    one is not judged yet)."""
    found = []
    with p.uow() as uow:
        for spec in specs:
            run = ledger.latest_ended_run(uow.session, spec.job, as_of)
            if run is not None and (covered := gaps(uow.session, run, spec)) is not None:
                found.append(covered)
    return found
