"""What the postings step reads of a relationship's end: which current designation versions
it posts on D (in force, de-designated, or past the item's exposure date with the
instrument still revalued) and when each de-designated instrument left hedge accounting.

No table stores a de-designation date: the contracts file changes the status, and the
loader audits the change (`contract_status_changed`, to `de_designated`) at the moment it
loads it. The relationship is de-designated from that day (UTC): the day's entry and
later ones are in the P&L regime (core.hedging.postings.regime_on with the day before as
the last day of the hedge)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core.values import ContractStatus
from db.hedging.effectiveness import current_versions
from db.hedging.models import HedgeDesignation, HedgeRelationship
from db.models import AuditEvent, HedgeContract

#: The instrument statuses whose relationships post: in force, or de-designated (P&L).
POSTED = (ContractStatus.DESIGNATED.value, ContractStatus.ACTIVE.value, ContractStatus.DE_DESIGNATED.value)
STATUS_CHANGED = "contract_status_changed"


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


def hedged_until(session: Session, contract_ids: Iterable[int]) -> dict[int, date | None]:
    """Per de-designated contract among these: the last day of its hedge (the day before
    its latest audited change to `de_designated`), None when no such change is stored
    (e.g. a contract loaded de-designated). Contracts in force are left out."""
    wanted = sorted(set(contract_ids))
    if not wanted:
        return {}
    stmt = select(HedgeContract.id).where(
        HedgeContract.id.in_(wanted), HedgeContract.status == ContractStatus.DE_DESIGNATED.value
    )
    out: dict[int, date | None] = dict.fromkeys(session.scalars(stmt))
    if not out:
        return out
    events = select(AuditEvent.entity_id, AuditEvent.details, AuditEvent.occurred_at).where(
        AuditEvent.event_type == STATUS_CHANGED,
        AuditEvent.entity_type == "hedge_contract",
        AuditEvent.entity_id.in_([str(cid) for cid in out]),
    )
    for entity_id, details, occurred_at in session.execute(events.order_by(AuditEvent.id)):
        if details.get("to") == ContractStatus.DE_DESIGNATED.value:
            out[int(entity_id)] = occurred_at.date() - timedelta(days=1)  # the latest one wins
    return out
