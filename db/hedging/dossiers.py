"""Hedged items and designation dossiers: loading them, idempotently and all or nothing.

A hedged item or a designation version is written once: loading the same again is
`existing`, loading it changed is refused (an item is immutable; a designation changes
by its next version). Every refusal of a file is listed before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.canonical import canonical, payload_sha256
from core.errors import InvalidInput
from core.hedging.dossier import DesignationRow, Dossier, leg_terms, prospective_test, resolve
from core.hedging.items import HedgedItem as HedgedItemValue
from core.hedging.items import HedgedItemKind, HedgedItemRow
from core.hedging.lifecycle import TERMINAL, Via, prospective_passes
from core.hedging.methods import LegTerms
from core.hedging.policy import HedgingPolicy
from core.values import Contract, ContractStatus, Instrument
from db.audit import record_event
from db.contracts import to_contract
from db.hedging.models import HedgeDesignation, HedgedItem, HedgeRelationship
from db.lifecycle import move_contract
from db.models import HedgeContract


@dataclass(slots=True)
class Loaded:
    """What a load did, by reference (`HD-1 v2` for a designation version)."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def to_item(row: HedgedItem) -> HedgedItemValue:
    return HedgedItemValue(
        id=row.id,
        item_ref=row.item_ref,
        kind=HedgedItemKind(row.kind),
        underlying=row.underlying,
        amount=row.amount,
        unit=row.unit,
        currency=row.currency,
        exposure_date=row.exposure_date,
    )


def _changed(stored: dict[str, Any], incoming: dict[str, Any]) -> str:
    new = canonical(incoming)
    assert isinstance(new, dict)
    return ", ".join(sorted(k for k in new.keys() | stored.keys() if new.get(k) != stored.get(k)))


def load_hedged_items(session: Session, rows: Sequence[HedgedItemRow], *, now: datetime, source: str) -> Loaded:
    """New items are created (and audited); identical ones are `existing`; a changed one
    refuses the whole load."""
    refs = [row.item_ref for row in rows]
    stored = {i.item_ref: i for i in session.scalars(select(HedgedItem).where(HedgedItem.item_ref.in_(refs)))}
    loaded, refused = Loaded(), []
    for row in rows:
        current = stored.get(row.item_ref)
        if current is None:
            _create_item(session, row, now, source)
            loaded.created.append(row.item_ref)
        elif current.payload_sha256 == payload_sha256(row.payload):
            loaded.existing.append(row.item_ref)
        else:
            refused.append(f"{row.item_ref}: {_changed(current.payload, row.payload)} changed")
    if refused:
        raise InvalidInput("hedged items are immutable once loaded; nothing loaded", refused)
    return loaded


def _create_item(session: Session, row: HedgedItemRow, now: datetime, source: str) -> None:
    item = HedgedItem(
        **row.model_dump(mode="python"),
        payload=canonical(row.payload),
        payload_sha256=payload_sha256(row.payload),
        created_at=now,
    )
    item.kind = row.kind.value
    session.add(item)
    session.flush()
    record_event(
        session,
        "hedged_item_created",
        entity_type="hedged_item",
        entity_id=item.id,
        now=now,
        details={"source": source, **row.payload},
    )


def load_designations(
    session: Session, rows: Sequence[DesignationRow], policy: HedgingPolicy, *, now: datetime, source: str
) -> Loaded:
    """Each row is a version of a designation: version 1 starts it, version n+1 amends it.
    A stored version loaded again unchanged is `existing`; changed, it is refused."""
    loaded, refused = Loaded(), []
    for row in rows:
        name = f"{row.designation_ref} v{row.version}"
        problems = _load_one(session, row, policy, now, source, loaded)
        refused += [f"{name}: {p}" for p in problems]
    if refused:
        raise InvalidInput(f"{len(refused)} problem(s) with the designations; nothing loaded", refused)
    return loaded


def _legs(session: Session, row: DesignationRow) -> tuple[HedgeContract | None, HedgedItem | None, list[str]]:
    contract = session.scalars(select(HedgeContract).where(HedgeContract.contract_ref == row.contract_ref)).first()
    item = session.scalars(select(HedgedItem).where(HedgedItem.item_ref == row.item_ref)).first()
    problems = []
    if contract is None:
        problems.append(f"contract_ref: no contract {row.contract_ref} (load contracts first)")
    if item is None:
        problems.append(f"item_ref: no hedged item {row.item_ref} (load hedged items first)")
    return contract, item, problems


def _load_one(
    session: Session, row: DesignationRow, policy: HedgingPolicy, now: datetime, source: str, loaded: Loaded
) -> list[str]:
    contract, item, problems = _legs(session, row)
    if contract is None or item is None or problems:
        return problems
    instrument, exposure = to_contract(contract), to_item(item)
    dossier = resolve(row, policy, instrument, exposure)
    if isinstance(dossier, list):
        return dossier
    rel = _relationship(session, row, contract, item, now)
    if isinstance(rel, list):
        return rel  # nothing written: the caller's unit of work rolls back on any problem
    versions = {
        v.version: v
        for v in session.scalars(select(HedgeDesignation).where(HedgeDesignation.relationship_id == rel.id))
    }
    stored = versions.get(row.version)
    if stored is not None:
        if stored.payload_sha256 == payload_sha256(dossier.payload):
            loaded.existing.append(f"{row.designation_ref} v{row.version}")
            return []
        return [
            f"version {row.version} is immutable ({_changed(stored.payload, dossier.payload)} changed): "
            f"an amendment is version {max(versions) + 1}"
        ]
    expected = max(versions, default=0) + 1
    if row.version != expected:
        return [f"the next version of {row.designation_ref} is {expected}"]
    if ContractStatus(contract.status) in TERMINAL:
        return [f"contract_ref: {row.contract_ref} is {contract.status} and can no longer be designated"]
    test = _create_version(session, rel, dossier, instrument, exposure, now, source, loaded)
    _move_instrument(session, contract, row, test, now, source, loaded)
    return []


def _move_instrument(
    session: Session,
    contract: HedgeContract,
    row: DesignationRow,
    test: dict[str, Any],
    now: datetime,
    source: str,
    loaded: Loaded,
) -> None:
    """The fx_forward's lifecycle steps a designation makes (core.hedging.lifecycle): a draft
    is designated, then its prospective test makes it active or rejected; a de-designated
    one is re-designated (active) by a new relationship that passes it, and stays
    de-designated when it fails. Each step audited (db.lifecycle); an active forward (a
    designation amended, or a book taken over) does not move."""
    if contract.instrument != Instrument.FX_FORWARD.value:
        return
    status, passes = ContractStatus(contract.status), prospective_passes(row.method.value, test)
    name = f"{row.designation_ref} v{row.version}"
    details: dict[str, Any] = {
        "designation_ref": row.designation_ref,
        "version": row.version,
        "approvers": [row.approver_1, row.approver_2],
        "source": source,
    }
    tested = {**details, "method": row.method.value, "prospective_test": test, "result": "pass" if passes else "fail"}
    steps = [status.value]
    if status is ContractStatus.DRAFT:
        move_contract(
            session,
            contract,
            ContractStatus.DESIGNATED,
            Via.DESIGNATION,
            now=now,
            actor=row.designated_by,
            details=details,
        )
        steps.append(ContractStatus.DESIGNATED.value)
        status = ContractStatus.DESIGNATED
    if status is ContractStatus.DESIGNATED:
        new = ContractStatus.ACTIVE if passes else ContractStatus.REJECTED
        move_contract(session, contract, new, Via.PROSPECTIVE_TEST, now=now, details=tested)
        steps.append(new.value)
    elif status is ContractStatus.DE_DESIGNATED and row.version == 1:
        if passes:
            move_contract(
                session,
                contract,
                ContractStatus.ACTIVE,
                Via.DESIGNATION,
                now=now,
                actor=row.designated_by,
                details=tested,
            )
            steps.append(ContractStatus.ACTIVE.value)
        else:
            loaded.notes.append(f"{name}: {contract.contract_ref} stays de_designated (the prospective test failed)")
    if len(steps) > 1:
        loaded.notes.append(f"{name}: {contract.contract_ref} {' -> '.join(steps)}")


def _relationship(
    session: Session, row: DesignationRow, contract: HedgeContract, item: HedgedItem, now: datetime
) -> HedgeRelationship | list[str]:
    """The designation's relationship, made at version 1; or why the legs do not fit it."""
    rel = session.scalars(
        select(HedgeRelationship).where(HedgeRelationship.designation_ref == row.designation_ref)
    ).first()
    if rel is not None:
        if (rel.contract_id, rel.hedged_item_id) != (contract.id, item.id):
            return ["a designation's instrument and hedged item are fixed: designate another relationship"]
        return rel
    problems = _new_relationship_problems(session, row, contract, item)
    if problems:
        return problems
    rel = HedgeRelationship(
        designation_ref=row.designation_ref, contract_id=contract.id, hedged_item_id=item.id, created_at=now
    )
    session.add(rel)
    session.flush()
    return rel


def _new_relationship_problems(
    session: Session, row: DesignationRow, contract: HedgeContract, item: HedgedItem
) -> list[str]:
    if row.version != 1:
        return [f"{row.designation_ref} is new: its first version is 1"]
    others = session.execute(
        select(HedgeRelationship.designation_ref, HedgeContract.status)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .where(or_(HedgeRelationship.contract_id == contract.id, HedgeRelationship.hedged_item_id == item.id))
    )
    live = [ref for ref, status in others if ContractStatus(status) not in TERMINAL | {ContractStatus.DE_DESIGNATED}]
    return [f"{row.contract_ref} or {row.item_ref} is already in designation {ref}" for ref in live]


def _create_version(
    session: Session,
    rel: HedgeRelationship,
    dossier: Dossier,
    instrument: Contract,
    item: HedgedItemValue,
    now: datetime,
    source: str,
    loaded: Loaded,
) -> dict[str, Any]:
    row = dossier.row
    test = prospective_test(dossier, instrument, item)
    prospective = canonical(test)
    hedge, exposure = leg_terms(instrument, item)
    version = HedgeDesignation(
        relationship_id=rel.id,
        version=row.version,
        hedge_type=row.hedge_type.value,
        method=row.method.value,
        offset_basis=row.offset_basis.value,
        designation_date=row.designation_date,
        hedge_ratio=row.hedge_ratio,
        **HedgeDesignation.params_columns(dossier.params),
        hedged_item_rate=dossier.hedged_item_rate,
        oci_release_method=dossier.oci_release_method.value,
        designated_by=row.designated_by,
        approver_1=row.approver_1,
        approver_2=row.approver_2,
        amendment_reason=row.amendment_reason,
        documentation=canonical(row.documentation.model_dump()),
        snapshot=canonical(
            {
                "instrument": {"contract_ref": instrument.contract_ref, **_terms(hedge)},
                "item": {"item_ref": item.item_ref, "kind": item.kind, **_terms(exposure)},
            }
        ),
        prospective_test=prospective,
        payload=canonical(dossier.payload),
        payload_sha256=payload_sha256(dossier.payload),
        created_at=now,
    )
    session.add(version)
    session.flush()
    _audit_version(session, rel, row, test, now, source)
    name = f"{row.designation_ref} v{row.version}"
    loaded.created.append(name)
    failed = test["failed_terms"]
    loaded.notes.append(
        f"{name}: prospective critical terms {test['outcome']}"
        + (f" (mismatched: {', '.join(failed)})" if failed else "")
    )
    return test


def _audit_version(
    session: Session, rel: HedgeRelationship, row: DesignationRow, test: dict[str, Any], now: datetime, source: str
) -> None:
    event = "hedge_designated" if row.version == 1 else "hedge_designation_amended"
    record_event(
        session,
        event,
        entity_type="hedge_designation",
        entity_id=rel.id,
        now=now,
        actor=row.designated_by,
        details={
            "designation_ref": row.designation_ref,
            "version": row.version,
            "source": source,
            "contract_ref": row.contract_ref,
            "item_ref": row.item_ref,
            "method": row.method,
            "approvers": [row.approver_1, row.approver_2],
            "amendment_reason": row.amendment_reason,
            "prospective_test": test,
        },
    )


def _terms(leg: LegTerms) -> dict[str, Any]:
    return {
        "underlying": leg.underlying,
        "currency": leg.currency,
        "quantity": leg.quantity,
        "maturity": leg.maturity,
        "side": leg.side_sign,
    }
