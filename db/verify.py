"""Reading back what verification needs: each snapshot of a date with its contract (or
hedged item) and the exact price rows it used, the valuation plan of its run (FX), and
which price keys were restated since."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from core.values import Confidence, Contract, ContractStatus, Instrument, ObjectType, Price, Side
from core.verify import Finding, check_snapshot
from db.contracts import to_contract
from db.hedging.dossiers import to_item
from db.hedging.models import HedgeDesignation, HedgedItem, HedgeRelationship
from db.models import BatchRun, HedgeContract, IdempotencyConflict, MtmSnapshot, SettlementPrice

#: A commodity snapshot as read: key, payload (its JSON text), hash, price date, the id of
#: the price row it used, then the contract's columns (_CONTRACT). Plain values, as the
#: connection gives them. The price rows, a few a date, are read apart (with_prices).
SnapshotRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class StoredPrice:
    """A price row a snapshot used: its key (the restated check) and its values."""

    key: str
    price: Price


_CONTRACT = (
    HedgeContract.id,
    HedgeContract.contract_ref,
    HedgeContract.instrument,
    HedgeContract.underlying,
    HedgeContract.side,
    HedgeContract.quantity,
    HedgeContract.unit,
    HedgeContract.entry_price,
    HedgeContract.currency,
    HedgeContract.trade_date,
    HedgeContract.maturity_date,
    HedgeContract.status,
    HedgeContract.settlement_method,
)
#: Rows a read brings from the server at a time (a million-row date streams).
READ_BATCH = 5_000


def snapshot_id_range(session: Session, as_of: date) -> tuple[int, int] | None:
    """The lowest and highest id of the commodity snapshots of `as_of` (None: there are none)."""
    stmt = select(func.min(MtmSnapshot.id), func.max(MtmSnapshot.id)).where(
        MtmSnapshot.as_of_date == as_of, MtmSnapshot.object_type == ObjectType.HEDGE_CONTRACT.value
    )
    low, high = session.execute(stmt).one()
    return None if low is None else (int(low), int(high))


def snapshot_rows(session: Session, as_of: date, ids: tuple[int, int] | None = None) -> Iterator[SnapshotRow]:
    """The commodity snapshots of `as_of` in id order (those with an id within `ids`, both
    ends included, when given), streamed as plain rows. Columns on the connection, not ORM
    objects: three mapped objects a snapshot were most of verify's time at a million (issue 23).
    The payload comes as its text, parsed by check_rows with orjson: the driver's json.loads
    was a tenth of a recomputing process's time (py-spy, issue 23)."""
    stmt = (
        select(
            MtmSnapshot.idempotency_key,
            cast(MtmSnapshot.payload, Text),
            MtmSnapshot.payload_sha256,
            MtmSnapshot.price_date,
            MtmSnapshot.price_id,
            *_CONTRACT,
        )
        .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
        .where(
            MtmSnapshot.as_of_date == as_of,
            MtmSnapshot.object_type == ObjectType.HEDGE_CONTRACT.value,
            HedgeContract.instrument == Instrument.COMMODITY_FORWARD.value,
        )
        .order_by(MtmSnapshot.id)
        .execution_options(yield_per=READ_BATCH)
    )
    if ids is not None:
        stmt = stmt.where(MtmSnapshot.id.between(*ids))
    for row in session.connection().execute(stmt):
        yield tuple(row)


def price_id_of(row: SnapshotRow) -> int:
    return int(row[4])


def with_prices(session: Session, rows: list[SnapshotRow], prices: dict[int, StoredPrice]) -> None:
    """Add to `prices` the price rows of `rows` it lacks, read by id: a date's snapshots use a
    few price rows, each read once rather than joined to every snapshot (the join was a
    third of the server's time at a million: EXPLAIN ANALYZE, issue 23)."""
    missing = {price_id_of(row) for row in rows}.difference(prices)
    if missing:
        for p in session.scalars(select(SettlementPrice).where(SettlementPrice.id.in_(missing))):
            prices[p.id] = StoredPrice(p.idempotency_key, _price(p))


def check_rows(rows: list[SnapshotRow], as_of: date, prices: Mapping[int, StoredPrice]) -> list[Finding]:
    """core.verify.check_snapshot of each row of snapshot_rows, with the price rows it used
    (with_prices): what a recomputing process runs."""
    found: list[Finding] = []
    for row in rows:
        key, text, sha, price_date, price_id = row[:_CONTRACT_AT]
        contract = _row_contract(row[_CONTRACT_AT:])
        found += check_snapshot(key, _parsed(text), sha, contract, prices[price_id].price, as_of, price_date)
    return found


def _parsed(text: str) -> dict[str, Any]:
    """A stored payload's JSON text as a dict: orjson, or the standard library for what
    orjson refuses (an integer beyond 64 bits: a tampered payload is then still reported,
    as the driver's json.loads read it)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = json.loads(text)
    return value  # type: ignore[no-any-return]


_CONTRACT_AT = 5


def _row_contract(c: SnapshotRow) -> Contract:
    return Contract(
        id=c[0],
        contract_ref=c[1],
        instrument=_INSTRUMENTS[c[2]],
        underlying=c[3],
        side=_SIDES[c[4]],
        quantity=c[5],
        unit=c[6],
        entry_price=c[7],
        currency=c[8],
        trade_date=c[9],
        maturity_date=c[10],
        status=_STATUSES[c[11]],
        settlement_method=c[12],
    )


def snapshot_count(session: Session, as_of: date) -> int:
    return session.scalar(select(func.count()).select_from(MtmSnapshot).where(MtmSnapshot.as_of_date == as_of)) or 0


def restated_price_keys(session: Session) -> set[str]:
    """The keys of the price rows a source has sent again with another value (a conflict on
    the key). Read once, before the snapshots: a snapshot's price key is then looked up here
    and only the restated ones travel back from the recomputing processes."""
    stmt = select(IdempotencyConflict.idempotency_key).where(
        IdempotencyConflict.table_name == SettlementPrice.__tablename__
    )
    return set(session.scalars(stmt))


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


_INSTRUMENTS = {i.value: i for i in Instrument}
_SIDES = {s.value: s for s in Side}
_STATUSES = {s.value: s for s in ContractStatus}


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
