"""Job 3: retrospective effectiveness tests of every current designation at D, after MTM.

Fanned out in chunks of designations like MTM; the last chunk to count itself into the
ledger ends the run. Each test reads the MTM series of both legs up to D, appends one
result (EFF:<designation>:<version>:<date>) and flags a `fail` for de-designation."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import structlog
from celery import group
from pydantic import BaseModel, ConfigDict, Field

from core.hedging.effectiveness import LegSeries, assess
from core.ledger import chunks
from core.values import Job
from db import ledger
from db.hedging.effectiveness import designation_terms, designations_under_test, write_effectiveness
from db.hedging.series import assessment_inputs
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks import names, resend, runs
from tasks.base import job_task
from tasks.runtime import runtime
from tasks.summary import run_summary

log = structlog.get_logger(__name__)


class EffectivenessChunk(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    chunk_no: Annotated[int, Field(ge=0)]
    designation_ids: Annotated[list[int], Field(min_length=1, max_length=100_000)]


@job_task(names.ASSESS_HEDGE_EFFECTIVENESS, queue=names.QueueName.VALUATION)
def assess_hedge_effectiveness(
    self: Any, as_of: str | None = None, trigger: str = "manual", parent_run_id: int | None = None
) -> dict[str, Any]:
    return runs.run_job(
        Job.EFFECTIVENESS,
        self.request.id,
        plan_effectiveness,
        as_of=as_of,
        trigger=trigger,
        parent_run_id=parent_run_id,
    )


def plan_effectiveness(run_id: int) -> dict[str, Any]:
    """Split the designations under test into chunks, record the plan, send them after commit."""
    rt = runtime()
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        parts = chunks(designations_under_test(uow.session, run.as_of_date), rt.hedging.chunk_size)
        run.chunks_total = len(parts)
        run.details = {**run.details, "designations": sum(map(len, parts)), "chunk_size": rt.hedging.chunk_size}
        if not parts:
            runs.finish(uow, run)
        else:
            done = set(ledger.done_chunks(uow.session, run.id))
            todo = [(no, ids) for no, ids in enumerate(parts) if no not in done]
            uow.after_commit(lambda: _send_chunks(run.id, todo))
        uow.commit()
        log.info("effectiveness_planned", designations=sum(map(len, parts)), chunks=len(parts))
        return run_summary(run)


resend.RESENDERS[Job.EFFECTIVENESS.value] = plan_effectiveness


def _send_chunks(run_id: int, todo: list[tuple[int, list[int]]]) -> None:
    group(
        assess_effectiveness_chunk.s(run_id=run_id, chunk_no=no, designation_ids=ids) for no, ids in todo
    ).apply_async()


@job_task(names.ASSESS_EFFECTIVENESS_CHUNK, queue=names.QueueName.VALUATION, ignore_result=True)
def assess_effectiveness_chunk(self: Any, run_id: int, chunk_no: int, designation_ids: list[int]) -> dict[str, Any]:
    request = EffectivenessChunk(run_id=run_id, chunk_no=chunk_no, designation_ids=designation_ids)
    with runs.failing_run(run_id):
        return assess_chunk(request)


def assess_chunk(request: EffectivenessChunk) -> dict[str, Any]:
    def work(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> runs.ChunkDone:
        s, as_of = uow.session, run.as_of_date
        terms = designation_terms(s, request.designation_ids)
        series, last, blocked = assessment_inputs(s, terms, as_of)
        empty = LegSeries({}, {})
        results = [
            assess(
                t,
                as_of,
                series.get(t.version_id, empty).h,
                series.get(t.version_id, empty).i,
                last.get(t.designation_id),
                blocked.get(t.version_id),
            )
            for t in terms
        ]
        report = write_effectiveness(s, results, batch_run_id=run.id, now=runtime().clock())
        for key in report.conflict_keys:
            log.warning("effectiveness_conflicted", idempotency_key=key)
        outcomes = Counter(r.outcome.value for r in results)
        return runs.ChunkDone(report.counts(), summary={"outcomes": dict(outcomes)})

    return runs.chunk_step(request.run_id, request.chunk_no, work, event="effectiveness_chunk_written")
