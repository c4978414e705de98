"""What the postings step reads of a relationship's end: which current designation versions
it posts on D (in force, de-designated, or past the item's exposure date with the
instrument still revalued) and when each de-designated instrument left hedge accounting.

The contracts file changes the status, and the loader audits the change
(`contract_status_changed`, to `de_designated`) with its effective date: the row's
`de_designated_on`, else the day (UTC) it was loaded. The relationship is de-designated from
that date: that day's entry and later ones are in the P&L regime
(core.hedging.postings.regime_on with the day before as the last day of the hedge). A
re-designation is a new relationship of the same instrument: the old one hands the
instrument over on the new one's designation date (it then posts only its reserve's
release) and the new one starts from the derivative's carrying amount it left."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.values import ContractStatus
from db.hedging.de_designations import DESIGNATED_EVENT, de_designations
from db.hedging.effectiveness import current_versions
from db.hedging.models import HedgeDesignation, HedgeRelationship
from db.models import AuditEvent, HedgeContract

#: The instrument statuses whose relationships post: in force, or de-designated (P&L).
POSTED = (ContractStatus.DESIGNATED.value, ContractStatus.ACTIVE.value, ContractStatus.DE_DESIGNATED.value)


def designations_posted(session: Session, as_of: date) -> list[int]:
    """Ids of the current designation versions designated on or before `as_of` whose
    instrument is designated, active or de-designated (the exposure date not a bound:
    after it an instrument that lives on posts in the P&L regime)."""
    current = current_versions()
    stmt = (
        select(HedgeDesignation.id)
        .join(
            current,
            and_(
                current.c.relationship_id == HedgeDesignation.relationship_id,
                current.c.version == HedgeDesignation.version,
            ),
        )
        .join(HedgeRelationship, HedgeRelationship.id == HedgeDesignation.relationship_id)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .where(HedgeDesignation.designation_date <= as_of, HedgeContract.status.in_(POSTED))
        .order_by(HedgeDesignation.id)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class End:
    """How a relationship's hedge ends, as far as stored: the last day of its hedge (the day
    before its de-designation's effective date; None when its instrument is de-designated
    with no date stored) and the designation date of the next relationship of its
    instrument (a re-designation: the instrument is handed over on that date)."""

    de_designated: bool = False
    last_hedge_day: date | None = None
    handed_over_on: date | None = None
    successor: int | None = None
    #: The relationship of the same instrument designated just before this one.
    predecessor: int | None = None


def ends(session: Session, relationships: Iterable[tuple[int, int]]) -> dict[int, End]:
    """Per (relationship id, instrument id) given: its End, when it has one.

    A change of the instrument to `de_designated` audited after the relationship's
    designation (`hedge_designated`) de-designates it from the change's effective date (the
    contracts file's `de_designated_on`, else the day it was loaded), whatever the status
    later: IFRS 9 6.5.6 discontinues prospectively; a new designation is a new relationship."""
    pairs = dict(relationships)
    if not pairs:
        return {}
    contracts = sorted(set(pairs.values()))
    siblings = _relationships_of(session, contracts)
    changes = de_designations(session, contracts)
    designated = _designation_events(session, [rid for rid, cid in pairs.items() if cid in changes])
    stmt = select(HedgeContract.id, HedgeContract.status).where(HedgeContract.id.in_(contracts))
    statuses = {cid: status for cid, status in session.execute(stmt)}
    out = {}
    for rid, cid in pairs.items():
        later = [(r, d) for r, d in siblings.get(cid, []) if r > rid]
        earlier = [r for r, _d in siblings.get(cid, []) if r < rid]
        since = designated.get(rid, 0)
        change = next((c for c in changes.get(cid, []) if c[0] > since), None)
        end = End(
            change is not None or statuses.get(cid) == ContractStatus.DE_DESIGNATED.value,
            None if change is None else change[1] - timedelta(days=1),
            later[0][1] if later else None,
            later[0][0] if later else None,
            earlier[-1] if earlier else None,
        )
        if end != End():
            out[rid] = end
    return out


def _relationships_of(session: Session, contract_ids: list[int]) -> dict[int, list[tuple[int, date]]]:
    """Per contract: its relationships (id, first designation date), oldest first."""
    stmt = (
        select(HedgeRelationship.contract_id, HedgeRelationship.id, func.min(HedgeDesignation.designation_date))
        .join(HedgeDesignation, HedgeDesignation.relationship_id == HedgeRelationship.id)
        .where(HedgeRelationship.contract_id.in_(contract_ids))
        .group_by(HedgeRelationship.contract_id, HedgeRelationship.id)
        .order_by(HedgeRelationship.id)
    )
    out: dict[int, list[tuple[int, date]]] = {}
    for cid, rid, designated in session.execute(stmt):
        out.setdefault(cid, []).append((rid, designated))
    return out


def _designation_events(session: Session, relationship_ids: list[int]) -> dict[int, int]:
    """Per relationship: the id of its `hedge_designated` audit event (version 1)."""
    stmt = select(AuditEvent.entity_id, func.min(AuditEvent.id)).where(
        AuditEvent.event_type == DESIGNATED_EVENT,
        AuditEvent.entity_type == "hedge_designation",
        AuditEvent.entity_id.in_([str(rid) for rid in relationship_ids]),
    )
    return {int(rid): event_id for rid, event_id in session.execute(stmt.group_by(AuditEvent.entity_id))}
