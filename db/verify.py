"""Reading back what verification needs: each snapshot of a date with its contract (or
hedged item) and the exact price rows it used, the valuation plan of its run (FX), and
which price keys were restated since."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.values import Confidence, Contract, Instrument, ObjectType, Price
from db.contracts import to_contract
from db.hedging.dossiers import to_item
from db.hedging.models import HedgeDesignation, HedgedItem, HedgeRelationship
from db.models import BatchRun, HedgeContract, IdempotencyConflict, MtmSnapshot, SettlementPrice


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    key: str
    payload: dict[str, Any]
    sha256: str
    price_date: date
    price_key: str
    contract: Contract
    price: Price


def snapshots_of(session: Session, as_of: date) -> Iterator[StoredSnapshot]:
    stmt = (
        select(MtmSnapshot, HedgeContract, SettlementPrice)
        .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
        .join(SettlementPrice, SettlementPrice.id == MtmSnapshot.price_id)
        .where(
            MtmSnapshot.as_of_date == as_of,
            MtmSnapshot.object_type == ObjectType.HEDGE_CONTRACT.value,
            HedgeContract.instrument == Instrument.COMMODITY_FORWARD.value,
        )
        .order_by(MtmSnapshot.id)
    )
    for snap, c, p in session.execute(stmt):
        contract, price = to_contract(c), _price(p)
        yield StoredSnapshot(
            snap.idempotency_key, snap.payload, snap.payload_sha256, snap.price_date, p.idempotency_key, contract, price
        )


def snapshot_count(session: Session, as_of: date) -> int:
    return session.scalar(select(func.count()).select_from(MtmSnapshot).where(MtmSnapshot.as_of_date == as_of)) or 0


def restated_price_keys(session: Session, keys: list[str]) -> set[str]:
    """Of these price keys, those a source has sent again with another value."""
    found: set[str] = set()
    for start in range(0, len(keys), 900):
        stmt = select(IdempotencyConflict.idempotency_key).where(
            IdempotencyConflict.table_name == SettlementPrice.__tablename__,
            IdempotencyConflict.idempotency_key.in_(keys[start : start + 900]),
        )
        found.update(session.scalars(stmt))
    return found


@dataclass(frozen=True, slots=True)
class StoredFxSnapshot:
    """An FX forward's or a hedged item's snapshot with what recomputing it needs: the leg
    (the contract, or the item's hypothetical derivative), the price rows it names (by
    symbol) and the valuation plan its run recorded."""

    key: str
    payload: dict[str, Any]
    sha256: str
    object_type: ObjectType
    leg: Contract
    prices: dict[str, Price]
    plan: dict[str, Any]
    price_keys: list[str]


def fx_snapshots_of(session: Session, as_of: date) -> Iterator[StoredFxSnapshot]:
    """The FX forward and hedged-item snapshots of `as_of`."""
    stmt = (
        select(MtmSnapshot, BatchRun.details)
        .join(BatchRun, BatchRun.id == MtmSnapshot.batch_run_id)
        .where(MtmSnapshot.as_of_date == as_of, MtmSnapshot.payload["instrument"].as_string() == "fx_forward")
        .order_by(MtmSnapshot.id)
    )
    for snap, plan in session.execute(stmt):
        oid = ObjectType(snap.object_type)
        leg = _leg(session, oid, snap.object_id, as_of)
        ids = [i for i in (snap.price_id, snap.payload.get("functional_rate_price_id")) if i is not None]
        rows = list(session.scalars(select(SettlementPrice).where(SettlementPrice.id.in_(ids))))
        if leg is None:
            continue
        yield StoredFxSnapshot(
            snap.idempotency_key,
            snap.payload,
            snap.payload_sha256,
            oid,
            leg,
            {r.symbol: _price(r) for r in rows},
            plan,
            [r.idempotency_key for r in rows],
        )


def _leg(session: Session, oid: ObjectType, object_id: int, as_of: date) -> Contract | None:
    if oid is ObjectType.HEDGE_CONTRACT:
        row = session.get(HedgeContract, object_id)
        return to_contract(row) if row is not None else None
    item = session.get(HedgedItem, object_id)
    stmt = (
        select(HedgeDesignation)
        .join(HedgeRelationship, HedgeRelationship.id == HedgeDesignation.relationship_id)
        .where(HedgeRelationship.hedged_item_id == object_id, HedgeDesignation.designation_date <= as_of)
        .order_by(HedgeDesignation.designation_date.desc(), HedgeDesignation.version.desc())
        .limit(1)
    )
    d = session.scalars(stmt).first()
    return to_item(item).hypothetical(d.hedged_item_rate, d.designation_date) if item and d else None


def _price(p: SettlementPrice) -> Price:
    return Price(
        id=p.id,
        symbol=p.symbol,
        price_date=p.price_date,
        price=p.price,
        currency=p.currency,
        unit=p.unit,
        source=p.source,
        confidence=Confidence(p.confidence),
    )
