"""MTM results: snapshots and exceptions written through the write path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import literal_column, select, union
from sqlalchemy.orm import Session

from core.mtm_results import MtmException as MtmExceptionValue
from core.mtm_results import MtmSnapshot as MtmSnapshotValue
from core.mtm_results import Valuation
from core.plans import IdRunSet
from core.values import Counts, ExceptionReason, ObjectType
from db.hedging.models import HedgeDesignation, HedgeRelationship
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


def covered_ids(session: Session, as_of: date, object_type: ObjectType, first: int, last: int) -> IdRunSet:
    """The ids from `first` to `last` of `object_type` with a snapshot of `as_of`, or an
    exception other than `not_valued` (that one marks a gap, it covers nothing). Streamed in
    order into runs of consecutive ids: at a million a set of them and the rows read took a
    worker process from 130 to 250 MiB (benchmarks/mtm.py, 2026-12-08)."""
    snaps = select(MtmSnapshot.object_id).where(
        MtmSnapshot.as_of_date == as_of,
        MtmSnapshot.object_type == object_type.value,
        MtmSnapshot.object_id.between(first, last),
    )
    excs = select(MtmException.object_id).where(
        MtmException.as_of_date == as_of,
        MtmException.object_type == object_type.value,
        MtmException.object_id.between(first, last),
        MtmException.reason != ExceptionReason.NOT_VALUED.value,
    )
    ordered = union(snaps, excs).order_by(literal_column("1"))
    rows = session.execute(ordered, execution_options={"yield_per": COVERED_BATCH})
    return IdRunSet(int(i) for (i,) in rows)


#: Covered ids read from the server at a time (covered_ids streams them).
COVERED_BATCH = 10_000


def hedged_item_ids(session: Session, version_ids: Sequence[int]) -> list[int]:
    """The hedged items of these designation versions (what a hedged-item chunk values), ascending."""
    stmt = (
        select(HedgeRelationship.hedged_item_id)
        .join(HedgeDesignation, HedgeDesignation.relationship_id == HedgeRelationship.id)
        .where(HedgeDesignation.id.in_(version_ids))
        .distinct()
    )
    return sorted(int(i) for i in session.scalars(stmt))
