"""Hedge contracts: idempotent loading by contract_ref, and the reads valuation needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Select, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core.contracts import MUTABLE_FIELDS, ContractRow, changed_fields
from core.errors import ContractChanged
from core.hedging.lifecycle import transition_problem
from core.plans import KeyRange, key_ranges
from core.values import Contract, ContractStatus, Instrument, Side
from db.audit import record_event
from db.models import HedgeContract

COMPARED = (
    "contract_ref",
    "instrument",
    "underlying",
    "side",
    "quantity",
    "unit",
    "entry_price",
    "currency",
    "trade_date",
    "maturity_date",
    "status",
    "settlement_method",
)
#: Statuses the nightly values (commodity: active; fx_forward also designated, de_designated).
REVALUED = sorted(s.value for s in ContractStatus if s.revalues)
_REVALUED = frozenset(REVALUED)


@dataclass(slots=True)
class ContractLoad:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    status_changed: list[str] = field(default_factory=list)


def _stored_fields(row: HedgeContract) -> dict[str, object]:
    return {name: getattr(row, name) for name in COMPARED}


def load_contracts(session: Session, rows: Sequence[ContractRow], *, now: datetime, source: str) -> ContractLoad:
    """Insert new contracts, apply and audit status changes, refuse any other change.

    All or nothing: when any row changes a field other than status, ContractChanged
    names every such row and field, and the caller's unit of work rolls back.
    """
    refs = [row.contract_ref for row in rows]
    stored = (
        {c.contract_ref: c for c in session.scalars(select(HedgeContract).where(HedgeContract.contract_ref.in_(refs)))}
        if refs
        else {}
    )
    load = ContractLoad()
    refused: list[str] = []
    for row in rows:
        current = stored.get(row.contract_ref)
        if current is None:
            _create(session, row, now, source)
            load.created.append(row.contract_ref)
            continue
        diff = changed_fields(_stored_fields(current), row)
        if not diff:
            load.existing.append(row.contract_ref)
        elif set(diff) <= MUTABLE_FIELDS and (
            problem := transition_problem(Instrument(current.instrument), ContractStatus(current.status), row.status)
        ):
            refused.append(f"{row.contract_ref}: {problem}")
        elif set(diff) <= MUTABLE_FIELDS:
            _change_status(session, current, ContractStatus(row.status), now, source)
            load.status_changed.append(row.contract_ref)
        else:
            refused.append(f"{row.contract_ref}: {', '.join(f for f in diff if f not in MUTABLE_FIELDS)} changed")
    if refused:
        raise ContractChanged("contracts may change only their status; " + "; ".join(refused))
    return load


def _create(session: Session, row: ContractRow, now: datetime, source: str) -> None:
    contract = HedgeContract(**row.model_dump(mode="python"), created_at=now, updated_at=now)
    contract.instrument = row.instrument.value
    contract.side = row.side.value
    contract.status = row.status.value
    contract.settlement_method = row.settlement_method.value if row.settlement_method else None
    session.add(contract)
    session.flush()
    record_event(
        session,
        "contract_created",
        entity_type="hedge_contract",
        entity_id=contract.id,
        now=now,
        details={"contract_ref": row.contract_ref, "source": source, **row.model_dump()},
    )


def _change_status(
    session: Session, contract: HedgeContract, status: ContractStatus, now: datetime, source: str
) -> None:
    old = contract.status
    contract.status = status.value
    contract.updated_at = now
    record_event(
        session,
        "contract_status_changed",
        entity_type="hedge_contract",
        entity_id=contract.id,
        now=now,
        details={"contract_ref": contract.contract_ref, "from": old, "to": status, "source": source},
    )


def active_contract_ids(session: Session) -> list[int]:
    stmt = select(HedgeContract.id).where(HedgeContract.status.in_(REVALUED)).order_by(HedgeContract.id)
    return list(session.scalars(stmt))


def active_key_ranges(session: Session, size: int) -> list[KeyRange]:
    """The active contracts in ranges of `size` ids each, numbered in the database: the
    plan reads one id per chunk, never the whole book."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    revalued = HedgeContract.status.in_(REVALUED)
    numbered = (
        select(HedgeContract.id, func.row_number().over(order_by=HedgeContract.id).label("n"))
        .where(revalued)
        .subquery()
    )
    starts = list(session.scalars(select(numbered.c.id).where((numbered.c.n - 1) % size == 0).order_by(numbered.c.id)))
    last = session.scalar(select(func.max(HedgeContract.id)).where(revalued))
    return key_ranges(starts, last) if starts and last is not None else []


def active_underlyings(session: Session) -> set[str]:
    """The symbols active contracts are valued with: the prices the nightly must have."""
    stmt = select(HedgeContract.underlying).where(HedgeContract.status.in_(REVALUED)).distinct()
    return set(session.scalars(stmt))


_VALUED = (
    "id",
    "contract_ref",
    "instrument",
    "underlying",
    "side",
    "quantity",
    "unit",
    "entry_price",
    "currency",
    "trade_date",
    "maturity_date",
    "status",
    "settlement_method",
)


def _contract_select() -> Select[Any]:
    table = HedgeContract.__table__
    return select(*(table.c[name] for name in _VALUED)).order_by(table.c.id)


def contracts_in_range(session: Session, ids: KeyRange) -> list[Contract]:
    """The contracts the nightly values with ids from `ids.first` to `ids.last`: columns
    by a Core select, not ORM objects.

    The status is checked here, not in the WHERE: with `status IN (..)` there, a planner
    without fresh statistics (a book just loaded) ANDs the status index into the scan,
    and reads every active contract of the book for each chunk (O(N) per chunk)."""
    stmt = _contract_select().where(HedgeContract.id.between(ids.first, ids.last))
    return [to_contract(r) for r in session.connection().execute(stmt) if r.status in _REVALUED]


def contracts_by_ids(session: Session, ids: Sequence[int]) -> list[Contract]:
    """Plain rows, not ORM objects (a chunk of an older plan names its ids): one array
    parameter on PostgreSQL (`id = ANY(:ids)`), an IN list elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        where = HedgeContract.id == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
    else:
        where = HedgeContract.id.in_(ids)
    return [to_contract(r) for r in session.connection().execute(_contract_select().where(where))]


_INSTRUMENTS = {m.value: m for m in Instrument}
_SIDES = {m.value: m for m in Side}
_STATUSES = {m.value: m for m in ContractStatus}


def to_contract(r: Any) -> Contract:
    """The domain value of a stored contract (enums by dictionary: a chunk makes a thousand)."""
    return Contract(
        id=r.id,
        contract_ref=r.contract_ref,
        instrument=_INSTRUMENTS[r.instrument],
        underlying=r.underlying,
        side=_SIDES[r.side],
        quantity=r.quantity,
        unit=r.unit,
        entry_price=r.entry_price,
        currency=r.currency,
        trade_date=r.trade_date,
        maturity_date=r.maturity_date,
        status=_STATUSES[r.status],
        settlement_method=r.settlement_method,
    )
