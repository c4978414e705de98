"""A terminal's sync cycle: one run in the ledger (job `mt5_sync:<terminal>`) that fans
its enabled accounts out in chunk tasks on the terminal's queue and ends when the last
chunk counts itself in. A cycle never overlaps itself: the cycle lock (distributed) and
the ledger (one running cycle per terminal) turn a second trigger into a report of the
running one."""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from core.keys import mt5_cycle_lock_key
from core.ledger import chunks
from core.mt5.accounts import TerminalName
from core.values import RunStatus, Trigger
from db import ledger
from db.models import BatchRun
from db.mt5.accounts import enabled_account_ids
from db.mt5.cycles import running_cycle, start_cycle
from db.uow import SqlAlchemyUnitOfWork
from tasks.base import is_transient
from tasks.runtime import runtime
from tasks.summary import run_summary

log = structlog.get_logger(__name__)

SYNC_ACCOUNTS = "hedgeops.mt5.sync_accounts"


class CycleRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    terminal: TerminalName
    trigger: Trigger = Trigger.MANUAL
    logins: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=1, max_length=10_000)] | None = None


def queue_of(terminal: str) -> str:
    """The queue of a terminal's worker (one process, concurrency 1)."""
    return f"mt5.{terminal}"


def begin_cycle(request: CycleRequest, task_id: str | None) -> dict[str, Any]:
    """Start the terminal's cycle and send its chunks after commit; or report the running one."""
    rt = runtime()
    token = uuid.uuid4().hex
    lock = rt.mt5_cycle_lock
    if lock is not None and not lock.acquire(mt5_cycle_lock_key(request.terminal), token):
        return _already_running(request.terminal, "another cycle of this terminal holds the cycle lock")
    with rt.uow() as uow:
        details = {"terminal": request.terminal, "logins": request.logins}
        started = start_cycle(uow.session, request.terminal, request.trigger, now=rt.clock(),
                              stale_after=rt.mt5_cycle_stale_after, lock_token=token, task_id=task_id,
                              details=details)
        run = started.run
        if not started.new:
            if lock is not None:
                lock.release(mt5_cycle_lock_key(request.terminal), token)
            return run_summary(run, note="already running")
        _plan(uow, run, request)
        uow.commit()
    log.info("mt5_cycle_started", terminal=request.terminal, batch_run_id=run.id, accounts=run.chunks_total)
    return run_summary(run)


def _plan(uow: SqlAlchemyUnitOfWork, run: BatchRun, request: CycleRequest) -> None:
    rt = runtime()
    ids = enabled_account_ids(uow.session, request.terminal, request.logins)
    parts = chunks(ids, rt.mt5_chunk_size) if ids else []
    run.chunks_total = len(parts)
    run.details = {**run.details, "accounts": len(ids), "chunk_size": rt.mt5_chunk_size}
    if not parts:
        finish_cycle(uow, run)
        return
    uow.after_commit(lambda: send_chunks(run.id, request.terminal, parts))


def send_chunks(run_id: int, terminal: str, parts: list[list[int]]) -> None:
    from celery import signature

    for chunk_no, ids in enumerate(parts):
        kwargs = {"run_id": run_id, "terminal": terminal, "chunk_no": chunk_no, "account_ids": ids}
        signature(SYNC_ACCOUNTS, kwargs=kwargs).apply_async(queue=queue_of(terminal))


def _already_running(terminal: str, note: str) -> dict[str, Any]:
    with runtime().uow() as uow:
        current = running_cycle(uow.session, terminal)
        if current is not None:
            return run_summary(current, note="already running")
    return {"job": f"mt5_sync:{terminal}", "status": RunStatus.RUNNING.value, "batch_run_id": None, "note": note}


def finish_cycle(uow: SqlAlchemyUnitOfWork, run: BatchRun, *, error: str | None = None) -> bool:
    """End the cycle in this unit of work (failed when any account failed for good);
    release the cycle lock after commit."""
    rt = runtime()
    session = uow.session
    session.refresh(run)
    if error is None and run.exceptions:
        error = f"{run.exceptions} account(s) failed to sync"
    ended = ledger.finish_run(session, run, rt.clock(), error=error)
    if ended:
        token, terminal = run.lock_token, str(run.details.get("terminal"))
        lock = rt.mt5_cycle_lock
        if token and lock is not None:
            uow.after_commit(lambda: lock.release(mt5_cycle_lock_key(terminal), token))
        summary = run_summary(run)
        uow.after_commit(lambda: log.info("mt5_cycle_finished", terminal=terminal, batch_run_id=summary["batch_run_id"],
                                          status=summary["status"], **summary["counts"]))
    return ended


def heartbeat(run: BatchRun) -> None:
    """Keep the cycle lock alive while its chunks come in."""
    lock = runtime().mt5_cycle_lock
    if run.lock_token and lock is not None:
        lock.refresh(mt5_cycle_lock_key(str(run.details.get("terminal"))), run.lock_token)


@contextlib.contextmanager
def failing_cycle(run_id: int) -> Iterator[None]:
    """A permanent error inside ends the cycle `failed` (lock released), then propagates;
    transient errors propagate untouched for the task's retry."""
    try:
        yield
    except Exception as exc:
        if not is_transient(exc) and not getattr(exc, "retryable", False):
            log.error("mt5_cycle_failed", batch_run_id=run_id, error=repr(exc))
            with runtime().uow() as uow:
                finish_cycle(uow, ledger.get_run(uow.session, run_id, for_update=True),
                             error=f"{type(exc).__name__}: {exc}")
                uow.commit()
        raise
