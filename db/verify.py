"""Reading back what verification needs: each snapshot of a date with its contract and the
exact price row it used, and which price keys were restated since."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.values import Confidence, Contract, Instrument, ObjectType, Price
from db.contracts import to_contract
from db.models import HedgeContract, IdempotencyConflict, MtmSnapshot, SettlementPrice


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
    stmt = (select(MtmSnapshot, HedgeContract, SettlementPrice)
            .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
            .join(SettlementPrice, SettlementPrice.id == MtmSnapshot.price_id)
            .where(MtmSnapshot.as_of_date == as_of, MtmSnapshot.object_type == ObjectType.HEDGE_CONTRACT.value,
                   HedgeContract.instrument == Instrument.COMMODITY_FORWARD.value)
            .order_by(MtmSnapshot.id))
    for snap, c, p in session.execute(stmt):
        contract = to_contract(c)
        price = Price(id=p.id, symbol=p.symbol, price_date=p.price_date, price=p.price, currency=p.currency,
                      unit=p.unit, source=p.source, confidence=Confidence(p.confidence))
        yield StoredSnapshot(snap.idempotency_key, snap.payload, snap.payload_sha256, snap.price_date,
                             p.idempotency_key, contract, price)


def snapshot_count(session: Session, as_of: date) -> int:
    return session.scalar(select(func.count()).select_from(MtmSnapshot).where(MtmSnapshot.as_of_date == as_of)) or 0


def restated_price_keys(session: Session, keys: list[str]) -> set[str]:
    """Of these price keys, those a source has sent again with another value."""
    found: set[str] = set()
    for start in range(0, len(keys), 900):
        stmt = select(IdempotencyConflict.idempotency_key).where(
            IdempotencyConflict.table_name == SettlementPrice.__tablename__,
            IdempotencyConflict.idempotency_key.in_(keys[start:start + 900]))
        found.update(session.scalars(stmt))
    return found
