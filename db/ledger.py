"""The run ledger: starting runs under the database guard, counting chunks in, ending runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.ledger import exceptions_error as describe_exceptions
from core.ledger import final_status, is_abandoned, shortfalls
from core.plans import IdRuns
from core.redaction import redact_text
from core.values import Counts, Job, RunStatus, Trigger
from db.audit import record_event
from db.models import BatchRun, BatchRunChunk, BatchRunChunkPlan
from db.writepath import dialect_insert


@dataclass(frozen=True, slots=True)
class Started:
    """The outcome of asking for a run: a new attempt, or the one that already exists."""

    run: BatchRun
    new: bool


def get_run(session: Session, run_id: int, *, for_update: bool = False) -> BatchRun:
    stmt = select(BatchRun).where(BatchRun.id == run_id)
    if for_update:
        stmt = stmt.with_for_update()
    run = session.scalars(stmt).one_or_none()
    if run is None:
        raise LookupError(f"no batch run {run_id}")
    return run


def running_run(session: Session, job: str, as_of: date, *, any_date: bool = False) -> BatchRun | None:
    """The running attempt of (job, as_of); with `any_date`, of `job` whatever its date
    (a terminal's sync cycle running over midnight still counts)."""
    stmt = select(BatchRun).where(BatchRun.job == str(job), BatchRun.status == RunStatus.RUNNING.value)
    if not any_date:
        stmt = stmt.where(BatchRun.as_of_date == as_of)
    return session.scalars(stmt.order_by(BatchRun.id.desc()).limit(1)).first()


def running_runs_of_task(session: Session, task_id: str) -> list[BatchRun]:
    stmt = select(BatchRun).where(BatchRun.task_id == task_id, BatchRun.status == RunStatus.RUNNING.value)
    return list(session.scalars(stmt.with_for_update()))


def ended_run_holding(session: Session, token: str) -> BatchRun | None:
    """The ended run whose lock token this is (a lock its worker died before releasing)."""
    stmt = select(BatchRun).where(BatchRun.lock_token == token, BatchRun.status != RunStatus.RUNNING.value)
    return session.scalars(stmt.limit(1)).first()


def child_run(session: Session, parent_run_id: int, job: str) -> BatchRun | None:
    stmt = (
        select(BatchRun)
        .where(BatchRun.parent_run_id == parent_run_id, BatchRun.job == str(job))
        .order_by(BatchRun.attempt.desc())
        .limit(1)
    )
    return session.scalars(stmt).one_or_none()


def children(session: Session, parent_run_id: int) -> list[BatchRun]:
    stmt = select(BatchRun).where(BatchRun.parent_run_id == parent_run_id).order_by(BatchRun.id)
    return list(session.scalars(stmt))


def latest_statuses(session: Session, job: Job, first: date, last: date) -> dict[date, RunStatus]:
    """The status of the newest attempt of `job` for each date from `first` to `last`."""
    stmt = (
        select(BatchRun.as_of_date, BatchRun.status)
        .where(BatchRun.job == job.value, BatchRun.as_of_date >= first, BatchRun.as_of_date <= last)
        .order_by(BatchRun.as_of_date, BatchRun.attempt)
    )
    return {day: RunStatus(status) for day, status in session.execute(stmt)}


def latest_run(session: Session, job: str, as_of: date) -> BatchRun | None:
    """The newest attempt of (job, as_of)."""
    stmt = (
        select(BatchRun)
        .where(BatchRun.job == str(job), BatchRun.as_of_date == as_of)
        .order_by(BatchRun.attempt.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def latest_ended_run(session: Session, job: str, as_of: date) -> BatchRun | None:
    """The newest attempt of (job, as_of) that has ended."""
    stmt = (
        select(BatchRun)
        .where(BatchRun.job == str(job), BatchRun.as_of_date == as_of, BatchRun.status != RunStatus.RUNNING.value)
        .order_by(BatchRun.attempt.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored UTC); PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def ended_after(run: BatchRun, moment: datetime) -> bool:
    """Whether `run` had not ended yet at `moment`: a trigger sent then (before the run
    started, or while it ran) is answered by it."""
    return run.finished_at is None or _utc(moment) <= _utc(run.finished_at)


def claim_stale_chunked(session: Session, cutoff: datetime, now: datetime) -> list[tuple[int, str]]:
    """The running runs with chunks still to come whose last heartbeat is before `cutoff`,
    claimed: their heartbeat moves to `now` in the same statement, so two sweepers never
    re-send one run's chunks at once and the next sweep waits a full interval again."""
    stmt = (
        update(BatchRun)
        .where(
            BatchRun.status == RunStatus.RUNNING.value,
            BatchRun.heartbeat_at < cutoff,
            BatchRun.chunks_total > 0,
            BatchRun.chunks_done < BatchRun.chunks_total,
        )
        .values(heartbeat_at=now)
        .returning(BatchRun.id, BatchRun.job)
    )
    return [(int(i), str(j)) for i, j in session.execute(stmt)]


def stale_running(session: Session, job: str, cutoff: datetime) -> list[int]:
    """The running runs of `job` whose last heartbeat is before `cutoff`, oldest first."""
    stmt = (
        select(BatchRun.id)
        .where(BatchRun.job == job, BatchRun.status == RunStatus.RUNNING.value, BatchRun.heartbeat_at < cutoff)
        .order_by(BatchRun.id)
    )
    return [int(i) for i in session.scalars(stmt)]


def latest_runs(session: Session, limit: int = 20) -> list[BatchRun]:
    return list(session.scalars(select(BatchRun).order_by(BatchRun.id.desc()).limit(limit)))


def start_run(
    session: Session,
    job: str,
    as_of: date,
    trigger: Trigger,
    *,
    now: datetime,
    stale_after: timedelta,
    parent_run_id: int | None = None,
    lock_token: str | None = None,
    task_id: str | None = None,
    details: dict[str, Any] | None = None,
    any_date: bool = False,
) -> Started:
    """Start a new attempt of (job, as_of), unless one is running (then that one is
    returned) or, for a step of a parent run, unless the parent already has this step.
    A running attempt without heartbeat for `stale_after` is abandoned first."""
    job = str(job)
    if parent_run_id is not None:
        existing = child_run(session, parent_run_id, job)
        if existing is not None:
            return Started(existing, new=False)
    current = running_run(session, job, as_of, any_date=any_date)
    if current is not None:
        if not is_abandoned(current.heartbeat_at, now, stale_after):
            return Started(current, new=False)
        abandon(session, current, now)
    attempt = (
        session.scalar(select(func.max(BatchRun.attempt)).where(BatchRun.job == job, BatchRun.as_of_date == as_of)) or 0
    ) + 1
    run = BatchRun(
        job=job,
        as_of_date=as_of,
        attempt=attempt,
        trigger=trigger.value,
        status=RunStatus.RUNNING.value,
        parent_run_id=parent_run_id,
        lock_token=lock_token,
        task_id=task_id,
        details=dict(details or {}),
        started_at=now,
        heartbeat_at=now,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        # Another trigger inserted its attempt between our read and our write.
        other = running_run(session, job, as_of, any_date=any_date)
        if other is None:
            raise
        return Started(other, new=False)
    record_event(
        session,
        "batch_run_started",
        entity_type="batch_run",
        entity_id=run.id,
        now=now,
        batch_run_id=run.id,
        details={"job": job, "as_of": as_of, "attempt": attempt, "trigger": trigger},
    )
    return Started(run, new=True)


def abandon(session: Session, run: BatchRun, now: datetime) -> None:
    run.status = RunStatus.FAILED.value
    run.error = "abandoned: no heartbeat (worker killed?)"
    run.finished_at = now
    session.flush()
    record_event(
        session,
        "batch_run_abandoned",
        entity_type="batch_run",
        entity_id=run.id,
        now=now,
        batch_run_id=run.id,
        details={"last_heartbeat": run.heartbeat_at},
    )


def add_counts(session: Session, run_id: int, counts: Counts, now: datetime, *, chunk: bool = False) -> tuple[int, int]:
    """Add `counts` to the run atomically; returns (chunks_done, chunks_total) after it."""
    values: dict[str, Any] = {name: getattr(BatchRun, name) + value for name, value in counts.as_dict().items()}
    values["heartbeat_at"] = now
    if chunk:
        values["chunks_done"] = BatchRun.chunks_done + 1
    stmt = (
        update(BatchRun)
        .where(BatchRun.id == run_id)
        .values(**values)
        .returning(BatchRun.chunks_done, BatchRun.chunks_total)
    )
    done, total = session.execute(stmt).one()
    return int(done), int(total)


def record_chunk(session: Session, run_id: int, chunk_no: int, counts: Counts, now: datetime) -> tuple[bool, bool]:
    """Count a finished chunk into its run, once. Returns (counted now, all chunks in)."""
    stmt = (
        dialect_insert(session, BatchRunChunk)
        .on_conflict_do_nothing(index_elements=["batch_run_id", "chunk_no"])
        .returning(BatchRunChunk.id)
    )
    inserted = session.execute(
        stmt, [{"batch_run_id": run_id, "chunk_no": chunk_no, "finished_at": now, **counts.as_dict()}]
    ).first()
    if inserted is None:
        run = get_run(session, run_id)
        return False, run.chunks_done >= run.chunks_total
    done, total = add_counts(session, run_id, counts, now, chunk=True)
    return True, done >= total


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """A chunk as its run planned it: its task, queue (None: the router's) and arguments
    besides `run_id` and `chunk_no`; and what it must value, per object type (core.plans:
    runs of ids; None for a chunk planned before members were kept)."""

    chunk_no: int
    task: str
    queue: str | None
    kwargs: dict[str, Any]
    members: dict[str, IdRuns] | None = None


def record_chunk_plan(session: Session, run_id: int, chunks: Sequence[PlannedChunk]) -> None:
    """Keep a run's planned chunks (once: a run's first plan)."""
    session.add_all(
        BatchRunChunkPlan(
            batch_run_id=run_id, chunk_no=c.chunk_no, task=c.task, queue=c.queue, kwargs=c.kwargs, members=c.members
        )
        for c in chunks
    )


def chunk_plan(session: Session, run_id: int) -> list[PlannedChunk]:
    """A run's planned chunks in chunk order ([] for a run planned before plans were kept)."""
    rows = session.scalars(
        select(BatchRunChunkPlan).where(BatchRunChunkPlan.batch_run_id == run_id).order_by(BatchRunChunkPlan.chunk_no)
    )
    return [_planned(r) for r in rows]


def planned_chunk(session: Session, run_id: int, chunk_no: int) -> PlannedChunk | None:
    row = session.get(BatchRunChunkPlan, (run_id, chunk_no))
    return None if row is None else _planned(row)


def _planned(row: BatchRunChunkPlan) -> PlannedChunk:
    members = None if row.members is None else {k: [list(r) for r in v] for k, v in row.members.items()}
    return PlannedChunk(row.chunk_no, row.task, row.queue, dict(row.kwargs), members)


def planned_members(session: Session, run_id: int) -> list[dict[str, IdRuns]] | None:
    """Every chunk's members of a run in chunk order (None: a run planned before members
    were kept, or before plans were)."""
    stmt = (
        select(BatchRunChunkPlan.members)
        .where(BatchRunChunkPlan.batch_run_id == run_id)
        .order_by(BatchRunChunkPlan.chunk_no)
    )
    rows = list(session.scalars(stmt))
    found = [dict(m) for m in rows if m is not None]
    return found if found and len(found) == len(rows) else None


def done_chunks(session: Session, run_id: int) -> list[int]:
    return list(session.scalars(select(BatchRunChunk.chunk_no).where(BatchRunChunk.batch_run_id == run_id)))


def counts_of(run: BatchRun) -> Counts:
    return Counts(run.processed, run.created, run.existing, run.conflicts, run.exceptions)


def finish_run(
    session: Session,
    run: BatchRun,
    now: datetime,
    *,
    error: str | None = None,
    status: RunStatus | None = None,
    exceptions_error: str | None = None,
) -> bool:
    """End a running run; False when it had already ended (a redelivered finish).
    `exceptions_error` (with `{n}`): the error of a run that counted exceptions, for the
    runs that exceptions fail."""
    session.flush()  # keep this unit of work's own changes to the run: refresh() would drop them
    session.refresh(run)
    if run.status != RunStatus.RUNNING.value:
        return False
    if error is None and status is None and exceptions_error and run.exceptions:
        error = describe_exceptions(exceptions_error, run.exceptions, run.details or {})
    error = redact_text(error) if error else None  # stored errors are printed and shown: no secret in them
    run.status = (status or final_status(counts_of(run), error, shortfalls=shortfalls(run.details or {}))).value
    run.error = error[:2000] if error else None
    run.finished_at = now
    run.heartbeat_at = now
    session.flush()
    record_event(
        session,
        "batch_run_finished",
        entity_type="batch_run",
        entity_id=run.id,
        now=now,
        batch_run_id=run.id,
        details={"status": run.status, **counts_of(run).as_dict(), "error": error},
    )
    return True
