"""The one run lifecycle of every job and every MT5 cycle: start under the lock and the
database guard, heartbeat, abandon when stale, finish and fail (a chunk counts itself in
through tasks.fanin). Lock release and the parent's next step are sent only after commit.

What a run is of and how it is guarded is its `RunScope` (core.ledger): a nightly job's
(one attempt per job and date, the run lock) or a terminal's cycle (one whatever the date,
the cycle lock; failed accounts fail it). The scope goes into the run's details, so
whoever ends the run knows its lock."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from celery import signature
from sqlalchemy.orm import Session

from core.ledger import RunScope, job_scope
from core.ports import RunLock, RunObserver
from core.redaction import redacted_error
from core.run_details import RunRecord, StoredScope
from core.values import Counts, Job, Trigger
from db import ledger
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks import names
from tasks.base import is_transient, note_ended, sent_at
from tasks.payloads import JobRequest
from tasks.ports import Ports
from tasks.summary import run_summary

log = structlog.get_logger(__name__)

Work = Callable[[int], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Begun:
    """`proceed` is True when this task owns the run: a new attempt, or its own attempt
    again (a retry or a redelivery keeps the task id)."""

    run_id: int | None
    proceed: bool
    summary: dict[str, Any]


def run_job(p: Ports, job: Job, task_id: str | None, work: Work, **arguments: Any) -> dict[str, Any]:
    """The body of every nightly job's entry task: validate the arguments, then `run`."""
    request = JobRequest.model_validate(arguments)
    day = request.as_of_or(p.clock().date())
    return run(p, job_scope(job, day), request.trigger, task_id, work, parent_run_id=request.parent_run_id)


def run(
    p: Ports,
    scope: RunScope,
    trigger: Trigger,
    task_id: str | None,
    work: Work,
    *,
    parent_run_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start (or find) the run of `scope` and do `work(run_id)` with the run bound to every
    log line; a permanent error inside ends the run `failed`."""
    begun = begin(p, scope, trigger, task_id=task_id, parent_run_id=parent_run_id, details=details)
    if not begun.proceed or begun.run_id is None:
        return begun.summary
    with bound_run(begun.run_id, scope.as_of, parent_run_id), failing_run(p, begun.run_id):
        return work(begun.run_id)


@contextlib.contextmanager
def bound_run(run_id: int, as_of: date, parent_run_id: int | None = None) -> Iterator[None]:
    """The run's id, its parent's and its date on every log line inside, restored after."""
    parent = {"parent_run_id": parent_run_id} if parent_run_id is not None else {}
    with structlog.contextvars.bound_contextvars(batch_run_id=run_id, as_of=as_of.isoformat(), **parent):
        yield


def begin(
    p: Ports,
    scope: RunScope,
    trigger: Trigger,
    *,
    task_id: str | None,
    parent_run_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Begun:
    lock = p.run_policy(scope).lock
    token = uuid.uuid4().hex
    with p.uow() as uow:
        s = uow.session
        mine = _own_attempt(s, scope, task_id)
        if mine is not None:
            return Begun(mine.id, True, run_summary(mine, note="resumed"))
        if parent_run_id is not None and (step := ledger.child_run(s, parent_run_id, scope.job)) is not None:
            _nudge_parent(uow, step)
            uow.commit()
            return Begun(step.id, False, run_summary(step, note="step already started"))
        if (queued := _ran_while_queued(s, scope)) is not None:
            return queued
        if lock is None or lock.acquire(scope.lock_name, token) or _took_over_ended(s, lock, scope, token):
            return _start(
                p, uow, scope, trigger, token=token, task_id=task_id, parent_run_id=parent_run_id, details=details
            )
    return _report_holder(p, scope)  # outside the unit of work: it opens its own


def _took_over_ended(session: Session, lock: RunLock, scope: RunScope, token: str) -> bool:
    """The lock is held by a run that has ended (its worker died between the commit that
    ended it and the release after it): let that token go and take the lock. A holder
    with no ended run of its token (one between taking the lock and committing its ledger
    row, or running) keeps it."""
    held = lock.holder(scope.lock_name)
    if held is None or (ended := ledger.ended_run_holding(session, held)) is None:
        return False
    lock.release(scope.lock_name, held)
    log.warning(
        "run_lock_of_ended_run_released",
        job=scope.job,
        as_of=scope.as_of.isoformat(),
        batch_run_id=ended.id,
        status=ended.status,
    )
    return lock.acquire(scope.lock_name, token)


def _start(
    p: Ports,
    uow: SqlAlchemyUnitOfWork,
    scope: RunScope,
    trigger: Trigger,
    *,
    token: str,
    task_id: str | None,
    parent_run_id: int | None,
    details: dict[str, Any] | None,
) -> Begun:
    """Holding the lock: the new attempt goes into the ledger (or the guard names the running one)."""
    policy = p.run_policy(scope)
    stored = dict(details or {})
    if scope != job_scope(scope.job, scope.as_of):
        stored |= RunRecord(scope=StoredScope(**scope.stored())).as_details()
    started = ledger.start_run(
        uow.session,
        scope.job,
        scope.as_of,
        trigger,
        now=p.clock(),
        stale_after=policy.stale_after,
        parent_run_id=parent_run_id,
        lock_token=token,
        task_id=task_id,
        details=stored,
        any_date=scope.any_date,
    )
    if not started.new:
        if policy.lock is not None:
            policy.lock.release(scope.lock_name, token)
        return Begun(started.run.id, False, run_summary(started.run, note="already running"))
    uow.commit()
    log.info(
        "batch_run_started",
        job=scope.job,
        as_of=scope.as_of.isoformat(),
        batch_run_id=started.run.id,
        attempt=started.run.attempt,
        trigger=trigger.value,
    )
    return Begun(started.run.id, True, run_summary(started.run))


def _report_holder(p: Ports, scope: RunScope, patience: float = 10.0) -> Begun:
    """Another trigger holds the lock: report its run. It may be between taking the lock
    and committing its ledger row, so look again for a few seconds."""
    deadline = time.monotonic() + patience
    while True:
        with p.uow() as uow:
            current = ledger.running_run(uow.session, scope.job, scope.as_of, any_date=scope.any_date)
            if current is not None:
                log.info("run_already_running", job=scope.job, as_of=scope.as_of.isoformat(), batch_run_id=current.id)
                return Begun(current.id, False, run_summary(current, note="already running"))
        if time.monotonic() > deadline:
            return Begun(
                None,
                False,
                {
                    "job": scope.job,
                    "as_of": scope.as_of.isoformat(),
                    "status": "running",
                    "batch_run_id": None,
                    "note": "another trigger holds the run lock",
                },
            )
        time.sleep(0.1)


def _ran_while_queued(session: Session, scope: RunScope) -> Begun | None:
    """A trigger sent before the latest run of its job and date ended (while it ran, or
    before it started: ten triggers sent at once), processed after that run ended (it
    waited behind the run's chunks): it reports that run, it starts none."""
    sent = sent_at()
    if sent is None or scope.any_date:
        return None
    latest = ledger.latest_run(session, scope.job, scope.as_of)
    if latest is None or latest.finished_at is None or not ledger.ended_after(latest, sent):
        return None
    log.info("run_ran_while_queued", job=scope.job, as_of=scope.as_of.isoformat(), batch_run_id=latest.id)
    return Begun(latest.id, False, run_summary(latest, note="ran while this trigger was queued"))


def _own_attempt(session: Session, scope: RunScope, task_id: str | None) -> BatchRun | None:
    current = ledger.running_run(session, scope.job, scope.as_of, any_date=scope.any_date)
    if current is not None and task_id is not None and current.task_id == task_id:
        return current
    return None


def scope_of(run: BatchRun) -> RunScope:
    return RunScope.of_run(run.job, run.as_of_date, run.details or {})


def finish(p: Ports, uow: SqlAlchemyUnitOfWork, run: BatchRun, *, error: str | None = None, status: Any = None) -> bool:
    """End `run` in this unit of work; after commit, release its lock and nudge its parent."""
    scope = scope_of(run)
    ended = ledger.finish_run(
        uow.session, run, p.clock(), error=error, status=status, exceptions_error=scope.exceptions_error
    )
    if ended:
        lock = p.run_policy(scope).lock
        token = run.lock_token
        if token and lock is not None:
            uow.after_commit(lambda: lock.release(scope.lock_name, token))
        summary = run_summary(run)
        observer = p.run_observer
        uow.after_commit(lambda: _ended(observer, summary, run))
    _nudge_parent(uow, run)
    return ended


def _ended(observer: RunObserver, summary: dict[str, Any], run: BatchRun) -> None:
    log.info("batch_run_finished", **_log_fields(summary))
    note_ended(summary)
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    observer.run_finished(summary["job"], summary["status"], seconds, summary.get("price_missing", 0), run.finished_at)


def _log_fields(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "job": summary["job"],
        "as_of": summary["as_of"],
        "batch_run_id": summary["batch_run_id"],
        "status": summary["status"],
        **summary["counts"],
    }


def _nudge_parent(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> None:
    """A finished step tells its parent to move on; safe to repeat."""
    if run.parent_run_id is not None and run.finished_at is not None:
        parent = run.parent_run_id
        uow.after_commit(lambda: signature(names.ADVANCE_NIGHTLY, kwargs={"run_id": parent}).apply_async())


def heartbeat(p: Ports, run: BatchRun) -> None:
    """Keep the run's lock alive while chunks come in."""
    scope = scope_of(run)
    lock = p.run_policy(scope).lock
    if run.lock_token and lock is not None:
        lock.refresh(scope.lock_name, run.lock_token)


@contextlib.contextmanager
def failing_run(p: Ports, run_id: int) -> Iterator[None]:
    """A permanent error inside ends the run `failed` with the error, then propagates.
    What the task retries (transient errors, retryable ones) propagates untouched: the
    retry resumes the same run."""
    try:
        yield
    except BaseException as exc:  # KeyboardInterrupt too: an interrupted in-process run ends failed
        if not is_transient(exc):
            log.error("batch_run_failed", batch_run_id=run_id, error=repr(exc))
            with p.uow() as uow:
                finish(p, uow, ledger.get_run(uow.session, run_id, for_update=True), error=redacted_error(exc))
                uow.commit()
        raise


def fail_runs_of_task(p: Ports, task_id: str, exc: BaseException) -> None:
    """End `failed` the running run a given task started, if any (safe to repeat)."""
    with p.uow() as uow:
        for stale in ledger.running_runs_of_task(uow.session, task_id):
            finish(p, uow, stale, error=f"gave up: {redacted_error(exc)}")
        uow.commit()


def counted_in(observer: RunObserver, uow: SqlAlchemyUnitOfWork, job: str, counts: Counts) -> None:
    """Results a run counted in: told to the observer (metrics) once they are committed."""
    uow.after_commit(lambda: observer.results_counted(job, counts))
