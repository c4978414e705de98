"""Job 1: fetch D-1 settlement prices from every configured source."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

import sqlalchemy.exc
import structlog
from sqlalchemy.orm import Session

from core.bulk import paused_gc
from core.ecb import CROSS_SOURCE, EcbCrosses, derive_cross
from core.ports import PriceBatch, PriceSource, QuarantiningSource
from core.redaction import redact_text, redacted_error
from core.run_details import RunRecord
from core.values import Counts, Job
from db import ledger
from db.audit import record_event
from db.contracts import active_underlyings
from db.prices import file_seen, prices_on, record_file, stored_legs, write_cross_prices, write_price_batch
from db.uow import SqlAlchemyUnitOfWork
from db.writepath import WriteReport
from tasks import names, runs
from tasks.base import is_transient, job_task
from tasks.ports import Ports, ports
from tasks.price_checks import verify_prices
from tasks.summary import run_summary

log = structlog.get_logger(__name__)
MAX_ERRORS_IN_DETAILS = 200


@job_task(names.FETCH_SETTLEMENT_PRICES, queue=names.QueueName.PRICES)
def fetch_settlement_prices(
    self: Any, as_of: str | None = None, trigger: str = "manual", parent_run_id: int | None = None
) -> dict[str, Any]:
    p = ports()
    return runs.run_job(
        p,
        Job.PRICES,
        self.request.id,
        partial(ingest_prices, p),
        as_of=as_of,
        trigger=trigger,
        parent_run_id=parent_run_id,
    )


def ingest_prices(p: Ports, run_id: int) -> dict[str, Any]:
    """Each batch (a price file, a response) in its own unit of work, counted into the run
    as it commits: a poison file is quarantined with its reason and the others land. Then
    the freshness check of D-1. A source that fails is that source's failure (recorded,
    counted as an exception): the others still run."""
    with p.uow() as uow:
        run = ledger.get_run(uow.session, run_id)
        as_of, wanted = run.as_of_date, p.d1_dates(active_underlyings(uow.session), run.as_of_date)
    files: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for source in p.price_sources:
        batches = fetch_source(source, as_of, wanted)
        if isinstance(batches, str):
            failed.append(source_failed(p, source, batches, run_id))
            continue
        files.extend(ingest_file(p, source, batch, run_id) for batch in batches)
    with p.uow() as uow:
        run = ledger.get_run(uow.session, run_id, for_update=True)
        missing = report_missing(uow.session, wanted, run.id, p.clock())
        variances = verify_prices(p.price_checks, uow.session, wanted, run.id, p.clock())
        if variances:
            _count_into(p, uow, run_id, Counts(exceptions=len(variances)))
        found = {"files": files, "price_missing": missing, "failed_sources": failed}
        record = RunRecord.model_validate({**found, **({"failures": variances} if variances else {})})
        run.details = {**run.details, **record.as_details()}
        runs.finish(p, uow, run)
        uow.commit()
        return run_summary(run)


def ingest_file(p: Ports, source: PriceSource, batch: PriceBatch, run_id: int) -> dict[str, Any]:
    """One batch, its own unit of work. What a retry would not cure (a value the database
    refuses, a file that breaks its parser half-way) quarantines the file with its reason
    and counts one exception; a transient error propagates (the task retries the run,
    whose committed files are skipped as already processed)."""
    entry: dict[str, Any] = {"file": batch.report.file, "source": batch.source}
    if batch.poison is not None:
        quarantine_file(p, source, batch, batch.poison, run_id)
        return {**entry, **Counts(exceptions=1).as_dict(), "quarantined": batch.poison}
    try:
        with p.uow() as uow:
            counts = ingest_batch(p, uow, source, batch, run_id)
            _count_into(p, uow, run_id, counts)
            uow.commit()
        return {**entry, **counts.as_dict()}
    except Exception as exc:
        if is_transient(exc):
            raise
        reason = redacted_error(exc)[:500]
    quarantine_file(p, source, batch, reason, run_id)
    return {**entry, **Counts(exceptions=1).as_dict(), "quarantined": reason}


def quarantine_file(p: Ports, source: PriceSource, batch: PriceBatch, reason: str, run_id: int) -> None:
    log.error("price_file_quarantined", file=batch.report.file, source=batch.source, reason=reason)
    with p.uow() as uow:
        record_event(
            uow.session,
            "price_file_quarantined",
            entity_type="price_file",
            entity_id=batch.report.file,
            now=p.clock(),
            batch_run_id=run_id,
            details={"source": batch.source, "reason": reason, "file_sha256": batch.file_sha256},
        )
        _count_into(p, uow, run_id, Counts(exceptions=1))
        if isinstance(source, QuarantiningSource):
            uow.after_commit(lambda: source.quarantine(batch, reason))
        uow.commit()


def _count_into(p: Ports, uow: SqlAlchemyUnitOfWork, run_id: int, counts: Counts) -> None:
    ledger.add_counts(uow.session, run_id, counts, p.clock())
    runs.counted_in(p.run_observer, uow, Job.PRICES.value, counts)


def fetch_source(source: PriceSource, as_of: date, wanted: Mapping[str, date]) -> list[PriceBatch] | str:
    """The source's batches, or why it failed. A database error is no source's failure: it
    propagates (the task retries)."""
    try:
        return list(source.fetch(as_of, wanted))
    except sqlalchemy.exc.SQLAlchemyError:
        raise
    except Exception as exc:  # any adapter's failure: one source down must not stop the others
        return f"{type(exc).__name__}: {exc}"[:500]


def source_failed(p: Ports, source: PriceSource, error: str, run_id: int) -> dict[str, str]:
    """A source that failed: an audit event and one exception counted into the run."""
    name, error = source.name, redact_text(error)
    log.error("price_source_failed", source=name, error=error)
    with p.uow() as uow:
        record_event(
            uow.session,
            "price_source_failed",
            entity_type="price_source",
            entity_id=name,
            now=p.clock(),
            batch_run_id=run_id,
            details={"source": name, "error": error},
        )
        _count_into(p, uow, run_id, Counts(exceptions=1))
        uow.commit()
    return {"source": name, "error": error}


def ingest_batch(p: Ports, uow: SqlAlchemyUnitOfWork, source: PriceSource, batch: PriceBatch, run_id: int) -> Counts:
    """Store a batch, unless it is a file already processed; either way the source may
    archive it once the transaction is committed."""
    now = p.clock()
    uow.after_commit(lambda: source.acknowledge(batch))
    if batch.location and batch.file_sha256 and file_seen(uow.session, batch.source, batch.file_sha256):
        log.info("price_file_skipped", file=batch.report.file, reason="already processed", sha256=batch.file_sha256)
        return Counts()
    with paused_gc():
        counts = store_price_batch(uow.session, batch, batch_run_id=run_id, now=now)
    record_file(uow.session, batch, counts, batch_run_id=run_id, now=now)
    crosses = store_crosses(uow.session, batch, p.ecb_crosses, batch_run_id=run_id, now=now)
    if crosses is not None:
        counts.add(crosses)
    return counts


def report_missing(session: Session, wanted: Mapping[str, date], run_id: int, now: datetime) -> list[dict[str, str]]:
    """Each symbol an active contract needs without a price on its D-1 date: a
    `price_missing` event. A holiday is not a gap: `wanted` already skips them."""
    found = prices_on(session, wanted)
    missing = [{"symbol": s, "price_date": d.isoformat()} for s, d in sorted(wanted.items()) if s not in found]
    for item in missing:
        log.warning("price_missing", **item)
        record_event(
            session,
            "price_missing",
            entity_type="symbol",
            entity_id=item["symbol"],
            now=now,
            batch_run_id=run_id,
            details=item,
        )
    return missing


def store_price_batch(session: Session, batch: PriceBatch, *, batch_run_id: int | None, now: datetime) -> Counts:
    """Write a batch's good rows; report each bad row (log and audit) with file and line.

    `exceptions` counts the rejected rows; a batch refused whole (not a price file)
    writes nothing and counts one exception.
    """
    file = batch.report.file
    if batch.rejected:
        log.warning("price_file_rejected", file=file, reason=batch.rejected)
        record_event(
            session,
            "price_file_rejected",
            entity_type="price_file",
            entity_id=file,
            now=now,
            batch_run_id=batch_run_id,
            details={"source": batch.source, "reason": batch.rejected},
        )
        return Counts(exceptions=1)
    report = write_price_batch(session, batch, batch_run_id=batch_run_id, now=now)  # a streamed file's bad rows too
    for error in batch.report.errors:
        log.warning("price_row_rejected", file=error.file, line=error.line, reason=error.reason)
    counts = report.counts()
    counts.exceptions = len(batch.report.errors)
    record_event(
        session,
        "price_file_ingested",
        entity_type="price_file",
        entity_id=file,
        now=now,
        batch_run_id=batch_run_id,
        details={
            "source": batch.source,
            "file_sha256": batch.file_sha256,
            **counts.as_dict(),
            "conflict_keys": report.conflict_keys,
            "rejected_rows": [str(e) for e in batch.report.errors[:MAX_ERRORS_IN_DETAILS]],
        },
    )
    record_restated(session, report, file, batch_run_id=batch_run_id, now=now)
    return counts


def record_restated(
    session: Session, report: WriteReport, file: str | None, *, batch_run_id: int | None, now: datetime
) -> None:
    """Each refused value (a restated price): logged and an audit event with both payloads."""
    for key, (stored, refused) in report.conflicts.items():
        log.warning("price_restated", idempotency_key=key, file=file, stored=stored["price"], refused=refused["price"])
        record_event(
            session,
            "price_restated",
            entity_type="settlement_price",
            entity_id=key,
            now=now,
            batch_run_id=batch_run_id,
            details={"stored": stored, "refused": refused, "file": file},
        )


def store_crosses(
    session: Session, batch: PriceBatch, crosses: EcbCrosses | None, *, batch_run_id: int | None, now: datetime
) -> Counts | None:
    """Once a batch of the crosses' legs source is written (the same transaction): every
    cross on the batch's dates, derived from the legs as stored, each row naming its legs'
    price ids; one `price_crosses_derived` event with the counts. None: no crosses follow
    from this batch (none configured, another source, nothing written)."""
    if crosses is None or batch.source != crosses.legs_source or batch.rejected or not batch.report.rows:
        return None
    days = [row.price_date for _, row in batch.report.rows]
    since, until = min(days), max(days)
    legs = stored_legs(session, crosses.legs_source, crosses.leg_symbols(), since, until)
    report = write_cross_prices(
        session, [c for pair in crosses.pairs for c in derive_cross(legs, pair)], batch_run_id=batch_run_id, now=now
    )
    counts = report.counts()
    log.info(
        "price_crosses_derived",
        legs_source=crosses.legs_source,
        since=since.isoformat(),
        until=until.isoformat(),
        **counts.as_dict(),
    )
    record_event(
        session,
        "price_crosses_derived",
        entity_type="price_source",
        entity_id=CROSS_SOURCE,
        now=now,
        batch_run_id=batch_run_id,
        details={
            "pairs": list(crosses.pairs),
            "legs_source": crosses.legs_source,
            "legs_file": batch.report.file,
            "since": since.isoformat(),
            "until": until.isoformat(),
            **counts.as_dict(),
            "conflict_keys": report.conflict_keys,
        },
    )
    record_restated(session, report, None, batch_run_id=batch_run_id, now=now)
    return counts
