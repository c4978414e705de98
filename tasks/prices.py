"""Job 1: fetch D-1 settlement prices from every configured source."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core.ports import PriceBatch
from core.values import Counts, Job
from db import ledger
from db.audit import record_event
from db.prices import write_price_batch
from tasks import runs
from tasks.base import job_task
from tasks.runtime import runtime
from tasks.summary import run_summary

log = structlog.get_logger(__name__)
MAX_ERRORS_IN_DETAILS = 200


@job_task("hedgeops.prices.fetch_settlement_prices", queue="prices")
def fetch_settlement_prices(self: Any, as_of: str | None = None, trigger: str = "manual",
                            parent_run_id: int | None = None) -> dict[str, Any]:
    return runs.run_job(Job.PRICES, self.request.id, ingest_prices,
                        as_of=as_of, trigger=trigger, parent_run_id=parent_run_id)


def ingest_prices(run_id: int) -> dict[str, Any]:
    rt = runtime()
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        total, files = Counts(), []
        for source in rt.price_sources:
            for batch in source.fetch(run.as_of_date):
                counts = store_price_batch(uow.session, batch, batch_run_id=run.id, now=rt.clock())
                total.add(counts)
                files.append({"file": batch.report.file, "source": batch.source, **counts.as_dict()})
        ledger.add_counts(uow.session, run.id, total, rt.clock())
        run.details = {**run.details, "files": files}
        runs.finish(uow, run)
        uow.commit()
        return run_summary(run)


def store_price_batch(session: Session, batch: PriceBatch, *, batch_run_id: int | None, now: datetime) -> Counts:
    """Write a batch's good rows; report each bad row (log and audit) with file and line.

    `exceptions` counts the rejected rows; a batch refused whole (not a price file)
    writes nothing and counts one exception.
    """
    file = batch.report.file
    if batch.rejected:
        log.warning("price_file_rejected", file=file, reason=batch.rejected)
        record_event(session, "price_file_rejected", entity_type="price_file", entity_id=file, now=now,
                     batch_run_id=batch_run_id, details={"source": batch.source, "reason": batch.rejected})
        return Counts(exceptions=1)
    for error in batch.report.errors:
        log.warning("price_row_rejected", file=error.file, line=error.line, reason=error.reason)
    report = write_price_batch(session, batch, batch_run_id=batch_run_id, now=now)
    counts = report.counts()
    counts.exceptions = len(batch.report.errors)
    record_event(session, "price_file_ingested", entity_type="price_file", entity_id=file, now=now,
                 batch_run_id=batch_run_id, details={
                     "source": batch.source, "file_sha256": batch.file_sha256, **counts.as_dict(),
                     "conflict_keys": report.conflict_keys,
                     "rejected_rows": [str(e) for e in batch.report.errors[:MAX_ERRORS_IN_DETAILS]]})
    for key in report.conflict_keys:
        log.warning("price_conflicted", idempotency_key=key, file=file)
    return counts
