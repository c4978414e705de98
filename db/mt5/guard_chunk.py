"""The guards' rows of a chunk of accounts at once: what a sync's guards look at before the
terminal is asked (guard states with their day anchors, open close intents, symbol states),
read in one statement each for the whole chunk, and the states of the accounts whose
decision wrote nothing else, written in one statement each with the chunk's results.

The per-account forms (db.mt5.guard.load_state/save_state, db.mt5.market) stay for the
decisions that write alerts or intents: those are committed before any order is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.mt5.guard_state import GuardState, state_as_dict, state_from_dict
from core.mt5.market_guard import SymbolState
from db.audit import record_events
from db.mt5.guard import OPEN_INTENTS
from db.mt5.guard_models import CloseIntent, GuardStateRow, MarketStateRow
from db.mt5.models import Mt5Account
from db.writepath import dialect_insert


@dataclass(frozen=True, slots=True)
class GuardLook:
    """One account as its guard finds it before the terminal is asked: its state as
    committed (None: never guarded) and how many enforce-mode close intents are open."""

    state: GuardState | None
    open_intents: int


@dataclass(frozen=True, slots=True)
class StateWrite:
    """A decision's new state, and the state it was taken on (None: no row): written only
    if the row still holds that state."""

    account_id: int
    login: int
    seen: GuardState | None
    state: GuardState


def guard_looks(session: Session, account_ids: Sequence[int], *, mode: str = "enforce") -> dict[int, GuardLook]:
    """Every account's state and open intent count, one statement (no lock: a look)."""
    if not account_ids:
        return {}
    pending = (
        select(func.count())
        .where(CloseIntent.account_id == Mt5Account.id, CloseIntent.status.in_(OPEN_INTENTS), CloseIntent.mode == mode)
        .correlate(Mt5Account)
        .scalar_subquery()
    )
    stmt = (
        select(Mt5Account.id, GuardStateRow.state, pending)
        .outerjoin(GuardStateRow, GuardStateRow.account_id == Mt5Account.id)
        .where(Mt5Account.id.in_(account_ids))
    )
    return {
        int(a): GuardLook(None if state is None else state_from_dict(state), int(n))
        for a, state, n in session.execute(stmt)
    }


def market_looks(session: Session, account_ids: Sequence[int]) -> dict[int, dict[str, SymbolState]]:
    """Every account's symbol states, by account and symbol, one statement."""
    found: dict[int, dict[str, SymbolState]] = {a: {} for a in account_ids}
    if not account_ids:
        return found
    stmt = select(MarketStateRow.account_id, MarketStateRow.symbol, MarketStateRow.state).where(
        MarketStateRow.account_id.in_(account_ids)
    )
    for account_id, symbol, state in session.execute(stmt):
        found[int(account_id)][symbol] = SymbolState.from_dict(state)
    return found


def save_states(session: Session, writes: Sequence[StateWrite], *, now: datetime) -> list[StateWrite]:
    """Write the states whose rows still hold what their decision was taken on (the rows
    locked in one statement, written in one); the others, moved by another process
    meanwhile, are returned unwritten: the next sync decides on what they hold now. A
    first state is audited (`guard_state_changed`), as db.mt5.guard.save_state does."""
    if not writes:
        return []
    locked = session.execute(
        select(GuardStateRow.account_id, GuardStateRow.state)
        .where(GuardStateRow.account_id.in_([w.account_id for w in writes]))
        .with_for_update()
    )
    held = {int(a): state_from_dict(s) for a, s in locked}
    kept = [w for w in writes if held.get(w.account_id) == w.seen]
    if kept:
        insert = dialect_insert(session, GuardStateRow)
        stmt = insert.on_conflict_do_update(
            index_elements=["account_id"],
            set_={c: insert.excluded[c] for c in ("status", "episode", "state", "updated_at")},
        )
        session.execute(stmt, [_row(w, now) for w in kept])
    firsts = [
        (w.account_id, {"login": w.login, "from": None, "to": [w.state.status.value, w.state.episode]})
        for w in kept
        if w.seen is None
    ]
    record_events(session, "guard_state_changed", entity_type="mt5_account", events=firsts, now=now)
    return [w for w in writes if held.get(w.account_id) != w.seen]


def _row(w: StateWrite, now: datetime) -> dict[str, object]:
    s = w.state
    return {
        "account_id": w.account_id,
        "login": w.login,
        "status": s.status.value,
        "episode": s.episode,
        "state": state_as_dict(s),
        "updated_at": now,
    }


def save_market_looks(session: Session, states: Mapping[int, Mapping[str, SymbolState]], *, now: datetime) -> None:
    """Store the accounts' symbol states (insert or change in place), one statement."""
    values = [
        {"account_id": a, "symbol": symbol, "state": state.as_dict(), "updated_at": now}
        for a, by_symbol in states.items()
        for symbol, state in by_symbol.items()
    ]
    if not values:
        return
    insert = dialect_insert(session, MarketStateRow)
    stmt = insert.on_conflict_do_update(
        index_elements=["account_id", "symbol"], set_={"state": insert.excluded.state, "updated_at": now}
    )
    session.execute(stmt, values)
