"""Job 4: hedge accounting entries of D, after effectiveness (issue 18; IFRS 9 6.5.8-6.5.14).

Fanned out in chunks of relationships like MTM and effectiveness; the last chunk to count
itself into the ledger ends the run. Each relationship whose current designation is in
force on D (or de-designated, or past its exposure date with the instrument still revalued:
then in the P&L regime, tasks.hedging.posting_work) gets its entries of D (keys
FX_REVALUATION-<relationship>-<D>, ...) through the write path, or a `postings_blocked`
exception with its reason (no MTM of both legs on D, a closed period, ...). A rerun is
`existing`; an entry that would now come out otherwise is a conflict while its period is
open and a reversal plus a new entry once it is closed (core.hedging.posting_day)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.hedging.posting_day import decide
from core.ledger import chunks
from core.values import ContractStatus, Counts, Job, WriteOutcome
from db.hedging.designation_ends import designations_posted
from db.hedging.effectiveness import legs_of
from db.hedging.journals import relationships_released, write_blocked, write_entries
from db.hedging.periods import closed_periods
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks import coverage, fanin, fanout, names, runs
from tasks.base import job_task
from tasks.hedging.coverage import CHUNK_AUDIT, NOTHING_TO_POST, POSTINGS_COVERAGE, relationship_members
from tasks.hedging.ports import HedgingPorts, hedging_ports
from tasks.hedging.posting_work import Book, Day, compute_day
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)


class PostingsChunk(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    chunk_no: Annotated[int, Field(ge=0)]
    designation_ids: Annotated[list[int], Field(min_length=1, max_length=100_000)]


@job_task(names.POST_HEDGE_ACCOUNTING_ENTRIES, queue=names.QueueName.VALUATION)
def post_hedge_accounting_entries(
    self: Any, as_of: str | None = None, trigger: str = "manual", parent_run_id: int | None = None
) -> dict[str, Any]:
    p = ports()
    return runs.run_job(
        p,
        Job.POSTINGS,
        self.request.id,
        partial(plan_postings, p, hedging_ports()),
        as_of=as_of,
        trigger=trigger,
        parent_run_id=parent_run_id,
    )


def plan_postings(
    p: Ports, hedging: HedgingPorts, run_id: int, send: fanout.Send = fanout.send_group
) -> dict[str, Any]:
    """Split the relationships in force on D into chunks, record the plan, send them after
    commit; again for a stale run (the chunks the ledger lacks)."""
    plan = partial(_plan, hedging.postings_chunk_size)
    return fanout.fan_out(p, run_id, plan, send=send, event="postings_planned")


def resend_postings(run_id: int) -> dict[str, Any]:
    """The stale-run sweep's entry into the postings job (tasks.resend): the run planned again."""
    return plan_postings(ports(), hedging_ports(), run_id)


POSTINGS = fanout.ChunkedJob(Job.POSTINGS.value, resend=resend_postings)


def in_force(session: Session, run: BatchRun) -> list[int]:
    """Current designation versions posted on D (designated by then, the instrument designated,
    active or de-designated: db.hedging.designation_ends), less relationships whose reserve
    was released as no longer expected before D (hedge accounting stopped then), unless the
    instrument is de-designated: its changes go on to P&L."""
    released = relationships_released(session, run.as_of_date)
    ids = designations_posted(session, run.as_of_date)
    if not released:
        return ids
    return [
        d.id
        for d, c, _i in legs_of(session, ids)
        if d.relationship_id not in released or c.status == ContractStatus.DE_DESIGNATED.value
    ]


def _plan(size: int, s: Session, run: BatchRun) -> fanout.Plan:
    parts = chunks(in_force(s, run), size)
    relationships = sum(map(len, parts))
    planned = [
        fanout.Chunk(names.POST_ENTRIES_CHUNK, {"designation_ids": ids}, members=relationship_members(s, ids))
        for ids in parts
    ]
    return fanout.Plan(
        planned,
        details={
            "postings_plan": {"relationships": relationships, "chunk_size": size},
            **coverage.planned_details(planned),
        },
        log={"relationships": relationships, "chunks": len(parts)},
    )


@job_task(names.POST_ENTRIES_CHUNK, queue=names.QueueName.VALUATION, ignore_result=True)
def post_entries_chunk(self: Any, run_id: int, chunk_no: int, designation_ids: list[int]) -> dict[str, Any]:
    request = PostingsChunk(run_id=run_id, chunk_no=chunk_no, designation_ids=designation_ids)
    p, hedging = ports(), hedging_ports()
    with runs.failing_run(p, run_id):
        return post_chunk(p, hedging, request)


def post_chunk(p: Ports, hedging: HedgingPorts, request: PostingsChunk) -> dict[str, Any]:
    book = Book(hedging.chart, hedging.policy.functional_currency)

    def work(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> fanin.ChunkDone:
        counts, summary = post_day(uow.session, book, request.designation_ids, run, p.clock())
        # what leaves no row: the relationships with nothing to post on D (coverage reads it)
        nothing = {NOTHING_TO_POST: summary.pop(NOTHING_TO_POST)}
        return fanin.ChunkDone(counts, audit=CHUNK_AUDIT, audit_details=nothing, summary=summary)

    return fanin.chunk_step(p, request.run_id, request.chunk_no, work, event="postings_chunk_written", close=_CLOSE)


#: At the run's end: each planned relationship with neither an entry nor an exception is `not_posted`.
_CLOSE = coverage.closer(POSTINGS_COVERAGE)


def post_day(
    session: Session, book: Book, version_ids: list[int], run: BatchRun, now: datetime
) -> tuple[Counts, dict[str, Any]]:
    """Compute, decide against what is stored and the closed periods, write; the counts.

    A relationship whose entries of D were written now (D's MTM backfilled, or D corrected)
    while entries after D are stored then has its next posted date recomputed from the
    state D's entries leave: that entry's previous posting, so its movements, moved.
    Another figure is a conflict while that entry's period is open, a reversal plus a new
    entry in the first open period once it is closed (core.hedging.posting_day.decide):
    one mechanism with any other changed input."""
    closed = closed_periods(session)
    day = compute_day(session, book, version_ids, run.as_of_date)
    done = _write_day(session, day, closed, run.as_of_date, run, now)
    nothing = sorted(rid for rid, entries in day.entries.items() if not entries and rid not in day.blocked)
    for later, versions in _next_dates(day, done.moved).items():
        nxt = compute_day(session, book, versions, later)
        done.add(_write_day(session, nxt, closed, later, run, now))
    return done.counts, {"blocked": done.blocked, "corrected": done.corrected, NOTHING_TO_POST: nothing}


def _next_dates(day: Day, moved: set[int]) -> dict[date, list[int]]:
    """The designation versions to recompute, by the next date each relationship posted."""
    out: dict[date, list[int]] = {}
    for rid, later in sorted(day.later.items()):
        if rid in moved:
            out.setdefault(later, []).append(day.versions[rid])
    return out


@dataclass(slots=True)
class Written:
    counts: Counts
    blocked: int = 0
    corrected: list[str] = field(default_factory=list)
    #: Relationships with an entry created: the state they leave moved.
    moved: set[int] = field(default_factory=set)

    def add(self, other: Written) -> None:
        self.counts.add(other.counts)
        self.blocked += other.blocked
        self.corrected += other.corrected


def _write_day(session: Session, day: Day, closed: set[str], as_of: date, run: BatchRun, now: datetime) -> Written:
    blocked, to_write, existing, corrected = dict(day.blocked), [], 0, []
    for rid, entries in day.entries.items():
        decision = decide(entries, day.stored.get(rid, {}), closed)
        if decision.refused:
            blocked[rid] = "; ".join(decision.refused)
        to_write += decision.write
        existing += decision.existing
        corrected += decision.corrected
    report = write_entries(session, to_write, batch_run_id=run.id, now=now)
    write_blocked(session, blocked, as_of, batch_run_id=run.id, now=now)
    for key in report.conflict_keys:
        log.warning("journal_entry_conflicted", idempotency_key=key)
    for rid, reason in sorted(blocked.items()):
        log.warning("postings_blocked", relationship_id=rid, entry_date=as_of, reason=reason)
    moved = {e.relationship_id for e, o in zip(to_write, report.outcomes, strict=True) if o is WriteOutcome.CREATED}
    counts = report.counts()
    counts.processed += existing
    counts.existing += existing
    counts.exceptions += len(blocked)
    return Written(counts, len(blocked), corrected, moved)
