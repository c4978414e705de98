"""The nightly chain: prices for D-1, then MTM for D, then the effectiveness tests of D,
then the hedge accounting entries of D; its last move computes the counterparty exposures
of D from D's MTM (tasks.counterparties) as it ends the nightly.
The nightly run is a parent in the ledger; `advance_nightly` looks at its steps and starts
the next one. It may be called any number of times (every finished step calls it): each
call moves the chain at most one step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog
from celery import signature

from core.ledger import combined_status, is_abandoned
from core.run_details import RunRecord, StepRun
from core.values import Counts, Job, RunStatus
from db import ledger
from db.models import BatchRun
from tasks import names, runs
from tasks.base import job_task
from tasks.counterparties import alert_breaches, compute_exposures, failures_of
from tasks.hedging.settlement import propose_settlements
from tasks.payloads import RunRef
from tasks.ports import Ports, ports
from tasks.summary import run_summary

log = structlog.get_logger(__name__)

#: The steps of the nightly in order, and the task that runs each.
STEPS: tuple[tuple[Job, str], ...] = (
    (Job.PRICES, names.FETCH_SETTLEMENT_PRICES),
    (Job.MTM, names.COMPUTE_MTM_SNAPSHOTS),
    (Job.EFFECTIVENESS, names.ASSESS_HEDGE_EFFECTIVENESS),
    (Job.POSTINGS, names.POST_HEDGE_ACCOUNTING_ENTRIES),
)


@job_task(names.RUN_NIGHTLY, queue=names.QueueName.VALUATION)
def run_nightly(self: Any, as_of: str | None = None, trigger: str = "manual") -> dict[str, Any]:
    p = ports()
    return runs.run_job(p, Job.NIGHTLY, self.request.id, partial(start_chain, p), as_of=as_of, trigger=trigger)


def start_chain(p: Ports, run_id: int) -> dict[str, Any]:
    """The nightly run is in the ledger: send its first move (again, on a redelivery: harmless)."""
    advance_nightly.apply_async(kwargs={"run_id": run_id})
    with p.uow() as uow:
        return run_summary(ledger.get_run(uow.session, run_id))


@job_task(names.ADVANCE_NIGHTLY, queue=names.QueueName.VALUATION)
def advance_nightly(self: Any, run_id: int) -> dict[str, Any]:
    ref, p = RunRef(run_id=run_id), ports()
    with runs.failing_run(p, ref.run_id):
        return advance(p, ref.run_id)


def advance(p: Ports, run_id: int) -> dict[str, Any]:
    with p.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        if run.finished_at is None:
            _next_move(p, uow, run)
        uow.commit()
        return run_summary(run)


def resend_missing_step(p: Ports, run_id: int, stale_after: timedelta) -> bool:
    """The stale-run sweep's move of a nightly without heartbeat for `stale_after` (tasks.resend):
    when no step of it is running (the next step's message was lost: purged, flushed, or its
    worker died before the step's run began; or the last advance was lost), it moves on as
    `advance` would and its heartbeat with it, so two sweeps never send the step twice. A
    running step with chunks is left to its own chunks' sweep; one without (its message lost
    after its run began: its worker died and the message went with a FLUSHALL or a Redis
    restart without AOF) is sent again under its own task id, so that it resumes its own run
    (tasks.runs.begin). True when it moved."""
    with p.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        now = p.clock()
        if run.finished_at is not None or not is_abandoned(_utc(run.heartbeat_at), now, stale_after):
            return False
        running = [step for step in ledger.children(uow.session, run.id) if step.finished_at is None]
        if running and not _resume_stale_step(p, uow, running[0], stale_after):
            return False
        if not running:
            _next_move(p, uow, run)
        run.heartbeat_at = now
        uow.after_commit(lambda: runs.heartbeat(p, run))  # the lock lives as long as the run moves
        uow.commit()
    log.warning("nightly_step_resent", batch_run_id=run_id, as_of=run.as_of_date.isoformat(), resumed=bool(running))
    return True


def _resume_stale_step(p: Ports, uow: Any, step: BatchRun, stale_after: timedelta) -> bool:
    """Send a running step without chunks and without heartbeat for `stale_after` again, with
    the task id of its run: the message resumes that run. False when it is not such a step."""
    task = dict(STEPS).get(Job(step.job))
    now = p.clock()
    if task is None or step.task_id is None or step.chunks_total > 0:
        return False
    if not is_abandoned(_utc(step.heartbeat_at), now, stale_after):
        return False
    kwargs = {"as_of": step.as_of_date.isoformat(), "trigger": step.trigger, "parent_run_id": step.parent_run_id}
    task_id = step.task_id
    uow.after_commit(lambda: signature(task, kwargs=kwargs).apply_async(task_id=task_id))
    step.heartbeat_at = now
    log.info("nightly_step_sent", step=step.job, as_of=step.as_of_date.isoformat(), resumed_run=step.id)
    return True


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite keeps no zone


def _next_move(p: Ports, uow: Any, run: BatchRun) -> None:
    steps = []
    for job, task_name in STEPS:
        step = ledger.child_run(uow.session, run.id, job)
        if step is None:
            kwargs = {"as_of": run.as_of_date.isoformat(), "trigger": run.trigger, "parent_run_id": run.id}
            uow.after_commit(lambda name=task_name, kw=kwargs: signature(name, kwargs=kw).apply_async())
            run.heartbeat_at = p.clock()  # a sign of life: the sweep waits a full interval for the step to start
            log.info("nightly_step_sent", step=job.value, as_of=run.as_of_date.isoformat())
            return
        if step.finished_at is None:
            return
        if step.status == RunStatus.FAILED.value:
            runs.finish(p, uow, run, error=f"step {job.value} (batch run {step.id}) failed: {step.error}")
            return
        steps.append(step)
    _finish_with_steps(p, uow, run, steps)


def _finish_with_steps(p: Ports, uow: Any, run: BatchRun, steps: list[BatchRun]) -> None:
    """The counts of the steps and of the counterparty exposures (one aggregate over D's
    snapshots, in this unit of work: docs/counterparties.md says why it is no step of its
    own); a breach or an uncomputed exposure is an exception of the nightly, a breach is
    alerted after commit."""
    total = Counts()
    for step in steps:
        total.add(ledger.counts_of(step))
    exposure = compute_exposures(p, uow.session, run.as_of_date, run.id)
    total.add(exposure.counts)
    proposed = propose_settlements(p, uow.session, run.as_of_date, run.id)  # docs/hedge-accounting.md, Settlement
    total.add(proposed.counts)
    ledger.add_counts(uow.session, run.id, total, p.clock())
    failures = failures_of(exposure)
    failures += proposed.missing
    run.details = {**run.details, **carried_details(steps, failures)}
    statuses = [RunStatus(s.status) for s in steps]
    if exposure.counts.exceptions or proposed.counts.exceptions:
        statuses.append(RunStatus.COMPLETED_WITH_EXCEPTIONS)
    if exposure.counts.conflicts or proposed.counts.conflicts:
        statuses.append(RunStatus.COMPLETED_WITH_CONFLICTS)
    if exposure.breaches:
        uow.after_commit(lambda: alert_breaches(p, exposure.breaches))
    if runs.finish(p, uow, run, status=combined_status(statuses)) and p.nightly_ended is not None:
        uow.after_commit(partial(p.nightly_ended, run.as_of_date))


def carried_details(steps: list[BatchRun], failures: list[str] | None = None) -> dict[str, Any]:
    """What the nightly carries of its steps: the D-1 prices missing, the sources that
    failed, and which run each step was; and its own exceptions (`failures`: the
    counterparty limits breached, the exposures a missing rate left uncomputed)."""
    records = [RunRecord.from_details(step.details) for step in steps]
    return RunRecord(
        price_missing=[m for r in records for m in r.price_missing or []],
        failed_sources=[f for r in records for f in r.failed_sources or []],
        steps={step.job: StepRun(batch_run_id=step.id, status=step.status) for step in steps},
        failures=failures or None,
    ).as_details()
