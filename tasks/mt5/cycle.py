"""A terminal's sync cycle: one run in the ledger (job `mt5_sync:<terminal>`) that fans its
enabled accounts out in chunk tasks on the terminal's queue and ends when the last chunk
counts itself in. It goes through the one run lifecycle (tasks.runs) with the cycle's
scope: one running cycle per terminal whatever the date, under the cycle lock (distributed)
and the ledger, so a second trigger gets a report of the running one."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.ledger import chunks
from core.mt5.accounts import CYCLE_JOB_PREFIX, TerminalName, cycle_job, cycle_scope
from core.mt5.cycle_details import CycleDetails
from core.values import Trigger
from db.models import BatchRun
from db.mt5.accounts import enabled_account_ids
from tasks import coverage, fanout, names, runs
from tasks.base import job_task
from tasks.mt5.coverage import account_members
from tasks.mt5.ports import Mt5Ports, mt5_ports
from tasks.mt5.queues import terminal_queue
from tasks.ports import Ports, ports

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
    return begin_cycle(ports(), mt5_ports(), request, self.request.id)


def begin_cycle(p: Ports, mt5: Mt5Ports, request: CycleRequest, task_id: str | None) -> dict[str, Any]:
    """Start the terminal's cycle and send its chunks after commit; or report the running
    one. A terminal without an enabled account has no cycle: no ledger row (beat would
    write thousands a day)."""
    with p.uow() as uow:
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
    scope = cycle_scope(request.terminal, p.clock().date())
    details = CycleDetails(terminal=request.terminal, logins=request.logins).as_details()
    return runs.run(p, scope, request.trigger, task_id, partial(plan_cycle, p, mt5), details=details)


def plan_cycle(p: Ports, mt5: Mt5Ports, run_id: int, send: fanout.Send = fanout.send_group) -> dict[str, Any]:
    """Split the cycle's enabled accounts (of its terminal, or of the logins it names, as
    its start recorded them) into chunks on the terminal's queue, send them after commit.

    Also beat's sweep for a stale cycle (tasks.resend): the chunks not counted in are sent
    again. A worker killed mid-chunk leaves its message unacked until Redis' visibility
    timeout (an hour by default); the sweep moves the cycle's heartbeat on, so without this
    the cycle would never look abandoned either, and a guard's closes the killed chunk left
    open would wait that hour."""
    plan = partial(_plan, mt5.chunk_size)
    return fanout.fan_out(p, run_id, plan, send=send, event="mt5_cycle_planned")


def resend_cycle(run_id: int) -> dict[str, Any]:
    """The sweep's entry into a cycle: re-planning sends only the chunks the ledger lacks."""
    return plan_cycle(ports(), mt5_ports(), run_id)


CYCLE = fanout.ChunkedJob(CYCLE_JOB_PREFIX, resend=resend_cycle, per_instance=True)


def _plan(size: int, s: Session, run: BatchRun) -> fanout.Plan:
    cycle = CycleDetails.from_details(run.details)
    ids = enabled_account_ids(s, cycle.terminal, cycle.logins)
    parts = chunks(ids, size) if ids else []
    planned = [
        fanout.Chunk(
            names.SYNC_ACCOUNTS,
            _chunk(cycle.terminal, p),
            names.queue_of_terminal(cycle.terminal),
            members=account_members(p),
        )
        for p in parts
    ]
    return fanout.Plan(
        planned,
        details={
            **cycle.model_copy(update={"accounts": len(ids), "chunk_size": size}).as_details(),
            **coverage.planned_details(planned),
        },
        log={"accounts": len(ids), "chunks": len(parts)},
    )


def _chunk(terminal: str, account_ids: list[int]) -> dict[str, Any]:
    return {"terminal": terminal, "account_ids": account_ids}
