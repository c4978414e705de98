"""Job 3: retrospective effectiveness tests of every current designation at D, after MTM.

Fanned out in chunks of designations like MTM; the last chunk to count itself into the
ledger ends the run. Each test reads the MTM series of both legs up to D, appends one
result (EFF:<designation>:<version>:<date>) and flags a `fail` for de-designation."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.hedging.effectiveness import LegSeries, assess
from core.hedging.run_details import EffectivenessPlan
from core.ledger import chunks
from core.values import Job
from db.hedging.effectiveness import designation_terms, designations_under_test, write_effectiveness
from db.hedging.series import assessment_inputs
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks import coverage, fanin, fanout, names, runs
from tasks.base import job_task
from tasks.hedging.coverage import EFFECTIVENESS_COVERAGE, relationship_members
from tasks.hedging.ports import HedgingPorts, hedging_ports
from tasks.ports import Ports, ports

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
    p = ports()
    return runs.run_job(
        p,
        Job.EFFECTIVENESS,
        self.request.id,
        partial(plan_effectiveness, p, hedging_ports()),
        as_of=as_of,
        trigger=trigger,
        parent_run_id=parent_run_id,
    )


def plan_effectiveness(
    p: Ports, hedging: HedgingPorts, run_id: int, send: fanout.Send = fanout.send_group
) -> dict[str, Any]:
    """Split the designations under test into chunks, record the plan, send them after
    commit; again for a stale run (the chunks the ledger lacks)."""
    plan = partial(_plan, hedging.policy.chunk_size)
    return fanout.fan_out(p, run_id, plan, send=send, event="effectiveness_planned")


def resend_effectiveness(run_id: int) -> dict[str, Any]:
    """The stale-run sweep's entry into the effectiveness job (tasks.resend): the run planned again."""
    return plan_effectiveness(ports(), hedging_ports(), run_id)


EFFECTIVENESS = fanout.ChunkedJob(Job.EFFECTIVENESS.value, resend=resend_effectiveness)


def _plan(size: int, s: Session, run: BatchRun) -> fanout.Plan:
    parts = chunks(designations_under_test(s, run.as_of_date), size)
    designations = sum(map(len, parts))
    planned = [
        fanout.Chunk(names.ASSESS_EFFECTIVENESS_CHUNK, {"designation_ids": ids}, members=relationship_members(s, ids))
        for ids in parts
    ]
    return fanout.Plan(
        planned,
        details={
            **EffectivenessPlan(designations=designations, chunk_size=size).as_details(),
            **coverage.planned_details(planned),
        },
        log={"designations": designations, "chunks": len(parts)},
    )


@job_task(names.ASSESS_EFFECTIVENESS_CHUNK, queue=names.QueueName.VALUATION, ignore_result=True)
def assess_effectiveness_chunk(self: Any, run_id: int, chunk_no: int, designation_ids: list[int]) -> dict[str, Any]:
    request, p = EffectivenessChunk(run_id=run_id, chunk_no=chunk_no, designation_ids=designation_ids), ports()
    with runs.failing_run(p, run_id):
        return assess_chunk(p, request)


def assess_chunk(p: Ports, request: EffectivenessChunk) -> dict[str, Any]:
    def work(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> fanin.ChunkDone:
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
        report = write_effectiveness(s, results, batch_run_id=run.id, now=p.clock())
        for key in report.conflict_keys:
            log.warning("effectiveness_conflicted", idempotency_key=key)
        outcomes = Counter(r.outcome.value for r in results)
        return fanin.ChunkDone(report.counts(), summary={"outcomes": dict(outcomes)})

    event = "effectiveness_chunk_written"
    return fanin.chunk_step(p, request.run_id, request.chunk_no, work, event=event, close=_CLOSE)


#: At the run's end: each planned relationship without a result is `not_assessed`.
_CLOSE = coverage.closer(EFFECTIVENESS_COVERAGE)
