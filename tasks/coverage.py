"""A run proves what it covered (issue 21, point 1).

A chunked run's plan keeps, with each chunk, the objects the chunk must value (its
members: tasks.fanout, db.ledger), and the run's details their count and fingerprint per
object type (core.plans.CoveragePlan). At the run's end (`close_gaps`, in the last chunk's
unit of work, before the run's status is decided) every planned object with neither a
snapshot nor an exception of the date becomes an exception `not_valued`: counted, so the
run ends `completed_with_exceptions`, never `succeeded` short of its plan. `hedgeops
verify` asks the same of a date's runs (`coverage_findings`), and checks that each plan
still has the fingerprint it was recorded with.

A run planned before members were kept has none: nothing is claimed of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import structlog
from sqlalchemy.orm import Session

from core.keys import mtm_snapshot_key
from core.mtm_results import Valuation
from core.plans import CoveragePlan, IdRuns, PlannedSet, not_valued, planned_sets, run_count, uncovered
from core.values import Counts, Job, ObjectType
from core.verify import Finding
from db import ledger
from db.audit import record_event
from db.models import BatchRun
from db.valuations import covered_ids, write_valuation
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)

#: The jobs whose plans fix what they value, checked by `verify`.
COVERED_JOBS = (Job.MTM,)
#: How many ids of a gap its audit row and log line name (all are in mtm_exceptions).
NAMED = 50


@dataclass(slots=True)
class RunCoverage:
    """What a run planned (per object type, how many), what of it is not covered, and whether
    its plan still has the fingerprint its run recorded."""

    run_id: int
    job: str
    planned: dict[str, int] = field(default_factory=dict)
    missing: dict[str, list[int]] = field(default_factory=dict)
    plan_intact: bool = True


def gaps(session: Session, run: BatchRun) -> RunCoverage | None:
    """The planned objects of `run` with neither a snapshot nor an exception (other than
    `not_valued`) of its date; None for a run whose plan kept no members."""
    members = ledger.planned_members(session, run.id)
    if members is None:
        return None
    sets = planned_sets(members)
    found = RunCoverage(run.id, run.job, planned={kind: run_count(runs) for kind, runs in sets.items()})
    recorded = CoveragePlan.from_details(run.details).planned or {}
    found.plan_intact = recorded == {kind: PlannedSet.of(runs) for kind, runs in sets.items()}
    for kind, runs in sets.items():
        missing = _missing(session, run.as_of_date, ObjectType(kind), runs)
        if missing:
            found.missing[kind] = missing
    return found


def _missing(session: Session, as_of: date, oid: ObjectType, runs: IdRuns) -> list[int]:
    if not runs:
        return []
    return uncovered(runs, covered_ids(session, as_of, oid, runs[0][0], runs[-1][1]))


def close_gaps(p: Ports, session: Session, run: BatchRun) -> Counts:
    """At the end of `run`: its gaps written as `not_valued` exceptions (audited, one log
    line), their number recorded in its details; the counts to add to the run."""
    found = gaps(session, run)
    if found is None:
        return Counts()
    total = sum(map(len, found.missing.values()))
    run.details = {**run.details, **CoveragePlan(not_valued=total).as_details()}
    if not total:
        return Counts()
    excs = [e for kind, ids in found.missing.items() for e in not_valued(ObjectType(kind), ids, run.as_of_date)]
    now = p.clock()
    counts = write_valuation(session, Valuation([], excs), batch_run_id=run.id, now=now, correlation_id=run.task_id)
    named = {kind: ids[:NAMED] for kind, ids in found.missing.items()}
    log.warning("run_not_covered", batch_run_id=run.id, not_valued=total, **named)
    record_event(
        session,
        "run_not_covered",
        entity_type="batch_run",
        entity_id=run.id,
        now=now,
        batch_run_id=run.id,
        details={"not_valued": total, "planned": found.planned, **named},
    )
    return counts


def coverage_of_date(p: Ports, as_of: date) -> list[RunCoverage]:
    """The coverage of the latest ended attempt of each covered job of `as_of` (a running
    one is not judged yet)."""
    found = []
    with p.uow() as uow:
        for job in COVERED_JOBS:
            run = ledger.latest_ended_run(uow.session, job, as_of)
            if run is not None and (covered := gaps(uow.session, run)) is not None:
                found.append(covered)
    return found


def coverage_findings(as_of: date) -> tuple[list[RunCoverage], list[Finding]]:
    """`hedgeops verify`'s coverage check: each planned object not covered is a finding
    `not_valued` under its snapshot's key; a plan whose fingerprint changed, `plan_altered`."""
    runs = coverage_of_date(ports(), as_of)
    findings: list[Finding] = []
    for run in runs:
        if not run.plan_intact:
            findings.append(
                Finding(f"run {run.run_id}", "plan_altered", "its chunks' members no longer match the recorded plan")
            )
        for kind, ids in run.missing.items():
            findings += [
                Finding(
                    mtm_snapshot_key(ObjectType(kind), i, as_of),
                    "not_valued",
                    f"planned by run {run.run_id} ({run.job}): neither a snapshot nor an exception",
                )
                for i in ids
            ]
    return runs, findings
