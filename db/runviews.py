"""Read views of the ledger for people: runs filtered for `hedgeops status` (a nightly's
steps under it), everything about one run for `hedgeops runs show`, and the latest run of
each job and date for `hedgeops runs grid`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.run_grid import LatestRun
from core.values import RunStatus
from db.hedging.journal_models import PostingException
from db.models import BatchRun, BatchRunChunk, IdempotencyConflict, MtmException, PriceFile


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs: of a job (or, `prefix`, of jobs starting so), of a date, of a status;
    `skip_prefix`: jobs left out (MT5 cycles have their own view)."""

    job: str | None = None
    prefix: str | None = None
    skip_prefix: str | None = None
    as_of: date | None = None
    status: str | None = None

    def apply(self, stmt: Select[tuple[BatchRun]]) -> Select[tuple[BatchRun]]:
        if self.job:
            stmt = stmt.where(BatchRun.job == self.job)
        if self.prefix:
            stmt = stmt.where(BatchRun.job.startswith(self.prefix, autoescape=True))
        if self.skip_prefix:
            stmt = stmt.where(~BatchRun.job.startswith(self.skip_prefix, autoescape=True))
        if self.as_of:
            stmt = stmt.where(BatchRun.as_of_date == self.as_of)
        if self.status:
            stmt = stmt.where(BatchRun.status == self.status)
        return stmt


def top_runs(session: Session, where: RunFilter, limit: int) -> list[BatchRun]:
    """The newest runs that are no step of another (a filter on a step's job shows steps)."""
    stmt = where.apply(select(BatchRun))
    if not where.job and not where.prefix:
        stmt = stmt.where(BatchRun.parent_run_id.is_(None))
    return list(session.scalars(stmt.order_by(BatchRun.id.desc()).limit(limit)))


def steps_of(session: Session, run_ids: list[int]) -> dict[int, list[BatchRun]]:
    found: dict[int, list[BatchRun]] = {}
    if run_ids:
        stmt = select(BatchRun).where(BatchRun.parent_run_id.in_(run_ids)).order_by(BatchRun.id)
        for step in session.scalars(stmt):
            found.setdefault(step.parent_run_id or 0, []).append(step)
    return found


@dataclass(slots=True)
class RunDetail:
    run: BatchRun
    steps: list[BatchRun] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)


def run_detail(session: Session, run_id: int) -> RunDetail | None:
    run = session.get(BatchRun, run_id)
    if run is None:
        return None
    return RunDetail(
        run,
        steps_of(session, [run.id]).get(run.id, []),
        _chunks(session, run.id),
        _exceptions(session, run.id),
        _conflicts(session, run.id),
        _files(session, run.id),
    )


def _chunks(session: Session, run_id: int) -> list[dict[str, Any]]:
    stmt = select(BatchRunChunk).where(BatchRunChunk.batch_run_id == run_id).order_by(BatchRunChunk.chunk_no)
    return [
        {
            "chunk_no": c.chunk_no,
            "processed": c.processed,
            "created": c.created,
            "existing": c.existing,
            "conflicts": c.conflicts,
            "exceptions": c.exceptions,
            "finished_at": c.finished_at.isoformat(),
        }
        for c in session.scalars(stmt)
    ]


def _exceptions(session: Session, run_id: int) -> list[dict[str, Any]]:
    """MTM exceptions by reason and symbol, and postings blocked (no symbol), with how many."""
    rows = session.execute(select(MtmException.reason, MtmException.details).where(MtmException.batch_run_id == run_id))
    counted = Counter((reason, str((details or {}).get("symbol", "-"))) for reason, details in rows)
    blocked = session.scalars(select(PostingException.reason).where(PostingException.batch_run_id == run_id))
    counted.update((reason, "-") for reason in blocked)
    return [{"reason": r, "symbol": s, "count": n} for (r, s), n in sorted(counted.items())]


def _conflicts(session: Session, run_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(IdempotencyConflict)
        .where(IdempotencyConflict.batch_run_id == run_id)
        .order_by(IdempotencyConflict.id)
        .limit(200)
    )
    return [
        {"table": c.table_name, "idempotency_key": c.idempotency_key, "detected_at": c.detected_at.isoformat()}
        for c in session.scalars(stmt)
    ]


def _files(session: Session, run_id: int) -> list[dict[str, Any]]:
    stmt = select(PriceFile).where(PriceFile.batch_run_id == run_id).order_by(PriceFile.id)
    return [
        {
            "source": f.source,
            "file": f.file_name,
            "status": f.status,
            "created": f.created,
            "existing": f.existing,
            "conflicts": f.conflicts,
            "rejected_rows": f.rejected_rows,
            "reason": f.reason,
        }
        for f in session.scalars(stmt)
    ]


def latest_by_date(session: Session, jobs: Sequence[str], first: date, last: date) -> dict[tuple[str, date], LatestRun]:
    """The newest attempt of each (job, as-of date) from `first` to `last`, steps of a
    nightly included (as `backfill` counts them: db.ledger.latest_statuses)."""
    stmt = (
        select(BatchRun.job, BatchRun.as_of_date, BatchRun.id, BatchRun.status, BatchRun.attempt, BatchRun.error)
        .where(BatchRun.job.in_(list(jobs)), BatchRun.as_of_date >= first, BatchRun.as_of_date <= last)
        .order_by(BatchRun.as_of_date, BatchRun.attempt)
    )
    return {
        (job, day): LatestRun(run_id, RunStatus(status), attempt, error)
        for job, day, run_id, status, attempt, error in session.execute(stmt)
    }
