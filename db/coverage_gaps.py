"""Coverage gaps of the jobs whose results live in their own rooms' tables (effectiveness,
postings, a terminal's sync cycle: issue 21, point 1). A planned object with no result at
its run's end is a row here, named by its run's job, so the run ends
`completed_with_exceptions`. MTM's gaps stay `not_valued` rows of `mtm_exceptions`, beside
the exceptions they complete. Append-only; written only through the write path."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import BigId, ResultTable
from db.writepath import WriteReport, result_row, write_results


class CoverageGap(ResultTable):
    """A planned object of a run with neither a result nor an exception at the run's end;
    key GAP:<job>:<object_type>:<object_id>:<run> (each attempt names its own gaps)."""

    __tablename__ = "coverage_gaps"
    __table_args__ = (Index("ix_coverage_gaps_run_object", "batch_run_id", "object_type", "object_id"),)

    job: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(BigId)
    as_of_date: Mapped[date]
    reason: Mapped[str] = mapped_column(String(32))


def gap_key(job: str, object_type: str, object_id: int, run_id: int) -> str:
    return f"GAP:{job}:{object_type}:{object_id}:{run_id}"


def write_gaps(
    session: Session,
    *,
    job: str,
    object_type: str,
    object_ids: Iterable[int],
    as_of: date,
    reason: str,
    batch_run_id: int,
    now: datetime,
) -> WriteReport:
    """One gap row per object id, through the write path."""
    rows = []
    for i in object_ids:
        payload = {"job": job, "object_type": object_type, "object_id": i, "as_of_date": as_of, "reason": reason}
        row = result_row(gap_key(job, object_type, i, batch_run_id), payload, {})
        row.columns.update(job=job, object_type=object_type, object_id=i, as_of_date=as_of, reason=reason)
        rows.append(row)
    return write_results(session, CoverageGap, rows, batch_run_id=batch_run_id, now=now)


def gaps_of_run(session: Session, run_id: int) -> dict[str, list[int]]:
    """The gap rows a run wrote, per object type."""
    stmt = select(CoverageGap.object_type, CoverageGap.object_id).where(CoverageGap.batch_run_id == run_id)
    found: dict[str, list[int]] = {}
    for kind, i in session.execute(stmt.order_by(CoverageGap.object_id)):
        found.setdefault(kind, []).append(int(i))
    return found
