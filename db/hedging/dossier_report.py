"""What the effectiveness dossier of a relationship reads (`hedgeops report dossier`): its
legs, every designation version, every test up to D, both legs' MTM snapshots since the
first designation date with the price rows they used, and its journal entries. Read only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.values import ObjectType
from db.hedging.journal_models import JournalEntry
from db.hedging.models import EffectivenessResult, HedgeDesignation, HedgedItem, HedgeRelationship
from db.models import HedgeContract, MtmSnapshot, SettlementPrice


@dataclass(slots=True)
class DossierRows:
    relationship: HedgeRelationship
    contract: HedgeContract
    item: HedgedItem
    versions: list[HedgeDesignation] = field(default_factory=list)
    results: list[EffectivenessResult] = field(default_factory=list)
    instrument_mtm: list[MtmSnapshot] = field(default_factory=list)
    item_mtm: list[MtmSnapshot] = field(default_factory=list)
    prices: dict[int, SettlementPrice] = field(default_factory=dict)
    entries: list[JournalEntry] = field(default_factory=list)


def relationship_refs(session: Session) -> list[str]:
    """Every relationship's designation ref, in ref order (`--all`)."""
    return list(session.scalars(select(HedgeRelationship.designation_ref).order_by(HedgeRelationship.designation_ref)))


def dossier_rows(session: Session, refs: Sequence[str], as_of: date) -> list[DossierRows]:
    """The dossiers of `refs` (unknown refs are left out), as of `as_of`: nothing dated
    after it. A handful of queries for the whole batch, not a handful per relationship."""
    stmt = (
        select(HedgeRelationship, HedgeContract, HedgedItem)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .join(HedgedItem, HedgedItem.id == HedgeRelationship.hedged_item_id)
        .where(HedgeRelationship.designation_ref.in_(list(refs)))
        .order_by(HedgeRelationship.designation_ref)
    )
    found = {rel.id: DossierRows(rel, contract, item) for rel, contract, item in session.execute(stmt)}
    if not found:
        return []
    ids = sorted(found)
    for v in session.scalars(
        select(HedgeDesignation)
        .where(HedgeDesignation.relationship_id.in_(ids))
        .order_by(HedgeDesignation.relationship_id, HedgeDesignation.version)
    ):
        found[v.relationship_id].versions.append(v)
    for r in session.scalars(
        select(EffectivenessResult)
        .where(EffectivenessResult.relationship_id.in_(ids), EffectivenessResult.as_of_date <= as_of)
        .order_by(EffectivenessResult.as_of_date, EffectivenessResult.id)
    ):
        found[r.relationship_id].results.append(r)
    _snapshots(session, list(found.values()), as_of)
    for e in session.scalars(
        select(JournalEntry)
        .where(JournalEntry.relationship_id.in_(ids), JournalEntry.posting_date <= as_of)
        .order_by(JournalEntry.posting_date, JournalEntry.id)
    ):
        if e.relationship_id is not None:  # a settlement of an undesignated contract has none
            found[e.relationship_id].entries.append(e)
    return list(found.values())


def _snapshots(session: Session, dossiers: list[DossierRows], as_of: date) -> None:
    """Both legs' snapshots from the earliest designation date to D, and their price rows."""
    since = min((v.designation_date for d in dossiers for v in d.versions), default=as_of)
    legs = {(ObjectType.HEDGE_CONTRACT.value, d.contract.id): d for d in dossiers}
    legs |= {(ObjectType.HEDGED_ITEM.value, d.item.id): d for d in dossiers}
    stmt = (
        select(MtmSnapshot)
        .where(
            MtmSnapshot.object_id.in_(sorted({oid for _, oid in legs})),
            MtmSnapshot.as_of_date >= since,
            MtmSnapshot.as_of_date <= as_of,
        )
        .order_by(MtmSnapshot.as_of_date)
    )
    price_ids = set()
    for s in session.scalars(stmt):
        d = legs.get((s.object_type, s.object_id))
        if d is None:
            continue
        (d.instrument_mtm if s.object_type == ObjectType.HEDGE_CONTRACT.value else d.item_mtm).append(s)
        price_ids.add(s.price_id)
    prices = {
        p.id: p for p in session.scalars(select(SettlementPrice).where(SettlementPrice.id.in_(sorted(price_ids))))
    }
    for d in dossiers:
        d.prices = {s.price_id: prices[s.price_id] for s in (*d.instrument_mtm, *d.item_mtm)}
