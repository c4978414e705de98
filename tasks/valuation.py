"""Job 2: MTM snapshots of active contracts, fanned out in chunks; the last chunk to
count itself into the ledger ends the run (fan-in through the ledger, not a chord)."""
from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from celery import group

from core.calendars import price_date_for
from core.ledger import chunks
from core.mtm import value_contracts
from core.values import Job
from db import ledger
from db.contracts import active_contract_ids, contracts_by_ids
from db.prices import prices_on
from db.valuations import write_valuation
from tasks import runs
from tasks.base import job_task
from tasks.payloads import ChunkRequest
from tasks.runtime import runtime
from tasks.summary import run_summary

log = structlog.get_logger(__name__)


@job_task("hedgeops.valuation.compute_mtm_snapshots", queue="valuation")
def compute_mtm_snapshots(self: Any, as_of: str | None = None, trigger: str = "manual",
                          parent_run_id: int | None = None) -> dict[str, Any]:
    return runs.run_job(Job.MTM, self.request.id, plan_mtm, as_of=as_of, trigger=trigger, parent_run_id=parent_run_id)


def plan_mtm(run_id: int) -> dict[str, Any]:
    """Split the active contracts into chunks, record the plan, send the chunks after commit."""
    rt = runtime()
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        price_date = price_date_for(run.as_of_date, rt.d1_policy)
        parts = chunks(active_contract_ids(uow.session), rt.chunk_size)
        run.chunks_total = len(parts)
        run.details = {**run.details, "price_date": price_date.isoformat(), "d1_policy": rt.d1_policy.value,
                       "chunk_size": rt.chunk_size}
        if not parts:
            runs.finish(uow, run)
        else:
            done = set(ledger.done_chunks(uow.session, run.id))
            todo = [(no, ids) for no, ids in enumerate(parts) if no not in done]
            uow.after_commit(lambda: _send_chunks(run.id, todo))
        uow.commit()
        log.info("mtm_planned", contracts=sum(map(len, parts)), chunks=len(parts), price_date=price_date.isoformat())
        return run_summary(run)


def _send_chunks(run_id: int, todo: list[tuple[int, list[int]]]) -> None:
    group(compute_mtm_chunk.s(run_id=run_id, chunk_no=no, contract_ids=ids) for no, ids in todo).apply_async()


@job_task("hedgeops.valuation.compute_mtm_chunk", queue="valuation", ignore_result=True)
def compute_mtm_chunk(self: Any, run_id: int, chunk_no: int, contract_ids: list[int]) -> dict[str, Any]:
    request = ChunkRequest(run_id=run_id, chunk_no=chunk_no, contract_ids=contract_ids)
    with structlog.contextvars.bound_contextvars(batch_run_id=run_id, chunk_no=chunk_no), \
            runs.failing_run(run_id):
        return value_chunk(request)


def value_chunk(request: ChunkRequest) -> dict[str, Any]:
    rt = runtime()
    with rt.uow() as uow:
        s = uow.session
        run = ledger.get_run(s, request.run_id)
        structlog.contextvars.bind_contextvars(as_of=run.as_of_date.isoformat())
        if run.finished_at is not None:
            runs.finish(uow, run)  # a redelivery after the end: only nudges the parent again
            uow.commit()
            return {"batch_run_id": run.id, "chunk_no": request.chunk_no, "note": "run already ended"}
        as_of, price_date = run.as_of_date, date.fromisoformat(run.details["price_date"])
        contracts = contracts_by_ids(s, request.contract_ids)
        prices = prices_on(s, {c.underlying for c in contracts}, price_date)
        valuation = value_contracts(contracts, as_of, price_date, prices)
        counts = write_valuation(s, valuation, batch_run_id=run.id, now=rt.clock(), correlation_id=run.task_id)
        counted, all_in = ledger.record_chunk(s, run.id, request.chunk_no, counts, rt.clock())
        if all_in:
            runs.finish(uow, run)
        else:
            uow.after_commit(lambda: runs.heartbeat(run))
        uow.commit()
    log.info("mtm_chunk_written", counted=counted, **counts.as_dict())
    return {"batch_run_id": request.run_id, "chunk_no": request.chunk_no, "counted": counted, **counts.as_dict()}
