"""A person ends a stuck run: `hedgeops runs abandon RUN_ID --by NAME --reason TEXT`.

The run ends `failed` through the one lifecycle (tasks.runs.finish): its lock is released
after commit, its parent is nudged (a nightly whose step was abandoned ends failed naming
the step), and the audit says who and why. A nightly takes its running steps with it, so
nothing of it is left running. Chunks still queued or at work find their run ended and
count nothing in (tasks.fanin.chunk_step)."""

from __future__ import annotations

from typing import Any

import structlog

from core.errors import HedgeopsError
from core.values import RunStatus
from db import ledger
from db.audit import record_event
from db.models import BatchRun
from tasks import runs
from tasks.ports import Ports, ports
from tasks.summary import run_summary

log = structlog.get_logger(__name__)


class AbandonRefused(HedgeopsError):
    """An unknown run, one that has ended, or no name or reason."""


def abandon_run(run_id: int, by: str, reason: str) -> dict[str, Any]:
    """The CLI's entry: the shared bundle, once."""
    return abandon(ports(), run_id, by, reason)


def abandon(p: Ports, run_id: int, by: str, reason: str) -> dict[str, Any]:
    """End the running run `run_id` (and its running steps) `failed`, audited; its summary."""
    by, reason = by.strip(), reason.strip()
    if not by or not reason:
        raise AbandonRefused("--by and --reason must not be empty: an abandon is audited with who and why")
    with p.uow() as uow:
        run = uow.session.get(BatchRun, run_id, with_for_update=True)
        if run is None:
            raise AbandonRefused(f"no batch run {run_id}")
        if run.status != RunStatus.RUNNING.value:
            raise AbandonRefused(f"batch run {run_id} is not running: it ended {run.status}")
        error = f"abandoned by {by}: {reason}"
        steps = [s for s in ledger.children(uow.session, run.id) if s.finished_at is None]
        for step in steps:
            runs.finish(p, uow, step, error=error)
        runs.finish(p, uow, run, error=error)
        record_event(
            uow.session,
            "batch_run_abandoned",
            entity_type="batch_run",
            entity_id=run.id,
            now=p.clock(),
            batch_run_id=run.id,
            actor=by,
            details={"by": by, "reason": reason, "job": run.job, "steps": [s.id for s in steps]},
        )
        uow.commit()
        log.warning("batch_run_abandoned_by_hand", batch_run_id=run.id, by=by, steps=[s.id for s in steps])
        return run_summary(run)
