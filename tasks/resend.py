"""Re-sending the missing chunks of a stale running run: a killed worker's unacked chunk
messages come back only after Redis' visibility timeout (an hour by default) and a chunk
terminated on a lost connection may never come back at all. Beat sweeps every
HEDGEOPS_CHUNK_RESEND_SWEEP seconds: a running run without heartbeat for
HEDGEOPS_CHUNK_RESEND_AFTER seconds gets its missing chunks sent again (minutes, not an
hour). A chunk delivered twice is harmless: it counts in once (tasks.runs.chunk_step).

Each chunked job registers the function that plans its run again (its plan sends only
the chunks the ledger does not have): the sweep knows no job's room. A resender is its
job's entry, as a task is: it resolves its job's bundles (the sweep knows none but the
shared one) and hands them down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from db import ledger
from tasks import names
from tasks.base import job_task
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)

#: Job -> the function that re-plans its running run (sends the chunks not counted in).
RESENDERS: dict[str, Callable[[int], Any]] = {}
#: Job name prefix -> the same, for jobs named per instance (a terminal's sync cycle is
#: `mt5_sync:<terminal>`).
PREFIX_RESENDERS: dict[str, Callable[[int], Any]] = {}


def resender_for(job: str) -> Callable[[int], Any] | None:
    """The function that re-plans a run of `job` (None: the job has none)."""
    if job in RESENDERS:
        return RESENDERS[job]
    return next((r for prefix, r in PREFIX_RESENDERS.items() if job.startswith(prefix)), None)


@job_task(names.RESEND_STALE_CHUNKS, queue="valuation", ignore_result=True)
def resend_stale_chunks(self: Any) -> dict[str, Any]:
    return {"resent": resend_stale(ports())}


def resend_stale(p: Ports) -> list[int]:
    """Claim the stale chunked runs (their heartbeat moves on), then re-plan each."""
    now = p.clock()
    with p.uow() as uow:
        claimed = ledger.claim_stale_chunked(uow.session, now - p.chunk_resend_after, now)
        uow.commit()
    resent = []
    for run_id, job in claimed:
        resender = resender_for(job)
        if resender is None:  # its heartbeat moved on all the same: say so, never silently
            log.error("stale_run_not_resendable", batch_run_id=run_id, job=job)
            continue
        log.warning("stale_run_chunks_resent", batch_run_id=run_id, job=job)
        resender(run_id)
        resent.append(run_id)
    return resent
