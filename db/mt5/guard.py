"""The drawdown guard's rows: guard states (locked while decided), close intents (the
outbox: inserted once per key, claimed attempt by attempt with a compare-and-set so two
processes never send the same attempt), notifications (the outbox of alerts) and drawdown
alerts (results, through the write path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from core.mt5.close_intents import OPEN_STATUSES, IntentStatus
from core.mt5.close_intents import CloseIntent as IntentValue
from core.mt5.guard_state import GuardState, state_as_dict, state_from_dict
from db.audit import record_event
from db.mt5.guard_models import CloseIntent, DrawdownAlert, GuardStateRow, Notification
from db.writepath import dialect_insert, result_row, write_results

OPEN_INTENTS = tuple(sorted(s.value for s in OPEN_STATUSES))


def load_state(session: Session, account_id: int) -> GuardState:
    """The account's guard state, its row locked for this unit of work (a fresh state when
    the account was never guarded)."""
    row = session.scalars(
        select(GuardStateRow).where(GuardStateRow.account_id == account_id).with_for_update()
    ).one_or_none()
    return GuardState() if row is None else state_from_dict(row.state)


def peek_state(session: Session, account_id: int) -> GuardState:
    """The account's guard state as committed, without a lock (a look before the terminal
    is asked; the decision is taken again on load_state)."""
    row = session.scalars(select(GuardStateRow.state).where(GuardStateRow.account_id == account_id)).one_or_none()
    return GuardState() if row is None else state_from_dict(row)


def save_state(session: Session, account_id: int, login: int, state: GuardState, *, now: datetime) -> None:
    """Persist the state; a change of latch or episode is an audit event."""
    row = session.scalars(select(GuardStateRow).where(GuardStateRow.account_id == account_id)).one_or_none()
    before = None if row is None else (row.status, row.episode)
    if row is None:
        row = GuardStateRow(
            account_id=account_id,
            login=login,
            status=state.status.value,
            episode=state.episode,
            state=state_as_dict(state),
            updated_at=now,
        )
        session.add(row)
    else:
        row.status, row.episode, row.state, row.updated_at = (
            state.status.value,
            state.episode,
            state_as_dict(state),
            now,
        )
    session.flush()
    if before != (state.status.value, state.episode):
        record_event(
            session,
            "guard_state_changed",
            entity_type="mt5_account",
            entity_id=account_id,
            now=now,
            details={"login": login, "from": before and list(before), "to": [state.status.value, state.episode]},
        )


def states(session: Session) -> dict[int, GuardState]:
    """Every guarded account's state, by account id (the status view)."""
    return {r.account_id: state_from_dict(r.state) for r in session.scalars(select(GuardStateRow))}


# -- close intents ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntentSpec:
    key: str
    account_id: int
    login: int
    terminal: str
    ticket: int
    symbol: str
    position_type: int
    volume: Decimal
    position_time_msc: int
    episode: int
    mode: str
    kind: str = "execution"


def add_intents(
    session: Session, specs: Sequence[IntentSpec], *, now: datetime, batch_run_id: int | None = None
) -> list[str]:
    """Insert the intents not there yet (a key is one close, ever); the keys inserted, each
    audited with the sync cycle (`batch_run_id`) that made it."""
    if not specs:
        return []
    values = [
        {
            "idempotency_key": s.key,
            "account_id": s.account_id,
            "login": s.login,
            "terminal": s.terminal,
            "ticket": s.ticket,
            "symbol": s.symbol,
            "position_type": s.position_type,
            "volume": s.volume,
            "position_time_msc": s.position_time_msc,
            "episode": s.episode,
            "mode": s.mode,
            "kind": s.kind,
            "status": IntentStatus.PENDING.value,
            "attempts": 0,
            "market_closed": 0,
            "partial_fills": 0,
            "filling_index": 0,
            "market_alerted": False,
            "created_at": now,
            "updated_at": now,
        }
        for s in specs
    ]
    stmt = dialect_insert(session, CloseIntent).on_conflict_do_nothing(index_elements=["idempotency_key"])
    inserted = list(session.execute(stmt.returning(CloseIntent.idempotency_key), values).scalars())
    kinds = {s.key: s.kind for s in specs}
    for key in inserted:
        details = {"key": key, "kind": kinds[key]}
        record_event(
            session,
            "close_intent_created",
            entity_type="close_intent",
            entity_id=key,
            now=now,
            details=details,
            batch_run_id=batch_run_id,
        )
    return inserted


def open_intents(session: Session, account_ids: Sequence[int], *, mode: str | None = None) -> list[CloseIntent]:
    """The intents still to finish of these accounts, oldest position first (FIFO)."""
    stmt = select(CloseIntent).where(CloseIntent.account_id.in_(account_ids), CloseIntent.status.in_(OPEN_INTENTS))
    if mode is not None:
        stmt = stmt.where(CloseIntent.mode == mode)
    return list(session.scalars(stmt.order_by(CloseIntent.position_time_msc, CloseIntent.ticket)))


def open_intent_counts(session: Session, account_ids: Sequence[int], *, mode: str | None = None) -> dict[int, int]:
    """How many intents each of these accounts has still to finish (absent: none)."""
    stmt = select(CloseIntent.account_id, func.count()).where(
        CloseIntent.account_id.in_(account_ids), CloseIntent.status.in_(OPEN_INTENTS)
    )
    if mode is not None:
        stmt = stmt.where(CloseIntent.mode == mode)
    return {int(a): int(n) for a, n in session.execute(stmt.group_by(CloseIntent.account_id))}


def intents_of_episode(
    session: Session, account_id: int, episode: int, *, kind: str | None = None
) -> list[CloseIntent]:
    """The episode's intents (of one kind: core.mt5.latch.IntentKind), by ticket."""
    stmt = select(CloseIntent).where(CloseIntent.account_id == account_id, CloseIntent.episode == episode)
    if kind is not None:
        stmt = stmt.where(CloseIntent.kind == kind)
    return list(session.scalars(stmt.order_by(CloseIntent.ticket)))


def held_tickets(session: Session, account_id: int, episode: int) -> dict[str, set[int]]:
    """The tickets that have an intent of the episode, by kind."""
    stmt = select(CloseIntent.kind, CloseIntent.ticket).where(
        CloseIntent.account_id == account_id, CloseIntent.episode == episode
    )
    held: dict[str, set[int]] = {}
    for kind, ticket in session.execute(stmt):
        held.setdefault(kind, set()).add(int(ticket))
    return held


def intent_value(row: CloseIntent) -> IntentValue:
    return IntentValue(
        row.idempotency_key,
        row.ticket,
        IntentStatus(row.status),
        row.attempts,
        row.market_closed,
        row.partial_fills,
        row.filling_index,
        row.market_alerted,
    )


def claim(
    session: Session, intent_id: int, before: IntentValue, after: IntentValue, *, now: datetime, **columns: Any
) -> bool:
    """Move the intent from `before` to `after`, only if nobody moved it meanwhile
    (compare-and-set on status and attempts): True when this process did."""
    stmt = (
        update(CloseIntent)
        .where(
            CloseIntent.id == intent_id,
            CloseIntent.status == before.status.value,
            CloseIntent.attempts == before.attempts,
        )
        .values(
            status=after.status.value,
            attempts=after.attempts,
            market_closed=after.market_closed,
            partial_fills=after.partial_fills,
            filling_index=after.filling_index,
            market_alerted=after.market_alerted,
            updated_at=now,
            **columns,
        )
    )
    # Core, not the ORM's bulk update: no objects to synchronise, a statement per attempt.
    return int(getattr(session.connection().execute(stmt), "rowcount", 0)) == 1


def unrealised(session: Session, account_id: int) -> list[CloseIntent]:
    """Confirmed intents whose realised P&L is not known yet."""
    stmt = select(CloseIntent).where(
        CloseIntent.account_id == account_id,
        CloseIntent.status == IntentStatus.CONFIRMED.value,
        CloseIntent.realised_profit.is_(None),
        CloseIntent.kind != "pending_order",  # a deleted order realises nothing
    )
    return list(session.scalars(stmt))


def set_realised(session: Session, profits: dict[int, Decimal]) -> None:
    stmt = update(CloseIntent).where(CloseIntent.id == bindparam("intent")).values(realised_profit=bindparam("profit"))
    session.connection().execute(stmt, [{"intent": k, "profit": v} for k, v in profits.items()])


def pending_count(session: Session) -> int:
    return len(list(session.scalars(select(CloseIntent.id).where(CloseIntent.status.in_(OPEN_INTENTS)))))


# -- notifications and alerts ----------------------------------------------------------------


def add_notification(
    session: Session, key: str, kind: str, login: int | None, message: str, details: dict[str, Any], *, now: datetime
) -> bool:
    """Queue a notification once per key; True when queued now."""
    stmt = dialect_insert(session, Notification).on_conflict_do_nothing(index_elements=["idempotency_key"])
    done = session.execute(
        stmt.returning(Notification.id),
        [
            {
                "idempotency_key": key,
                "kind": kind,
                "login": login,
                "message": message[:2000],
                "details": details,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        ],
    ).first()
    return done is not None


def undelivered(session: Session, limit: int = 100) -> list[Notification]:
    stmt = select(Notification).where(Notification.status == "pending").order_by(Notification.id).limit(limit)
    return list(session.scalars(stmt))


def write_alert(session: Session, key: str, columns: dict[str, Any], *, batch_run_id: int | None, now: datetime) -> str:
    """One drawdown alert through the write path: created, existing or conflict."""
    payload = {k: v for k, v in columns.items() if k not in ("account_id",)}
    report = write_results(
        session, DrawdownAlert, [result_row(key, payload, columns)], batch_run_id=batch_run_id, now=now
    )
    return report.outcomes[0].value


def alert_stored(session: Session, key: str) -> bool:
    """Whether a drawdown alert of this key is stored."""
    return session.scalars(select(DrawdownAlert.id).where(DrawdownAlert.idempotency_key == key)).first() is not None


def alerts_of(session: Session, login: int | None = None) -> list[DrawdownAlert]:
    stmt = select(DrawdownAlert).order_by(DrawdownAlert.id)
    if login is not None:
        stmt = stmt.where(DrawdownAlert.login == login)
    return list(session.scalars(stmt))
