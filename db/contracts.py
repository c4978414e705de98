"""Hedge contracts: idempotent loading by contract_ref, and the reads valuation needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, Select, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core.contracts import NOT_COMPARED, ContractRow, changed_fields
from core.errors import ContractChanged
from core.hedging.lifecycle import (
    COMMODITY_CREATED,
    CREATED,
    DRAFT_TERMS,
    Via,
    amendable,
    entry_problem,
    transition_problem,
)
from core.plans import IdRuns, KeyRange, expand, key_ranges
from core.values import Contract, ContractStatus, Instrument, Side
from db.audit import record_event
from db.counterparties import counterparty_ids
from db.hedging.de_designations import EFFECTIVE_DATE, effective_date_problem, reload_problem
from db.lifecycle import diff, move_contract, record_amendment
from db.models import Counterparty, HedgeContract

#: The stored fields a reload compares: the identity, the status and every term a draft may
#: amend (core.hedging.lifecycle.DRAFT_TERMS, one list: a term added there is compared here).
COMPARED = ("contract_ref", "instrument", "status", *sorted(DRAFT_TERMS))
#: Statuses the nightly values (commodity: active; fx_forward also designated, de_designated).
REVALUED = sorted(s.value for s in ContractStatus if s.revalues)
_REVALUED = frozenset(REVALUED)


@dataclass(slots=True)
class ContractLoad:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    status_changed: list[str] = field(default_factory=list)
    #: Draft fx_forwards whose terms changed (audited with the before/after difference).
    amended: list[str] = field(default_factory=list)
    #: Every stored contract changed in any way (status, terms, counterparty), once each:
    #: created + existing + changed are the rows (the three lists above may share a row).
    changed: list[str] = field(default_factory=list)
    #: Stored contracts that had no counterparty and were given one (audited).
    counterparty_set: list[str] = field(default_factory=list)


#: How a refused load begins; the refused rows follow, `; `-separated.
REFUSED_PREFIX = "contracts refused (a contract may change only its status, and a draft fx_forward its terms); "


def _stored_fields(row: HedgeContract) -> dict[str, object]:
    return {name: getattr(row, name) for name in COMPARED}


def load_contracts(session: Session, rows: Sequence[ContractRow], *, now: datetime, source: str) -> ContractLoad:
    """Insert new contracts, apply and audit status changes (the lifecycle's steps the
    contracts file makes) and draft fx_forwards' amendments, refuse any other change.

    All or nothing: when any row is refused (a field that may not change, a lifecycle step
    the file may not make), ContractChanged names every such row, and the caller's unit of
    work rolls back.
    """
    refs = [row.contract_ref for row in rows]
    stored = (
        {c.contract_ref: c for c in session.scalars(select(HedgeContract).where(HedgeContract.contract_ref.in_(refs)))}
        if refs
        else {}
    )
    load = ContractLoad()
    parties = counterparty_ids(session, [row.counterparty for row in rows if row.counterparty is not None])
    refused = [
        f"{row.contract_ref}: {p}"
        for row in rows
        if (p := _counterparty_problem(row, parties) or _load_row(session, load, stored, row, now, source, parties))
    ]
    touched = {*load.status_changed, *load.counterparty_set, *load.amended}
    load.changed = [row.contract_ref for row in rows if row.contract_ref in touched]
    if refused:
        raise ContractChanged(REFUSED_PREFIX + "; ".join(refused))
    return load


def _load_row(
    session: Session,
    load: ContractLoad,
    stored: dict[str, HedgeContract],
    row: ContractRow,
    now: datetime,
    source: str,
    parties: dict[str, int],
) -> str | None:
    """One row created, left as it is or its status changed; or why it is refused."""
    current = stored.get(row.contract_ref)
    party = parties[row.counterparty] if row.counterparty is not None else None
    if current is None:
        if row.de_designated_on is not None:
            return "de_designated_on: a new contract has no de-designation to date"
        if (problem := entry_problem(row.instrument, row.status)) is not None:
            return problem
        _create(session, row, now, source, party)
        load.created.append(row.contract_ref)
        return None
    diff = changed_fields(_stored_fields(current), row)
    if (problem := _de_designation_problem(session, current, row, bool(diff), now)) is not None:
        return problem
    if (problem := _set_counterparty(session, load, current, row, party, now, source)) is not None:
        return problem
    if not diff:
        if row.contract_ref not in load.counterparty_set:
            load.existing.append(row.contract_ref)
        return None
    instrument, status = Instrument(current.instrument), ContractStatus(current.status)
    mutable = amendable(instrument, status)
    if not set(diff) <= mutable:
        return f"{', '.join(f for f in diff if f not in mutable)} changed"
    if problem := transition_problem(instrument, status, row.status, Via.CONTRACTS_FILE):
        return problem
    if terms := [name for name in diff if name != "status"]:
        _amend(session, current, row, terms, now, source)
        load.amended.append(row.contract_ref)
    if row.status is not status:
        _change_status(session, current, row, now, source)
        load.status_changed.append(row.contract_ref)
    return None


def _amend(
    session: Session, contract: HedgeContract, row: ContractRow, terms: list[str], now: datetime, source: str
) -> None:
    """A draft fx_forward's terms changed, audited with each one's before and after."""
    new = {k: v.value if isinstance(v, Enum) else v for k, v in row.model_dump(include=set(terms)).items()}
    changes = {name: diff(getattr(contract, name), new[name]) for name in terms}
    for name in terms:
        setattr(contract, name, new[name])
    contract.updated_at = now
    record_amendment(session, contract, changes, now=now, details={"source": source})


def _counterparty_problem(row: ContractRow, parties: dict[str, int]) -> str | None:
    if row.counterparty is None or row.counterparty in parties:
        return None
    return f"counterparty {row.counterparty} unknown (hedgeops load counterparties first)"


def _set_counterparty(
    session: Session,
    load: ContractLoad,
    current: HedgeContract,
    row: ContractRow,
    party: int | None,
    now: datetime,
    source: str,
) -> str | None:
    """A stored contract without a counterparty takes the row's (audited); another one than
    the stored one is refused; a row that states none keeps the stored one."""
    if party is None or party == current.counterparty_id:
        return None
    if current.counterparty_id is not None:
        stored = session.get(Counterparty, current.counterparty_id)
        return f"counterparty changed ({stored.counterparty_id if stored else current.counterparty_id} stored)"
    current.counterparty_id = party
    current.updated_at = now
    changes = {"counterparty": diff(None, row.counterparty)}
    record_amendment(session, current, changes, now=now, details={"counterparty": row.counterparty, "source": source})
    load.counterparty_set.append(current.contract_ref)
    return None


def _create(session: Session, row: ContractRow, now: datetime, source: str, party: int | None) -> None:
    contract = HedgeContract(
        **row.model_dump(mode="python", exclude=set(NOT_COMPARED)),
        created_at=now,
        updated_at=now,
        counterparty_id=party,
    )
    contract.instrument = row.instrument.value
    contract.side = row.side.value
    contract.status = row.status.value
    contract.settlement_method = row.settlement_method.value if row.settlement_method else None
    session.add(contract)
    session.flush()
    record_event(
        session,
        CREATED if row.instrument is Instrument.FX_FORWARD else COMMODITY_CREATED,
        entity_type="hedge_contract",
        entity_id=contract.id,
        now=now,
        details={
            "contract_ref": row.contract_ref,
            "source": source,
            **row.fields(),
            **({"counterparty": row.counterparty} if row.counterparty is not None else {}),
        },
    )


def _change_status(session: Session, contract: HedgeContract, row: ContractRow, now: datetime, source: str) -> None:
    """The status changed by the contracts file and audited (db.lifecycle); a change to
    de_designated with its effective date (the row's de_designated_on, else the day loaded:
    db.hedging.de_designations)."""
    details: dict[str, object] = {"source": source}
    if row.status is ContractStatus.DE_DESIGNATED:
        details[EFFECTIVE_DATE] = row.de_designated_on or now.date()
    move_contract(session, contract, row.status, Via.CONTRACTS_FILE, now=now, details=details)


def _de_designation_problem(
    session: Session, current: HedgeContract, row: ContractRow, changed: bool, now: datetime
) -> str | None:
    """A de_designated_on checked: on a change to de_designated, neither in the future nor
    before the designation date; on a contract already de-designated, the date recorded."""
    if row.de_designated_on is None:
        return None
    if changed and row.status is ContractStatus.DE_DESIGNATED:
        return effective_date_problem(session, current.id, row.de_designated_on, now.date())
    return reload_problem(session, current.id, row.de_designated_on)


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


def active_chunk_members(session: Session, size: int) -> list[tuple[KeyRange, IdRuns]]:
    """The active contracts in chunks of `size`, each as its key range and its members (runs
    of consecutive ids): what the chunk must value, fixed now (issue 21, point 1). The runs
    are made in the database (an id minus its row number is constant along a run), so a book
    of consecutive ids reads one row per chunk, never the whole book."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    numbered = (
        select(HedgeContract.id, (func.row_number().over(order_by=HedgeContract.id) - 1).label("n"))
        .where(HedgeContract.status.in_(REVALUED))
        .subquery()
    )
    chunk = numbered.c.n // size
    stmt = (
        select(chunk, func.min(numbered.c.id), func.max(numbered.c.id))
        .group_by(chunk, numbered.c.id - numbered.c.n)
        .order_by(func.min(numbered.c.id))
    )
    members: dict[int, IdRuns] = {}
    for no, first, last in session.execute(stmt):
        members.setdefault(int(no), []).append([int(first), int(last)])
    if not members:
        return []
    parts = list(members.values())
    ranges = key_ranges([runs[0][0] for runs in parts], parts[-1][-1][1])
    return list(zip(ranges, parts, strict=True))


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


def planned_contracts(session: Session, runs: Sequence[Sequence[int]]) -> list[Contract]:
    """The contracts of a chunk's members (core.plans.IdRuns), whatever their status now:
    the range from the first to the last member read as contracts_in_range reads its own,
    the members kept."""
    if not runs:
        return []
    members = set(expand(runs))
    stmt = _contract_select().where(HedgeContract.id.between(runs[0][0], runs[-1][-1]))
    return [to_contract(r) for r in session.connection().execute(stmt) if r.id in members]


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
