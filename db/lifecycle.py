"""Every status change of a contract goes through `move_contract`: checked against the
lifecycle with the path that makes it (core.hedging.lifecycle) and audited with its seed 004
§4.4 event; the contracts file, designations, their prospective tests and settlements all
call it. A contract's other amendments are audited by `record_amendment`, with the
before/after difference."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.errors import ContractChanged
from core.hedging.lifecycle import AMENDED, COMMODITY_AMENDED, Via, event_for, settlement_problem, transition_problem
from core.values import ContractStatus, Instrument
from db.audit import record_event
from db.models import HedgeContract

ENTITY = "hedge_contract"


class IllegalTransition(ContractChanged):
    """A status change the lifecycle does not allow by that path."""


def diff(before: Any, after: Any) -> dict[str, Any]:
    """One field's difference, as the audit events record it."""
    return {"before": before, "after": after}


def move_contract(
    session: Session,
    contract: HedgeContract,
    new: ContractStatus,
    via: Via,
    *,
    now: datetime,
    actor: str = "hedgeops",
    details: dict[str, Any] | None = None,
) -> str | None:
    """Move `contract` to `new` by `via` and audit it (event by the step, details: the
    contract_ref, from, to, via, the status diff and `details`); the event's name, or None
    when it already is `new` (nothing recorded). An illegal step raises IllegalTransition
    naming the contract, both statuses and the steps allowed."""
    old = ContractStatus(contract.status)
    instrument = Instrument(contract.instrument)
    if (problem := transition_problem(instrument, old, new, via)) is not None:
        raise IllegalTransition(f"{contract.contract_ref}: {problem}")
    if old is new:
        return None
    contract.status = new.value
    contract.updated_at = now
    event = event_for(instrument, new, via)
    record_event(
        session,
        event,
        entity_type=ENTITY,
        entity_id=contract.id,
        now=now,
        actor=actor,
        details={
            "contract_ref": contract.contract_ref,
            "from": old.value,
            "to": new.value,
            "via": via.value,
            "diff": {"status": diff(old.value, new.value)},
            **(details or {}),
        },
    )
    return event


def settle_contract(
    session: Session, contract: HedgeContract, *, now: datetime, actor: str, details: dict[str, Any]
) -> None:
    """Mark `contract` settled (the settlement's one call): `treasury.fx_contract.settled`
    with `details` (settlement details, amounts, method); IllegalTransition when its status
    cannot settle (core.hedging.lifecycle.settlement_problem says why beforehand)."""
    if (problem := settlement_problem(Instrument(contract.instrument), ContractStatus(contract.status))) is not None:
        raise IllegalTransition(f"{contract.contract_ref}: {problem}")
    move_contract(session, contract, ContractStatus.SETTLED, Via.SETTLEMENT, now=now, actor=actor, details=details)


def record_amendment(
    session: Session,
    contract: HedgeContract,
    changes: dict[str, dict[str, Any]],
    *,
    now: datetime,
    details: dict[str, Any],
    actor: str = "hedgeops",
) -> None:
    """Audit an amendment of `contract` (`treasury.fx_contract.amended` for an fx_forward):
    `changes` maps each field to its before/after (`diff`)."""
    fx = contract.instrument == Instrument.FX_FORWARD.value
    record_event(
        session,
        AMENDED if fx else COMMODITY_AMENDED,
        entity_type=ENTITY,
        entity_id=contract.id,
        now=now,
        actor=actor,
        details={"contract_ref": contract.contract_ref, "diff": changes, **details},
    )
