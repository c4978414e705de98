"""What a chunk of effectiveness tests reads: each designation's MTM of both legs (only the
dates its method needs), its last test, and the legs that could not be valued on D for a
reason that blocks the test (basis_mismatch)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, Select, and_, func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from core.hedging.effectiveness import DesignationTerms, LegSeries, dates_needed
from core.hedging.methods import Method
from core.values import ExceptionReason, ObjectType
from db.base import BigId
from db.hedging.effectiveness import last_tests
from db.models import MtmException, MtmSnapshot

PAIRS_PER_QUERY = 500
BLOCKING = (ExceptionReason.BASIS_MISMATCH.value,)


def series_at(
    session: Session, object_type: ObjectType, ids: Sequence[int], days: set[date]
) -> dict[int, dict[date, Decimal]]:
    """MTM of each object on the given dates (dates without a snapshot are absent)."""
    found: dict[int, dict[date, Decimal]] = {oid: {} for oid in ids}
    if not ids or not days:
        return found
    stmt = select(MtmSnapshot.object_id, MtmSnapshot.as_of_date, MtmSnapshot.mtm_value).where(
        MtmSnapshot.object_type == object_type.value,
        MtmSnapshot.object_id.in_(sorted(set(ids))),
        MtmSnapshot.as_of_date.in_(sorted(days)),
    )
    for oid, day, value in session.execute(stmt):
        found[oid][day] = value
    return found


def paired_series(session: Session, terms: Sequence[DesignationTerms], as_of: date) -> dict[int, LegSeries]:
    """For each regressing designation, the last `regression_window + 1` dates from its
    designation date to `as_of` on which BOTH legs have a snapshot, with both MTM: one
    query (a window function over the join of the two legs) per few hundred designations."""
    found: dict[int, LegSeries] = {t.version_id: LegSeries({}, {}) for t in terms}
    for start in range(0, len(terms), PAIRS_PER_QUERY):
        part = terms[start : start + PAIRS_PER_QUERY]
        for vid, day, h, i in session.execute(_paired_stmt(part, as_of)):
            found[vid].h[day], found[vid].i[day] = h, i
    return found


def _paired_stmt(terms: Sequence[DesignationTerms], as_of: date) -> Select[Any]:
    # The designations as rows (a UNION ALL of literals: SQLite has no VALUES with column names).
    pairs = union_all(
        *(
            select(
                literal(t.version_id, Integer).label("vid"),
                literal(t.instrument_id, BigId).label("h_id"),
                literal(t.item_id, BigId).label("i_id"),
                literal(t.designation_date, Date).label("since"),
                literal(t.params.regression_window + 1, Integer).label("count"),
            )
            for t in terms
        )
    ).subquery("pairs")
    h, i = aliased(MtmSnapshot), aliased(MtmSnapshot)
    rank = func.row_number().over(partition_by=pairs.c.vid, order_by=h.as_of_date.desc()).label("rank")
    inner = (
        select(pairs.c.vid, pairs.c.count, h.as_of_date, h.mtm_value.label("h"), i.mtm_value.label("i"), rank)
        .join(
            h,
            and_(
                h.object_type == ObjectType.HEDGE_CONTRACT.value,
                h.object_id == pairs.c.h_id,
                h.as_of_date >= pairs.c.since,
                h.as_of_date <= as_of,
            ),
        )
        .join(
            i,
            and_(
                i.object_type == ObjectType.HEDGED_ITEM.value, i.object_id == pairs.c.i_id, i.as_of_date == h.as_of_date
            ),
        )
        .select_from(pairs)
        .subquery()
    )
    return select(inner.c.vid, inner.c.as_of_date, inner.c.h, inner.c.i).where(inner.c.rank <= inner.c.count)


def blocked_legs(session: Session, terms: Sequence[DesignationTerms], as_of: date) -> dict[int, str]:
    """Designations (version ids) a leg of which has a blocking exception on `as_of`, and why."""
    legs = {(ObjectType.HEDGE_CONTRACT.value, t.instrument_id): t for t in terms} | {
        (ObjectType.HEDGED_ITEM.value, t.item_id): t for t in terms
    }
    if not legs:
        return {}
    stmt = select(MtmException.object_type, MtmException.object_id, MtmException.reason, MtmException.details).where(
        MtmException.as_of_date == as_of,
        MtmException.reason.in_(BLOCKING),
        MtmException.object_id.in_(sorted({oid for _, oid in legs})),
    )
    found: dict[int, str] = {}
    for kind, oid, reason, details in session.execute(stmt):
        t = legs.get((kind, oid))
        if t is not None:
            other = details.get("other_leg") or {}
            found[t.version_id] = (
                f"{reason} on {as_of}: the {kind.replace('_', ' ')} would be valued by "
                f"{details.get('basis')}, the {str(other.get('object_type', '?')).replace('_', ' ')}"
                f" by {other.get('basis')}"
            )
    return found


def assessment_inputs(
    session: Session, terms: Sequence[DesignationTerms], as_of: date
) -> tuple[dict[int, LegSeries], dict[int, date], dict[int, str]]:
    """What testing `terms` at `as_of` reads, per designation version: both legs' MTM (dollar
    offset: D, the designation date and the last test; regression: the paired window), the
    date of the last test, and why a leg blocks the test (basis_mismatch on D)."""
    last = last_tests(session, [t.designation_id for t in terms], as_of)
    offsets = [t for t in terms if t.method is Method.DOLLAR_OFFSET]
    days = {d for t in offsets for d in dates_needed(t, as_of, last.get(t.designation_id))}
    h = series_at(session, ObjectType.HEDGE_CONTRACT, [t.instrument_id for t in offsets], days)
    i = series_at(session, ObjectType.HEDGED_ITEM, [t.item_id for t in offsets], days)
    series = {t.version_id: LegSeries(h[t.instrument_id], i[t.item_id]) for t in offsets}
    series.update(paired_series(session, [t for t in terms if t.method is Method.REGRESSION], as_of))
    return series, last, blocked_legs(session, terms, as_of)
