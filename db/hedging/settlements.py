"""Settlements: what the proposal step reads (contracts due, their fixing) and writes
(proposals and missing fixings through the write path), what settling reads (the proposal,
the carrying amount the journal holds, the relationships' reserves) and changes (the
settlement's order columns, the contract's status: `mark_settled`), and the report's rows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import keys
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import PostedState
from core.hedging.settlement import (
    FIXING_UNAVAILABLE,
    Carrying,
    Fixing,
    MissingFixing,
    Proposal,
    SettlementEntry,
    SettlementKind,
    SettlementOrder,
    SettlementStatus,
)
from core.mtm import best_price
from core.values import Confidence, Contract, Price
from db.contracts import REVALUED, to_contract
from db.hedging.journal_models import JournalEntry as EntryRow
from db.hedging.models import HedgeDesignation, HedgeRelationship
from db.hedging.settlement_models import Settlement, SettlementException
from db.models import HedgeContract, SettlementPrice
from db.writepath import WriteReport, result_row, write_results


def due_contracts(session: Session, as_of: date) -> list[tuple[Contract, str | None]]:
    """Contracts still valued whose settlement (maturity) date is on or before `as_of` and
    that have no settlement yet, each with its stated fixing source (None: the default)."""
    proposed = select(Settlement.contract_id)
    stmt = (
        select(HedgeContract)
        .where(
            HedgeContract.maturity_date <= as_of,
            HedgeContract.status.in_(REVALUED),
            HedgeContract.id.not_in(proposed),
        )
        .order_by(HedgeContract.id)
    )
    return [(to_contract(c), c.fixing_source) for c in session.scalars(stmt)]


def fixing_price(session: Session, fixing: Fixing, sources: Collection[str] | None) -> Fixing:
    """`fixing` with its stored price: the most trusted row of the symbol and date among
    `sources` (any source when None); `fixing` as it is when there is none."""
    stmt = select(SettlementPrice).where(
        SettlementPrice.symbol == fixing.symbol, SettlementPrice.price_date == fixing.day
    )
    if sources is not None:
        stmt = stmt.where(SettlementPrice.source.in_(sorted(sources)))
    rows = list(session.scalars(stmt))
    found = best_price(
        Price(r.id, r.symbol, r.price_date, r.price, r.currency, r.unit, r.source, Confidence(r.confidence))
        for r in rows
    )
    if found is None:
        return fixing
    return Fixing(fixing.symbol, fixing.day, found.source, found.price, found.id, fixing.fixing_source)


def write_proposals(
    session: Session, proposals: Sequence[Proposal], *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    rows = []
    for p in proposals:
        columns = {
            "contract_id": p.contract_id,
            "settlement_date": p.settlement_date,
            "method": p.kind.value,
            "currency": p.currency,
            "status": SettlementStatus.PENDING.value,
            "proposed_amount": p.amounts()["difference"],
        }
        rows.append(result_row(p.key, p.payload, columns))
    return write_results(session, Settlement, rows, batch_run_id=batch_run_id, now=now)


def write_missing(
    session: Session, missing: Sequence[MissingFixing], as_of: date, *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    """One `fixing_unavailable` exception per contract and date, naming the missing price."""
    rows = []
    for m in missing:
        details = {
            "reason": m.reason,
            "symbol": m.fixing.symbol,
            "fixing_date": m.fixing.day.isoformat(),
            "fixing_source": m.fixing.fixing_source,
        }
        payload = {"contract_id": m.contract_id, "as_of_date": as_of, "reason": FIXING_UNAVAILABLE, "details": details}
        row = result_row(keys.settlement_exception_key(m.contract_id, as_of, FIXING_UNAVAILABLE), payload, {})
        row.columns.update(contract_id=m.contract_id, as_of_date=as_of, reason=FIXING_UNAVAILABLE, details=details)
        rows.append(row)
    return write_results(session, SettlementException, rows, batch_run_id=batch_run_id, now=now)


@dataclass(frozen=True, slots=True)
class Due:
    """A settlement to settle: its row, its proposal and its contract."""

    row: Settlement
    proposal: Proposal
    contract: HedgeContract


def proposals_of(session: Session, refs: Collection[str]) -> dict[tuple[str, date], Due]:
    """The settlements of these contracts, by (contract_ref, settlement date)."""
    stmt = (
        select(Settlement, HedgeContract)
        .join(HedgeContract, HedgeContract.id == Settlement.contract_id)
        .where(HedgeContract.contract_ref.in_(sorted(set(refs))))
    )
    return {(c.contract_ref, s.settlement_date): Due(s, proposal_from(s.payload), c) for s, c in session.execute(stmt)}


def proposal_from(payload: dict[str, Any]) -> Proposal:
    """A stored proposal back from its canonical payload."""
    f = payload["fixing"]
    fixing = Fixing(
        f["symbol"],
        date.fromisoformat(f["date"]),
        f.get("source"),
        None if f.get("price") is None else Decimal(str(f["price"])),
        f.get("price_id"),
        f.get("fixing_source"),
    )
    return Proposal(
        int(payload["contract_id"]),
        str(payload["contract_ref"]),
        SettlementKind(payload["method"]),
        date.fromisoformat(payload["settlement_date"]),
        int(payload["side"]),
        Decimal(str(payload["notional"])),
        Decimal(str(payload["contracted_rate"])),
        str(payload["currency"]),
        fixing,
    )


@dataclass(frozen=True, slots=True)
class Relationship:
    """A relationship of the contract: its current version's terms, and the state its latest entry left."""

    relationship_id: int
    hedge_type: HedgeType
    hedge_ratio: Decimal
    oci_release_method: OciReleaseMethod
    state: PostedState | None


def relationships_of(session: Session, contract_id: int) -> list[Relationship]:
    """The contract's relationships, oldest first, each with its current version's terms."""
    current = (
        select(HedgeDesignation.relationship_id, func.max(HedgeDesignation.version).label("version"))
        .group_by(HedgeDesignation.relationship_id)
        .subquery()
    )
    stmt = (
        select(HedgeDesignation)
        .join(HedgeRelationship, HedgeRelationship.id == HedgeDesignation.relationship_id)
        .join(
            current,
            (current.c.relationship_id == HedgeDesignation.relationship_id)
            & (current.c.version == HedgeDesignation.version),
        )
        .where(HedgeRelationship.contract_id == contract_id)
        .order_by(HedgeDesignation.relationship_id)
    )
    designations = list(session.scalars(stmt))
    states = _latest(session, [d.relationship_id for d in designations])
    return [
        Relationship(
            d.relationship_id,
            HedgeType(d.hedge_type),
            d.hedge_ratio,
            OciReleaseMethod(d.oci_release_method),
            states[d.relationship_id][2] if d.relationship_id in states else None,
        )
        for d in designations
    ]


def carrying_of(session: Session, relationship_ids: Sequence[int]) -> tuple[Carrying, int | None]:
    """The derivative as the journal carries it: the state of the latest entry (by date, then
    as written) of any of the contract's relationships, and that relationship (0 and None:
    never posted)."""
    latest = _latest(session, relationship_ids)
    if not latest:
        return Carrying(), None
    rid, (key, sha, state, _order) = max(latest.items(), key=lambda item: item[1][3])
    return Carrying(state.derivative, key, sha, state), rid


def _latest(
    session: Session, relationship_ids: Sequence[int]
) -> dict[int, tuple[str, str, PostedState, tuple[date, int]]]:
    """Per relationship: its latest entry's key, hash, state and (date, id)."""
    if not relationship_ids:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=EntryRow.relationship_id, order_by=(EntryRow.as_of_date.desc(), EntryRow.id.desc()))
        .label("rank")
    )
    inner = (
        select(
            EntryRow.relationship_id,
            EntryRow.idempotency_key,
            EntryRow.payload_sha256,
            EntryRow.payload,
            EntryRow.as_of_date,
            EntryRow.id,
            rank,
        )
        .where(EntryRow.relationship_id.in_(sorted(set(relationship_ids))))
        .subquery()
    )
    stmt = select(inner).where(inner.c.rank == 1)
    out = {}
    for r in session.execute(stmt):
        if r.payload.get("state_after") is not None:
            state = PostedState.from_payload(r.payload["state_after"])
            out[r.relationship_id] = (r.idempotency_key, r.payload_sha256, state, (r.as_of_date, r.id))
    return out


def write_settlement_entries(session: Session, entry: SettlementEntry, *, now: datetime) -> WriteReport:
    """The settlement entry through the write path into journal_entries."""
    columns = {
        "relationship_id": entry.relationship_id,
        "contract_id": entry.contract_id,
        "kind": keys.FX_SETTLEMENT,
        "as_of_date": entry.as_of,
        "posting_date": entry.posting_date,
        "period": entry.period,
        "reverses_key": None,
    }
    return write_results(session, EntryRow, [result_row(entry.key, entry.payload, columns)], batch_run_id=None, now=now)


def record_order(
    session: Session, due: Due, order: SettlementOrder, entry: SettlementEntry, releases: list[str], now: datetime
) -> None:
    """The settlement settled: the order's columns and the entries' keys, once."""
    row = due.row
    row.status = SettlementStatus.SETTLED.value
    row.settled_rate = order.rate
    row.settled_amount = entry.figures["cash"]
    row.settled_by, row.approver_1, row.approver_2 = order.settled_by, order.approver_1, order.approver_2
    row.settled_at = now
    row.journal_key = entry.key
    row.release_keys = releases


def settlements_in(session: Session, period_first: date, period_last: date) -> list[tuple[Settlement, str]]:
    """The settlements dated in a period (pending and settled), with their contract refs."""
    stmt = (
        select(Settlement, HedgeContract.contract_ref)
        .join(HedgeContract, HedgeContract.id == Settlement.contract_id)
        .where(Settlement.settlement_date.between(period_first, period_last))
        .order_by(Settlement.settlement_date, Settlement.id)
    )
    return [(s, ref) for s, ref in session.execute(stmt)]


def exceptions_in(session: Session, period_first: date, period_last: date) -> list[SettlementException]:
    stmt = select(SettlementException).where(SettlementException.as_of_date.between(period_first, period_last))
    return list(session.scalars(stmt.order_by(SettlementException.as_of_date, SettlementException.id)))
