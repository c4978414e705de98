"""A terminal's sync cycle: one run in the ledger (job `mt5_sync:<terminal>`) that fans its
enabled accounts out in chunk tasks on the terminal's queue and ends when the last chunk
counts itself in. It goes through the one run lifecycle (tasks.runs) with the cycle's
scope: one running cycle per terminal whatever the date, under the cycle lock (distributed)
and the ledger, so a second trigger gets a report of the running one."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from celery import signature
from pydantic import BaseModel, ConfigDict, Field

from core.ledger import chunks
from core.mt5.accounts import CYCLE_JOB_PREFIX, TerminalName, cycle_job, cycle_scope
from core.values import Trigger
from db import ledger
from db.mt5.accounts import enabled_account_ids
from tasks import names, resend, runs
from tasks.base import job_task
from tasks.mt5.queues import terminal_queue
from tasks.runtime import runtime
from tasks.summary import run_summary

log = structlog.get_logger(__name__)


class CycleRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    terminal: TerminalName
    trigger: Trigger = Trigger.MANUAL
    logins: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=1, max_length=10_000)] | None = None


@job_task(names.RUN_SYNC_CYCLE, queue=terminal_queue)
def run_sync_cycle(
    self: Any, terminal: str, trigger: str = "manual", logins: list[int] | None = None
) -> dict[str, Any]:
    request = CycleRequest.model_validate({"terminal": terminal, "trigger": trigger, "logins": logins})
    return begin_cycle(request, self.request.id)


def begin_cycle(request: CycleRequest, task_id: str | None) -> dict[str, Any]:
    """Start the terminal's cycle and send its chunks after commit; or report the running
    one. A terminal without an enabled account has no cycle: no ledger row (beat would
    write thousands a day)."""
    rt = runtime()
    with rt.uow() as uow:
        enabled = bool(enabled_account_ids(uow.session, request.terminal, request.logins))
    if not enabled:
        log.info("mt5_cycle_skipped", reason="no enabled account")
        return {
            "job": cycle_job(request.terminal),
            "terminal": request.terminal,
            "status": "skipped",
            "batch_run_id": None,
            "note": "no enabled account: no cycle",
        }
    scope = cycle_scope(request.terminal, rt.clock().date())
    details = {"terminal": request.terminal, "logins": request.logins}
    return runs.run(scope, request.trigger, task_id, lambda run_id: plan_cycle(run_id, request), details=details)


def plan_cycle(run_id: int, request: CycleRequest) -> dict[str, Any]:
    rt = runtime()
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        ids = enabled_account_ids(uow.session, request.terminal, request.logins)
        parts = chunks(ids, rt.mt5_chunk_size) if ids else []
        run.chunks_total = len(parts)
        run.details = {**run.details, "accounts": len(ids), "chunk_size": rt.mt5_chunk_size}
        if not parts:
            runs.finish(uow, run)
        else:
            done = set(ledger.done_chunks(uow.session, run.id))
            todo = [(no, part) for no, part in enumerate(parts) if no not in done]
            uow.after_commit(lambda: send_chunks(run.id, request.terminal, todo))
        uow.commit()
    log.info("mt5_cycle_planned", accounts=len(ids), chunks=len(parts))
    return run_summary(run)


def resend_cycle(run_id: int) -> dict[str, Any]:
    """Beat's sweep for a stale cycle (tasks.resend): the chunks not counted in are sent
    again. A worker killed mid-chunk leaves its message unacked until Redis' visibility
    timeout (an hour by default); the sweep moves the cycle's heartbeat on, so without this
    the cycle would never look abandoned either, and a guard's closes the killed chunk left
    open would wait that hour."""
    with runtime().uow() as uow:
        details = ledger.get_run(uow.session, run_id).details
    request = CycleRequest.model_validate(
        {"terminal": details["terminal"], "logins": details.get("logins"), "trigger": Trigger.MANUAL}
    )
    return plan_cycle(run_id, request)


resend.PREFIX_RESENDERS[CYCLE_JOB_PREFIX] = resend_cycle


def send_chunks(run_id: int, terminal: str, todo: list[tuple[int, list[int]]]) -> None:
    for chunk_no, ids in todo:
        kwargs = {"run_id": run_id, "terminal": terminal, "chunk_no": chunk_no, "account_ids": ids}
        signature(names.SYNC_ACCOUNTS, kwargs=kwargs).apply_async(queue=names.queue_of_terminal(terminal))
