"""Re-sending the missing chunks of a stale running run: a killed worker's unacked chunk
messages come back only after Redis' visibility timeout (an hour by default) and a chunk
terminated on a lost connection may never come back at all. Beat sweeps every
HEDGEOPS_CHUNK_RESEND_SWEEP seconds: a running run without heartbeat for
HEDGEOPS_CHUNK_RESEND_AFTER seconds gets its missing chunks sent again (minutes, not an
hour). A chunk delivered twice is harmless: it counts in once (tasks.fanin.chunk_step).

Every chunked job declares, beside its fan-out (tasks.fanout), the entry that plans its run
again (its plan sends only the chunks the ledger does not have). `CHUNKED_JOBS` lists those
declarations: what the sweep can re-send does not hang on which modules a process imported
(it did when each job put its re-sender into a dict here as it was imported). A re-sender
is its job's entry, as a task is: it resolves its job's bundles of ports and hands them
down; the sweep hands down only the shared bundle it claims the runs with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog

from core.values import Job
from db import ledger
from tasks import names
from tasks.base import job_task
from tasks.fanout import ChunkedJob
from tasks.hedging.effectiveness import EFFECTIVENESS
from tasks.hedging.postings import POSTINGS
from tasks.mt5.cycle import CYCLE
from tasks.nightly import resend_missing_step
from tasks.ports import Ports, ports
from tasks.valuation import MTM

log = structlog.get_logger(__name__)

#: Every job that fans out (tasks.fanout): a claimed run of another job has nothing to re-send.
CHUNKED_JOBS: tuple[ChunkedJob, ...] = (MTM, EFFECTIVENESS, POSTINGS, CYCLE)


def resender_for(job: str, chunked: Sequence[ChunkedJob] = CHUNKED_JOBS) -> Callable[[int], object] | None:
    """The entry that re-plans a run of `job` (None: the job has none)."""
    return next((c.resend for c in chunked if c.covers(job)), None)


@job_task(names.RESEND_STALE_CHUNKS, queue=names.QueueName.VALUATION, ignore_result=True)
def resend_stale_chunks(self: Any) -> dict[str, Any]:
    return {"resent": resend_stale(ports())}


def resend_stale(p: Ports) -> list[int]:
    """Claim the stale chunked runs (their heartbeat moves on), then re-plan each; then move
    on the stale nightlies whose next step was never started (tasks.nightly)."""
    now = p.clock()
    with p.uow() as uow:
        claimed = ledger.claim_stale_chunked(uow.session, now - p.chunk_resend_after, now)
        nightlies = ledger.stale_running(uow.session, Job.NIGHTLY.value, now - p.chunk_resend_after)
        uow.commit()
    return _resend_chunks(claimed) + [r for r in nightlies if resend_missing_step(p, r, p.chunk_resend_after)]


def _resend_chunks(claimed: list[tuple[int, str]]) -> list[int]:
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
