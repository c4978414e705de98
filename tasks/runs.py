"""Starting and ending runs: the Redis lock (distributed) and the database guard around
the ledger, lock release and the parent's next step sent only after commit."""
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

from core.keys import run_lock_key
from core.values import Job, RunStatus, Trigger
from db import ledger
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks.base import is_transient
from tasks.payloads import JobRequest
from tasks.runtime import runtime
from tasks.summary import run_summary

log = structlog.get_logger(__name__)

ADVANCE_NIGHTLY = "hedgeops.nightly.advance_nightly"


@dataclass(frozen=True, slots=True)
class Begun:
    """`proceed` is True when this task owns the run: a new attempt, or its own attempt
    again (a retry or a redelivery keeps the task id)."""

    run_id: int | None
    proceed: bool
    summary: dict[str, Any]


def run_job(job: Job, task_id: str | None, work: Callable[[int], dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    """The body of every job's entry task: validate the arguments, start (or find) the run,
    and do `work(run_id)` with the run bound to every log line; a permanent error inside
    ends the run `failed`."""
    request = JobRequest.model_validate(arguments)
    day = request.as_of_or(runtime().clock().date())
    begun = begin(job, day, request.trigger, task_id=task_id, parent_run_id=request.parent_run_id)
    if not begun.proceed or begun.run_id is None:
        return begun.summary
    with structlog.contextvars.bound_contextvars(batch_run_id=begun.run_id, as_of=day.isoformat()), \
            failing_run(begun.run_id):
        return work(begun.run_id)


def begin(job: Job, as_of: date, trigger: Trigger, *, task_id: str | None, parent_run_id: int | None = None) -> Begun:
    rt = runtime()
    token = uuid.uuid4().hex
    with rt.uow() as uow:
        s = uow.session
        mine = _own_attempt(s, job, as_of, task_id)
        if mine is not None:
            return Begun(mine.id, True, run_summary(mine, note="resumed"))
        if parent_run_id is not None and (step := ledger.child_run(s, parent_run_id, job)) is not None:
            _nudge_parent(uow, step)
            uow.commit()
            return Begun(step.id, False, run_summary(step, note="step already started"))
        if rt.run_lock.acquire(run_lock_key(job.value, as_of), token):
            return _start(uow, job, as_of, trigger, token=token, task_id=task_id, parent_run_id=parent_run_id)
    return _report_holder(job, as_of)  # outside the unit of work: it opens its own


def _start(uow: SqlAlchemyUnitOfWork, job: Job, as_of: date, trigger: Trigger, *, token: str,
           task_id: str | None, parent_run_id: int | None) -> Begun:
    """Holding the lock: the new attempt goes into the ledger (or the guard names the running one)."""
    rt = runtime()
    lock_name = run_lock_key(job.value, as_of)
    started = ledger.start_run(uow.session, job, as_of, trigger, now=rt.clock(), stale_after=rt.stale_after,
                               parent_run_id=parent_run_id, lock_token=token, task_id=task_id)
    if not started.new:
        rt.run_lock.release(lock_name, token)
        return Begun(started.run.id, False, run_summary(started.run, note="already running"))
    uow.commit()
    log.info("batch_run_started", job=job.value, as_of=as_of.isoformat(), batch_run_id=started.run.id,
             attempt=started.run.attempt, trigger=trigger.value)
    return Begun(started.run.id, True, run_summary(started.run))


def _report_holder(job: Job, as_of: date, patience: float = 10.0) -> Begun:
    """Another trigger holds the lock: report its run. It may be between taking the lock
    and committing its ledger row, so look again for a few seconds."""
    deadline = time.monotonic() + patience
    while True:
        with runtime().uow() as uow:
            current = ledger.running_run(uow.session, job, as_of)
            if current is not None:
                log.info("run_already_running", job=job.value, as_of=as_of.isoformat(), batch_run_id=current.id)
                return Begun(current.id, False, run_summary(current, note="already running"))
        if time.monotonic() > deadline:
            return Begun(None, False, {"job": job.value, "as_of": as_of.isoformat(), "status": "running",
                                       "batch_run_id": None, "note": "another trigger holds the run lock"})
        time.sleep(0.1)


def _own_attempt(session: Any, job: Job, as_of: date, task_id: str | None) -> BatchRun | None:
    current = ledger.running_run(session, job, as_of)
    if current is not None and task_id is not None and current.task_id == task_id:
        return current
    return None


def finish(uow: SqlAlchemyUnitOfWork, run: BatchRun, *, error: str | None = None,
           status: RunStatus | None = None) -> bool:
    """End `run` in this unit of work; after commit, release its lock and nudge its parent."""
    rt = runtime()
    ended = ledger.finish_run(uow.session, run, rt.clock(), error=error, status=status)
    if ended:
        token = run.lock_token
        name = run_lock_key(run.job, run.as_of_date)
        if token:
            uow.after_commit(lambda: rt.run_lock.release(name, token))
        summary = run_summary(run)
        uow.after_commit(lambda: log.info("batch_run_finished", **_log_fields(summary)))
    _nudge_parent(uow, run)
    return ended


def _log_fields(summary: dict[str, Any]) -> dict[str, Any]:
    return {"job": summary["job"], "as_of": summary["as_of"], "batch_run_id": summary["batch_run_id"],
            "status": summary["status"], **summary["counts"]}


def _nudge_parent(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> None:
    """A finished step tells its parent to move on; safe to repeat."""
    if run.parent_run_id is not None and run.finished_at is not None:
        parent = run.parent_run_id
        uow.after_commit(lambda: signature(ADVANCE_NIGHTLY, kwargs={"run_id": parent}).apply_async())


@contextlib.contextmanager
def failing_run(run_id: int) -> Iterator[None]:
    """A permanent error inside ends the run `failed` with the error, then propagates.
    Transient errors propagate untouched: the task's retry resumes the same run."""
    try:
        yield
    except BaseException as exc:  # KeyboardInterrupt too: an interrupted in-process run ends failed
        if not is_transient(exc):
            log.error("batch_run_failed", batch_run_id=run_id, error=repr(exc))
            with runtime().uow() as uow:
                finish(uow, ledger.get_run(uow.session, run_id, for_update=True), error=f"{type(exc).__name__}: {exc}")
                uow.commit()
        raise


def fail_runs_of_task(task_id: str, exc: BaseException) -> None:
    """End `failed` the running run a given task started, if any (safe to repeat)."""
    with runtime().uow() as uow:
        for run in ledger.running_runs_of_task(uow.session, task_id):
            finish(uow, run, error=f"gave up: {type(exc).__name__}: {exc}")
        uow.commit()


def heartbeat(run: BatchRun) -> None:
    """Keep the run's lock alive while chunks come in."""
    if run.lock_token:
        runtime().run_lock.refresh(run_lock_key(run.job, run.as_of_date), run.lock_token)
