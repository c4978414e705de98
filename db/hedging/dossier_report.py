"""What the effectiveness dossier of a relationship reads (`hedgeops report dossier`): its
legs, every designation version, every test up to D, both legs' MTM snapshots since the
first designation date with the price rows they used, and its journal entries. Read only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.values import ObjectType
from db.hedging.journal_models import JournalEntry
from db.hedging.models import EffectivenessResult, HedgeDesignation, HedgedItem, HedgeRelationship
from db.models import HedgeContract, MtmSnapshot, SettlementPrice


class SnapshotRow(NamedTuple):
    """What a dossier shows of an MTM snapshot: its chart point and its provenance row. Plain
    rows, not ORM objects: a batch of 100 dossiers reads 50,000 of them."""

    object_type: str
    as_of_date: date
    mtm_value: Decimal
    currency: str
    price_d1: Decimal
    entry_price: Decimal
    price_id: int
    idempotency_key: str
    payload_sha256: str


SNAPSHOT_COLUMNS = tuple(getattr(MtmSnapshot, name) for name in SnapshotRow._fields)


@dataclass(slots=True)
class DossierRows:
    relationship: HedgeRelationship
    contract: HedgeContract
    item: HedgedItem
    versions: list[HedgeDesignation] = field(default_factory=list)
    results: list[EffectivenessResult] = field(default_factory=list)
    instrument_mtm: list[SnapshotRow] = field(default_factory=list)
    item_mtm: list[SnapshotRow] = field(default_factory=list)
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


def _day(snapshot: SnapshotRow) -> date:
    return snapshot.as_of_date


def _snapshots(session: Session, dossiers: list[DossierRows], as_of: date) -> None:
    """Both legs' snapshots from the earliest designation date to D, and their price rows."""
    since = min((v.designation_date for d in dossiers for v in d.versions), default=as_of)
    legs = {(ObjectType.HEDGE_CONTRACT.value, d.contract.id): d for d in dossiers}
    legs |= {(ObjectType.HEDGED_ITEM.value, d.item.id): d for d in dossiers}
    # Each leg by its type and id, so that the unique (object_type, object_id, as_of_date) index
    # finds a batch's rows (by id alone, the date index or a sequential scan read every object's
    # rows for each batch); no ORDER BY: each leg's few hundred rows are sorted here instead of
    # the batch's 50,000 on the server.
    by_kind = (
        and_(MtmSnapshot.object_type == kind, MtmSnapshot.object_id.in_(sorted(oid for k, oid in legs if k == kind)))
        for kind in (ObjectType.HEDGE_CONTRACT.value, ObjectType.HEDGED_ITEM.value)
    )
    stmt = select(*SNAPSHOT_COLUMNS, MtmSnapshot.object_id).where(
        or_(*by_kind), MtmSnapshot.as_of_date >= since, MtmSnapshot.as_of_date <= as_of
    )
    price_ids = set()
    for *columns, object_id in session.execute(stmt):
        s = SnapshotRow(*columns)
        d = legs[(s.object_type, object_id)]
        (d.instrument_mtm if s.object_type == ObjectType.HEDGE_CONTRACT.value else d.item_mtm).append(s)
        price_ids.add(s.price_id)
    for d in dossiers:
        d.instrument_mtm.sort(key=_day)
        d.item_mtm.sort(key=_day)
    prices = {
        p.id: p for p in session.scalars(select(SettlementPrice).where(SettlementPrice.id.in_(sorted(price_ids))))
    }
    for d in dossiers:
        d.prices = {s.price_id: prices[s.price_id] for s in (*d.instrument_mtm, *d.item_mtm)}
