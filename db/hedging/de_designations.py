"""When a hedging instrument was de-designated: the contracts file moves it to
`de_designated`, and the loader (db.contracts, through db.lifecycle) audits the change
(`treasury.fx_contract.hedge_de_designated`; `contract_status_changed` before issue 22)
with its effective date: the row's `de_designated_on`, else the day (UTC) the file was loaded.
This module reads those dates and checks a given one; it imports no other hedging module
(db.contracts imports it)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.hedging.lifecycle import HEDGE_DE_DESIGNATED
from core.values import ContractStatus
from db.hedging.models import HedgeDesignation, HedgeRelationship
from db.models import AuditEvent

STATUS_CHANGED = "contract_status_changed"
#: The events that record a move to de_designated: the seed's, and the older generic one.
DE_DESIGNATED_EVENTS = (HEDGE_DE_DESIGNATED, STATUS_CHANGED)
DESIGNATED_EVENT = "hedge_designated"
#: The de-designation's effective date in the status change's audit details.
EFFECTIVE_DATE = "effective_date"


def de_designations(session: Session, contract_ids: list[int]) -> dict[int, list[tuple[int, date]]]:
    """Per contract: its changes to `de_designated`, (audit event id, effective date), in order."""
    events = select(AuditEvent.id, AuditEvent.entity_id, AuditEvent.details, AuditEvent.occurred_at).where(
        AuditEvent.event_type.in_(DE_DESIGNATED_EVENTS),
        AuditEvent.entity_type == "hedge_contract",
        AuditEvent.entity_id.in_([str(cid) for cid in contract_ids]),
    )
    out: dict[int, list[tuple[int, date]]] = {}
    for event_id, entity_id, details, occurred_at in session.execute(events.order_by(AuditEvent.id)):
        if details.get("to") == ContractStatus.DE_DESIGNATED.value:
            given = details.get(EFFECTIVE_DATE)
            effective = date.fromisoformat(given) if given else occurred_at.date()
            out.setdefault(int(entity_id), []).append((event_id, effective))
    return out


def effective_date_problem(session: Session, contract_id: int, effective: date, today: date) -> str | None:
    """Why `effective` cannot be the de-designation date of this contract's relationship (its
    latest one): in the future, or before its designation date (the current version's)."""
    if effective > today:
        return f"de_designated_on: {effective} is in the future (today is {today})"
    latest = (
        select(HedgeRelationship.designation_ref, func.max(HedgeDesignation.designation_date))
        .join(HedgeDesignation, HedgeDesignation.relationship_id == HedgeRelationship.id)
        .where(HedgeRelationship.contract_id == contract_id)
        .group_by(HedgeRelationship.id, HedgeRelationship.designation_ref)
        .order_by(HedgeRelationship.id.desc())
        .limit(1)
    )
    found = session.execute(latest).first()
    if found is None:
        return "de_designated_on: the contract is in no designation: there is nothing to de-designate"
    ref, designated = found
    if effective < designated:
        return f"de_designated_on: {effective} is before {ref}'s designation date {designated}"
    return None


def reload_problem(session: Session, contract_id: int, effective: date) -> str | None:
    """A contract already de-designated, loaded again with a de-designation date: the same as
    recorded, or refused (a reload does not move it)."""
    recorded = de_designations(session, [contract_id]).get(contract_id)
    if not recorded or recorded[-1][1] == effective:
        return None
    return f"de_designated_on: de-designated effective {recorded[-1][1]}; a reload cannot move it to {effective}"
