"""Terminals' sync cycles in the run ledger (job `mt5_sync:<terminal>`): the reads of the
cycle views. Cycles start and end through the one run lifecycle (db.ledger, tasks.runs)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.mt5.accounts import CYCLE_JOB_PREFIX
from db.models import BatchRun


def latest_cycles(session: Session, limit: int = 20) -> list[BatchRun]:
    stmt = select(BatchRun).where(BatchRun.job.startswith(CYCLE_JOB_PREFIX)).order_by(BatchRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))
