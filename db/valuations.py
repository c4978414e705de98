"""MTM results: snapshots and exceptions written through the write path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.mtm_results import MtmException as MtmExceptionValue
from core.mtm_results import MtmSnapshot as MtmSnapshotValue
from core.mtm_results import Valuation
from core.values import Counts
from db.models import MtmException, MtmSnapshot
from db.writepath import ResultRow, result_row, write_results


def snapshot_row(snap: MtmSnapshotValue, correlation_id: str | None) -> ResultRow:
    """A snapshot's row: its business values are both columns and payload fields
    (core.mtm_results.SNAPSHOT_FIELDS)."""
    return result_row(snap.key, snap.payload, {**snap.fields, "correlation_id": correlation_id})


def exception_row(exc: MtmExceptionValue) -> ResultRow:
    row = result_row(exc.key, exc.payload, {})
    row.columns.update(
        {
            "object_type": exc.object_type.value,
            "object_id": exc.contract_id,
            "as_of_date": exc.as_of,
            "reason": exc.reason.value,
            "details": row.payload["details"],
        }
    )
    return row


def write_valuation(
    session: Session, valuation: Valuation, *, batch_run_id: int | None, now: datetime, correlation_id: str | None
) -> Counts:
    """Write a chunk's snapshots and exceptions; each contract counts once as processed."""
    snaps = write_results(
        session,
        MtmSnapshot,
        [snapshot_row(s, correlation_id) for s in valuation.snapshots],
        batch_run_id=batch_run_id,
        now=now,
    ).counts()
    excs = write_results(
        session, MtmException, [exception_row(e) for e in valuation.exceptions], batch_run_id=batch_run_id, now=now
    ).counts()
    counts = Counts(
        processed=snaps.processed + excs.processed,
        created=snaps.created,
        existing=snaps.existing,
        conflicts=snaps.conflicts + excs.conflicts,
        exceptions=excs.processed,
    )
    return counts
