"""A chunk's one skeleton, the fan-in of every fanned-out run (tasks.fanout fans out): load the
run, do the job's work, count the chunk in exactly once, heartbeat, and when it was the last,
close and finish the run through the one lifecycle (tasks.runs)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from core.ports import RunObserver
from core.values import Counts
from db import ledger
from db.audit import record_event
from db.models import BatchRun
from db.uow import SqlAlchemyUnitOfWork
from tasks.ports import Ports
from tasks.runs import bound_run, counted_in, finish, heartbeat

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ChunkDone:
    """What a chunk's own work gives back. `complete` False: a partial attempt that its
    task retries (its counts are added; the chunk is counted in by a later attempt).
    `audit`: an audit event type recorded once, when the chunk is counted in, with
    `audit_details`; `summary`: more fields for the task's result and log line."""

    counts: Counts
    complete: bool = True
    audit: str | None = None
    audit_details: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


ChunkWork = Callable[[SqlAlchemyUnitOfWork, BatchRun], ChunkDone]
#: A job's last word on a run whose chunks are all in, before its status is decided (MTM:
#: its coverage, tasks.coverage): the counts it adds to the run.
CloseWork = Callable[[Ports, SqlAlchemyUnitOfWork, BatchRun], Counts]


def chunk_step(
    p: Ports, run_id: int, chunk_no: int, work: ChunkWork, *, event: str, close: CloseWork | None = None
) -> dict[str, Any]:
    """The skeleton of every chunk: load the run; ended already? nudge its parent and
    return; else do `work`, count the chunk in exactly once, finish the run when it was
    the last (after `close`) or heartbeat, commit; log `event` with the chunk's counts."""
    with p.uow() as uow:
        run = ledger.get_run(uow.session, run_id)
        if run.finished_at is not None:
            finish(p, uow, run)  # a redelivery after the end: only nudges the parent again
            uow.commit()
            return {"batch_run_id": run_id, "chunk_no": chunk_no, "note": "run already ended"}
        with bound_run(run_id, run.as_of_date, run.parent_run_id), in_flight(p.run_observer, run.job):
            done = work(uow, run)
            counted, all_in = _count_in(p, uow, run, chunk_no, done)
            if all_in:
                _close(p, uow, run, close)
                finish(p, uow, run)
            else:
                uow.after_commit(lambda: heartbeat(p, run))
            uow.commit()
            result = {
                "batch_run_id": run_id,
                "chunk_no": chunk_no,
                "counted": counted,
                "run_done": all_in,
                **done.summary,
                **done.counts.as_dict(),
            }
            log.info(event, **{k: v for k, v in result.items() if k not in ("batch_run_id", "chunk_no")})
    return result


def _count_in(p: Ports, uow: SqlAlchemyUnitOfWork, run: BatchRun, chunk_no: int, done: ChunkDone) -> tuple[bool, bool]:
    session, now = uow.session, p.clock()
    if not done.complete:
        ledger.add_counts(session, run.id, done.counts, now)
        counted_in(p.run_observer, uow, run.job, done.counts)
        return False, False
    counted, all_in = ledger.record_chunk(session, run.id, chunk_no, done.counts, now)
    if counted:
        counted_in(p.run_observer, uow, run.job, done.counts)
    if counted and done.audit:
        record_event(
            session,
            done.audit,
            entity_type="batch_run",
            entity_id=run.id,
            now=now,
            batch_run_id=run.id,
            details={"chunk_no": chunk_no, **done.counts.as_dict(), **done.audit_details},
        )
    return counted, all_in


def _close(p: Ports, uow: SqlAlchemyUnitOfWork, run: BatchRun, close: CloseWork | None) -> None:
    """The job's close, its counts added to the run (the last chunk's transaction sees every
    other chunk's: each committed before it counted itself in)."""
    if close is None:
        return
    counts = close(p, uow, run)
    if counts.processed or counts.exceptions:
        ledger.add_counts(uow.session, run.id, counts, p.clock())
        counted_in(p.run_observer, uow, run.job, counts)


@contextlib.contextmanager
def in_flight(observer: RunObserver, job: str) -> Iterator[None]:
    """A chunk at work, for the chunks-in-flight gauge."""
    observer.chunk_started(job)
    try:
        yield
    finally:
        observer.chunk_ended(job)
