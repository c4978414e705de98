"""A terminal's sync cycle in the run ledger: job `mt5_sync:<terminal>`, one running at a
time per terminal whatever the date (a cycle running over midnight still counts); an
abandoned one (no heartbeat for `stale_after`) is ended `failed` so the next may start."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.ledger import is_abandoned
from core.mt5.accounts import CYCLE_JOB_PREFIX, cycle_job
from core.values import RunStatus, Trigger
from db.audit import record_event
from db.ledger import Started, abandon
from db.models import BatchRun


def running_cycle(session: Session, terminal: str) -> BatchRun | None:
    stmt = (select(BatchRun).where(BatchRun.job == cycle_job(terminal), BatchRun.status == RunStatus.RUNNING.value)
            .order_by(BatchRun.id.desc()).limit(1))
    return session.scalars(stmt).first()


def start_cycle(session: Session, terminal: str, trigger: Trigger, *, now: datetime, stale_after: timedelta,
                lock_token: str | None, task_id: str | None, details: dict[str, Any]) -> Started:
    """A new cycle of `terminal`, unless one is running (then that one, new=False)."""
    current = running_cycle(session, terminal)
    if current is not None:
        if not is_abandoned(current.heartbeat_at, now, stale_after):
            return Started(current, new=False)
        abandon(session, current, now)
    job, day = cycle_job(terminal), now.date()
    attempt = (session.scalar(select(func.max(BatchRun.attempt)).where(
        BatchRun.job == job, BatchRun.as_of_date == day)) or 0) + 1
    run = BatchRun(job=job, as_of_date=day, attempt=attempt, trigger=trigger.value, status=RunStatus.RUNNING.value,
                   lock_token=lock_token, task_id=task_id, details=details, started_at=now, heartbeat_at=now)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        # Another trigger's cycle went into the ledger between our read and our write.
        other = running_cycle(session, terminal)
        if other is None:
            raise
        return Started(other, new=False)
    record_event(session, "batch_run_started", entity_type="batch_run", entity_id=run.id, now=now,
                 batch_run_id=run.id, details={"job": job, "as_of": day, "attempt": attempt, "trigger": trigger})
    return Started(run, new=True)


def latest_cycles(session: Session, limit: int = 20) -> list[BatchRun]:
    stmt = (select(BatchRun).where(BatchRun.job.startswith(CYCLE_JOB_PREFIX))
            .order_by(BatchRun.id.desc()).limit(limit))
    return list(session.scalars(stmt))
