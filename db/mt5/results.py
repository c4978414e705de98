"""MT5 results through the write path: a position snapshot per account and sync (or per
failed attempt), a reconciliation log per position of the union; then what they change in
master data: the peak-equity high-water mark, tickets that became known, expected
positions MT5 says are closed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from core import keys
from core.canonical import JsonValue, canonical, normalise_decimal, text_and_sha
from core.mt5.guard_day import DayDeal, ops_as_json
from core.mt5.reconcile import Outcome, entry_price
from core.mt5.snapshot import SnapshotFigures
from core.mt5.values import Account, ExpectedStatus
from core.values import Counts
from db.audit import record_event
from db.mt5.accounts import assign_ticket
from db.mt5.models import ExpectedPosition, Mt5Account, PositionSnapshot, ReconciliationLog
from db.writepath import ResultRow, result_row, write_results

EVENT_SYNC = "sync"
#: Columns of a reconciliation row its payload leaves out: its key or its reason says them.
SAID_BY_KEY = frozenset({"account_id", "login", "sync_id", "event_type", "status"})
#: The columns of a reconciliation row its payload holds, when not None: every other one.
PAYLOAD_FIELDS = (
    "reason",
    "signal_id",
    "approval_id",
    "ticket",
    "symbol",
    "direction",
    "expected_volume",
    "volume",
    "entry_price",
    "open_price",
    "current_price",
    "stop_loss",
    "take_profit",
    "exit_price",
    "close_reason",
    "close_profit",
    "details",
)


@dataclass(frozen=True, slots=True)
class AccountSynced:
    account: Account
    sync_id: int
    synced_at: datetime
    figures: SnapshotFigures
    outcomes: Sequence[Outcome]
    #: The day's balance operations the guard saw with this reading (None: not read).
    balance_ops: Sequence[DayDeal] | None = None


@dataclass(frozen=True, slots=True)
class AccountFailed:
    account: Account
    sync_id: int
    attempt: int
    synced_at: datetime
    kind: str
    error: str


@dataclass(slots=True)
class Written:
    counts: Counts = field(default_factory=Counts)
    conflict_keys: list[str] = field(default_factory=list)


def snapshot_row(s: AccountSynced) -> ResultRow:
    f = s.figures
    values: dict[str, Any] = {
        "account_id": s.account.id,
        "login": s.account.login,
        "sync_id": s.sync_id,
        "attempt": 0,
        "currency": s.account.currency,
        "equity": f.equity,
        "balance": f.balance,
        "peak_equity": f.peak_equity,
        "drawdown_percent": f.drawdown_percent,
        "open_positions": f.open_positions,
        "total_volume": f.total_volume,
        "open_pnl": f.open_pnl,
        "margin_level": f.margin_level,
        "synced_at": s.synced_at,
        "error": None,
        "error_kind": None,
        "balance_ops": None if s.balance_ops is None else ops_as_json(s.balance_ops),
    }
    # The figures are the business values; when they were read is not (a redelivered sync
    # reads later, and must still find its snapshot `existing`), nor what else it saw.
    payload = {k: v for k, v in values.items() if k not in ("synced_at", "error", "error_kind", "balance_ops")}
    return result_row(keys.mt5_snapshot_key(s.account.id, s.sync_id), payload, values)


def failed_snapshot_row(failed: AccountFailed) -> ResultRow:
    """A failed attempt: the error, no figures (the peak is the last one known)."""
    a = failed.account
    values: dict[str, Any] = {
        "account_id": a.id,
        "login": a.login,
        "sync_id": failed.sync_id,
        "attempt": failed.attempt,
        "currency": a.currency,
        "equity": None,
        "balance": None,
        "peak_equity": a.peak_equity,
        "drawdown_percent": None,
        "open_positions": None,
        "total_volume": None,
        "open_pnl": None,
        "margin_level": None,
        "synced_at": failed.synced_at,
        "error": failed.error[:1000],
        "error_kind": failed.kind,
    }
    key = keys.mt5_failed_snapshot_key(a.id, failed.sync_id, failed.attempt)
    # What failed is the business fact; the message and the time are the record of it.
    payload = {k: values[k] for k in ("account_id", "login", "sync_id", "attempt", "error_kind")}
    return result_row(key, payload, values)


def reconciliation_row(s: AccountSynced, o: Outcome) -> ResultRow:
    first = o.expected[0] if o.expected else None
    actual, close = o.actual, o.close
    values: dict[str, Any] = {
        "account_id": s.account.id,
        "login": s.account.login,
        "sync_id": s.sync_id,
        "event_type": EVENT_SYNC,
        "status": o.status.value,
        "reason": o.reason.value,
        "signal_id": first.signal_id if first else None,
        "approval_id": first.approval_id if first else None,
        "ticket": o.ticket,
        "symbol": o.symbol,
        "direction": o.direction.value if o.direction else None,
        "expected_volume": o.expected_volume,
        "volume": actual.volume if actual else None,
        "entry_price": entry_price(o.expected) if o.expected else None,
        "open_price": actual.price_open if actual else None,
        "current_price": actual.price_current if actual else None,
        "stop_loss": actual.sl if actual else (first.sl if first else None),
        "take_profit": actual.tp if actual else (first.tp if first else None),
        "exit_price": close.price if close else None,
        "close_reason": o.details.get("close_reason"),
        "close_profit": o.close_profit,
        "details": o.details,
    }
    # The key names the account, the sync and the ticket; the status follows from the reason.
    # The payload is spelled canonically here, value by value (`canonical_form` of the same
    # payload gives the same text and hash, tests/unit/test_mt5_result_rows.py): a cycle
    # makes one row per position, and the generic pass over them cost a fifth of a sync.
    payload: dict[str, JsonValue] = {}
    for name in PAYLOAD_FIELDS:
        value = values[name]
        if value is None:
            continue
        kind = type(value)
        if kind is Decimal:
            payload[name] = _normalised(value)
        elif kind is str or kind is int:
            payload[name] = value
        elif kind is dict:
            payload[name] = {str(k): _spelled(v) for k, v in value.items()}
        else:
            payload[name] = canonical(value)
    text, sha = text_and_sha(payload)
    values["details"] = payload["details"]  # canonical JSON: Decimals as text
    return ResultRow(keys.reconciliation_key(s.account.id, s.sync_id, o.subject), payload, sha, values, text)


#: normalise_decimal of the Decimals the rows spell, remembered by value: a sync's rows repeat
#: their volumes, entries, stops and each symbol's current price (a Decimal's hash costs a
#: tenth of normalising it). Equal Decimals have one spelling, so the value is the key.
_normalised = lru_cache(maxsize=8192)(normalise_decimal)


def _spelled(value: object) -> JsonValue:
    """canonical() of a detail's value, its Decimals through the memo."""
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value  # type: ignore[return-value]
    if kind is Decimal:
        return _normalised(value)
    return canonical(value)


def write_sync_results(
    session: Session,
    synced: Sequence[AccountSynced],
    failed: Sequence[AccountFailed],
    *,
    batch_run_id: int | None,
    now: datetime,
) -> Written:
    """Snapshots and reconciliation logs of accounts synced and failed, in two bulk writes;
    then peaks, tickets and closes. Without the write path's probe for a rerun: an account
    whose snapshot of the sync is stored is not synced again (the chunk's plan), and its
    snapshot and rows commit together, so the keys are new but for a race, which the
    merge tells as `existing` or `conflict` all the same."""
    written = Written()
    for table, rows in (
        (PositionSnapshot, [snapshot_row(s) for s in synced] + [failed_snapshot_row(f) for f in failed]),
        (ReconciliationLog, [reconciliation_row(s, o) for s in synced for o in s.outcomes]),
    ):
        report = write_results(session, table, rows, batch_run_id=batch_run_id, now=now, rerun_probe=False)
        written.counts.add(report.counts())
        written.conflict_keys += report.conflict_keys
    raise_peaks(session, synced)
    apply_outcomes(session, synced, batch_run_id=batch_run_id, now=now)
    return written


def raise_peaks(session: Session, synced: Sequence[AccountSynced]) -> None:
    """Persist each account's high-water mark where this sync moved it."""
    moved = [
        {"account": s.account.id, "peak": s.figures.peak_equity, "at": s.synced_at}
        for s in synced
        if s.account.peak_equity is None or s.figures.peak_equity > s.account.peak_equity
    ]
    if moved:
        # Plain executemany (the ORM's bulk update by primary key costs more per row).
        stmt = (
            update(Mt5Account)
            .where(Mt5Account.id == bindparam("account"))
            .values(peak_equity=bindparam("peak"), peak_equity_at=bindparam("at"))
        )
        session.connection().execute(stmt, moved)


def apply_outcomes(
    session: Session, synced: Sequence[AccountSynced], *, batch_run_id: int | None, now: datetime
) -> None:
    """Tickets learned by pairing, and expected positions MT5 says are closed (audited)."""
    wanted = {
        e.id
        for s in synced
        for o in s.outcomes
        for e in o.expected
        if o.reason.closes_expected or (o.actual is not None and e.ticket is None)
    }
    if not wanted:
        return
    rows = {r.id: r for r in session.scalars(select(ExpectedPosition).where(ExpectedPosition.id.in_(wanted)))}
    for s in synced:
        for o in s.outcomes:
            for e in o.expected:
                row = rows.get(e.id)
                if row is None:
                    continue
                if o.actual is not None and row.ticket is None:
                    assign_ticket(
                        session, row, o.actual.ticket, now=now, source=f"sync {s.sync_id}", batch_run_id=batch_run_id
                    )
                if o.reason.closes_expected and row.status == ExpectedStatus.OPEN.value:
                    _close(session, row, o, batch_run_id, now)


def _close(session: Session, row: ExpectedPosition, o: Outcome, batch_run_id: int | None, now: datetime) -> None:
    row.status = ExpectedStatus.CLOSED.value
    row.closed_reason = o.reason.value
    row.updated_at = now
    record_event(
        session,
        "expected_position_closed",
        entity_type="expected_position",
        entity_id=row.id,
        now=now,
        batch_run_id=batch_run_id,
        details={
            "signal_id": row.signal_id,
            "ticket": o.ticket,
            "reason": o.reason,
            "close_reason": o.details.get("close_reason"),
        },
    )


def stored_keys(session: Session, table: type[PositionSnapshot], wanted: Sequence[str]) -> set[str]:
    """Which of the `wanted` idempotency keys are already stored."""
    if not wanted:
        return set()
    return set(session.scalars(select(table.idempotency_key).where(table.idempotency_key.in_(wanted))))


def failed_for_good(session: Session, run_id: int, kinds: frozenset[str]) -> set[int]:
    """The accounts of a cycle whose failure in it was of a kind never retried."""
    stmt = select(PositionSnapshot.account_id).where(
        PositionSnapshot.batch_run_id == run_id, PositionSnapshot.error_kind.in_(sorted(kinds))
    )
    return set(session.scalars(stmt))
