"""The one fan-out of every chunked job (MTM, effectiveness, a terminal's sync cycle): plan
a run's chunks, record the plan in the ledger (each chunk's task, queue and arguments:
batch_run_chunk_plans), send after commit the chunks the ledger has not counted in.
A chunk may keep its members (what it must value, fixed when planned: issue 21, point 1).
Planning a run again is therefore re-sending its missing chunks, as first planned: beat's
stale-run sweep (tasks.resend) calls each job's `ChunkedJob.resend`, which is its plan. A
chunk message that names no planned chunk is refused before it runs (tasks.plan_check).

Fan-in is `tasks.fanin.chunk_step`: the last chunk to count itself in ends the run.
The ports and the send function are arguments: nothing here looks a bundle up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from celery import group, signature
from sqlalchemy.orm import Session

from core.plans import IdRuns
from db import ledger
from db.models import BatchRun
from tasks import runs
from tasks.ports import Ports
from tasks.summary import run_summary

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk's message: its task and its arguments besides `run_id` and `chunk_no`;
    `queue` None: the app's router picks it. `members`: what the chunk must value, per
    object type (core.plans.IdRuns), kept with its plan, not sent: the chunk reads them."""

    task: str
    kwargs: Mapping[str, Any]
    queue: str | None = None
    members: Mapping[str, IdRuns] | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A run's chunks in chunk order (their numbers are their places), what the run records
    of its plan (merged into its details), and the fields of the planned log line."""

    chunks: Sequence[Chunk]
    details: Mapping[str, Any] = field(default_factory=dict)
    log: Mapping[str, Any] = field(default_factory=dict)


#: Reads what a run is of (its date, its details) and splits it into chunks.
Planner = Callable[[Session, BatchRun], Plan]
#: Sends the chunks' messages (after commit).
Send = Callable[[Sequence[Any]], None]


@dataclass(frozen=True, slots=True)
class ChunkedJob:
    """A job that fans out, as the stale-run sweep knows it: its name (with `per_instance`,
    the prefix of jobs named per instance: `mt5_sync:<terminal>`) and the entry that plans
    a run of it again (`resend(run_id)`, resolving its own ports)."""

    job: str
    resend: Callable[[int], object]
    per_instance: bool = False

    def covers(self, job: str) -> bool:
        return job.startswith(self.job) if self.per_instance else job == self.job


def fan_out(p: Ports, run_id: int, plan: Planner, *, send: Send, event: str) -> dict[str, Any]:
    """Plan run `run_id`, record its chunks and plan, then send the chunks not counted in
    (all of them the first time; the missing ones on a re-plan). A plan of no chunk ends
    the run at once. `event` is logged with the plan's fields."""
    with p.uow() as unit:
        run = ledger.get_run(unit.session, run_id, for_update=True)
        kept = ledger.chunk_plan(unit.session, run.id)
        if kept:  # a re-plan sends the chunks first planned, never a plan made again
            planned = Plan(
                [Chunk(c.task, c.kwargs, c.queue, c.members) for c in kept], log={"chunks": len(kept), "again": True}
            )
        else:
            planned = plan(unit.session, run)
            ledger.record_chunk_plan(unit.session, run.id, [_planned(no, c) for no, c in enumerate(planned.chunks)])
        run.chunks_total = len(planned.chunks)
        run.details = {**run.details, **planned.details}
        if not planned.chunks:
            runs.finish(p, unit, run)
        else:
            todo = _messages(run.id, planned.chunks, set(ledger.done_chunks(unit.session, run.id)))
            unit.after_commit(lambda: send(todo))
        unit.commit()
        log.info(event, **planned.log)
        return run_summary(run)


def _planned(no: int, chunk: Chunk) -> ledger.PlannedChunk:
    members = None if chunk.members is None else {k: [list(r) for r in v] for k, v in chunk.members.items()}
    return ledger.PlannedChunk(no, chunk.task, chunk.queue, dict(chunk.kwargs), members)


def _messages(run_id: int, chunks: Sequence[Chunk], done: set[int]) -> list[Any]:
    return [
        signature(c.task, kwargs={"run_id": run_id, "chunk_no": no, **c.kwargs}, **_options(c))
        for no, c in enumerate(chunks)
        if no not in done
    ]


def _options(chunk: Chunk) -> dict[str, str]:
    return {"queue": chunk.queue} if chunk.queue else {}


def send_group(messages: Sequence[Any]) -> None:
    """Every chunk's message in one group (each still goes to its own queue)."""
    group(messages).apply_async()
