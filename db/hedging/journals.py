"""What the postings step reads (each relationship's terms, both legs' snapshots on D and on
the designation date, D's effectiveness result, the state its entries left, the entries of
D already stored) and writes (entries through the write path, `postings_blocked`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core import keys
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import JournalEntry, PostedState
from core.hedging.posting_day import Stored
from core.hedging.postings import LegMark
from core.values import ObjectType
from db.hedging.journal_models import JournalEntry as EntryRow
from db.hedging.journal_models import PostingException
from db.hedging.models import EffectivenessResult, HedgeDesignation, HedgedItem, HedgeRelationship
from db.models import HedgeContract, MtmSnapshot
from db.writepath import WriteReport, result_row, write_results

BLOCKED = "postings_blocked"


@dataclass(frozen=True, slots=True)
class Subject:
    """A relationship to post, as its current designation version says."""

    relationship_id: int
    version: int
    hedge_type: HedgeType
    hedge_ratio: Decimal
    oci_release_method: OciReleaseMethod
    designation_date: date
    exposure_date: date
    instrument_id: int
    item_id: int
    currency: str
    designation_id: int = 0  # the version's row id


def subjects(session: Session, version_ids: Sequence[int]) -> list[Subject]:
    stmt = (
        select(HedgeDesignation, HedgeRelationship.contract_id, HedgedItem.id, HedgedItem.exposure_date)
        .join(HedgeRelationship, HedgeRelationship.id == HedgeDesignation.relationship_id)
        .join(HedgedItem, HedgedItem.id == HedgeRelationship.hedged_item_id)
        .add_columns(HedgeContract.currency)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .where(HedgeDesignation.id.in_(sorted(set(version_ids))))
        .order_by(HedgeDesignation.relationship_id)
    )
    return [
        Subject(
            d.relationship_id,
            d.version,
            HedgeType(d.hedge_type),
            d.hedge_ratio,
            OciReleaseMethod(d.oci_release_method),
            d.designation_date,
            exposure,
            contract_id,
            item_id,
            currency,
            d.id,
        )
        for d, contract_id, item_id, exposure, currency in session.execute(stmt)
    ]


@dataclass(frozen=True, slots=True)
class Mark:
    """A leg's snapshot on a date: what a posting uses of it."""

    leg: LegMark
    payload: dict[str, Any]


def marks(
    session: Session, object_type: ObjectType, ids: Iterable[int], days: Iterable[date]
) -> dict[tuple[int, date], Mark]:
    """The snapshots of these objects on these dates, by (object id, date)."""
    wanted, on = sorted(set(ids)), sorted(set(days))
    if not wanted or not on:
        return {}
    stmt = select(MtmSnapshot).where(
        MtmSnapshot.object_type == object_type.value, MtmSnapshot.object_id.in_(wanted), MtmSnapshot.as_of_date.in_(on)
    )
    found = {}
    for s in session.scalars(stmt):
        functional = s.payload.get("functional_mtm")
        leg = LegMark(s.mtm_value, s.id, s.payload_sha256, None if functional is None else Decimal(str(functional)))
        found[(s.object_id, s.as_of_date)] = Mark(leg, s.payload)
    return found


def effectiveness_keys(session: Session, subjects_: Sequence[Subject], as_of: date) -> dict[int, str]:
    """Each relationship's effectiveness result key of D, for its current version, when stored."""
    wanted = {keys.effectiveness_key(s.relationship_id, s.version, as_of): s.relationship_id for s in subjects_}
    if not wanted:
        return {}
    stmt = select(EffectivenessResult.idempotency_key).where(EffectivenessResult.idempotency_key.in_(sorted(wanted)))
    return {wanted[key]: key for key in session.scalars(stmt)}


def previous_states(session: Session, relationship_ids: Sequence[int], before: date) -> dict[int, PostedState]:
    """The state the latest entry before `before` left, per relationship (by date, then as written)."""
    rank = (
        func.row_number()
        .over(partition_by=EntryRow.relationship_id, order_by=(EntryRow.as_of_date.desc(), EntryRow.id.desc()))
        .label("rank")
    )
    inner = (
        select(EntryRow.relationship_id, EntryRow.payload, rank)
        .where(EntryRow.relationship_id.in_(sorted(set(relationship_ids))), EntryRow.as_of_date < before)
        .subquery()
    )
    stmt = select(inner.c.relationship_id, inner.c.payload).where(inner.c.rank == 1)
    return {rid: PostedState.from_payload(payload["state_after"]) for rid, payload in session.execute(stmt)}


def next_posted(session: Session, relationship_ids: Sequence[int], after: date) -> dict[int, date]:
    """Per relationship with entries dated after `after`: the first such date."""
    stmt = (
        select(EntryRow.relationship_id, func.min(EntryRow.as_of_date))
        .where(EntryRow.relationship_id.in_(sorted(set(relationship_ids))), EntryRow.as_of_date > after)
        .group_by(EntryRow.relationship_id)
    )
    return {rid: day for rid, day in session.execute(stmt) if rid is not None}


def stored_entries(
    session: Session, relationship_ids: Sequence[int], days: Iterable[date]
) -> dict[int, dict[tuple[str, date], Stored]]:
    """Per relationship, by (kind, date): the latest non-reversal entry and how many there are."""
    stmt = (
        select(EntryRow.relationship_id, EntryRow.kind, EntryRow.as_of_date, EntryRow.payload)
        .where(
            EntryRow.relationship_id.in_(sorted(set(relationship_ids))),
            EntryRow.as_of_date.in_(sorted(set(days))),
            EntryRow.reverses_key.is_(None),
        )
        .order_by(EntryRow.id)
    )
    found: dict[int, dict[tuple[str, date], Stored]] = {}
    for rid, kind, day, payload in session.execute(stmt):
        mine = found.setdefault(rid, {})
        count = mine[(kind, day)].sequence if (kind, day) in mine else 0
        mine[(kind, day)] = Stored(JournalEntry.from_payload(payload), count + 1)
    return found


def write_entries(
    session: Session, entries: Sequence[JournalEntry], *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    """Append the entries (lines in the payload) through the write path, in order."""
    rows = [result_row(e.key, e.payload, _columns(e)) for e in entries]
    return write_results(session, EntryRow, rows, batch_run_id=batch_run_id, now=now)


def _columns(e: JournalEntry) -> dict[str, Any]:
    return {
        "relationship_id": e.relationship_id,
        "kind": e.kind.value,
        "as_of_date": e.as_of,
        "posting_date": e.posting_date,
        "period": e.period,
        "reverses_key": e.reverses,
    }


def write_blocked(
    session: Session, blocked: dict[int, str], as_of: date, *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    """One `postings_blocked` exception per relationship that got no entry, with its reason."""
    rows = []
    for rid, reason in sorted(blocked.items()):
        payload = {"relationship_id": rid, "as_of_date": as_of, "reason": BLOCKED, "details": {"reason": reason}}
        row = result_row(keys.posting_exception_key(rid, as_of, BLOCKED), payload, {})
        row.columns.update(relationship_id=rid, as_of_date=as_of, reason=BLOCKED, details=row.payload["details"])
        rows.append(row)
    return write_results(session, PostingException, rows, batch_run_id=batch_run_id, now=now)


def relationships_released(session: Session, before: date) -> set[int]:
    """Relationships whose reserve was released as no longer expected on a date before `before`."""
    stmt = select(EntryRow.relationship_id).where(
        and_(EntryRow.kind == keys.FX_OCI_NO_LONGER_EXPECTED, EntryRow.as_of_date < before)
    )
    return set(session.scalars(stmt.distinct()))
