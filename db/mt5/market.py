"""The market guard's rows: each account's symbol states (core.mt5.market_guard
.SymbolState), read before the terminal is asked and saved with the events they raised.
The events themselves are drawdown alerts (db.mt5.guard.write_alert), its closes
close_intents (db.mt5.guard.add_intents)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.mt5.market_guard import SymbolState
from db.mt5.guard_models import MarketStateRow


def market_states(session: Session, account_id: int, symbols: Iterable[str] | None = None) -> dict[str, SymbolState]:
    """The account's symbol states by symbol (all, or those of `symbols`); a symbol never
    seen has none."""
    stmt = select(MarketStateRow.symbol, MarketStateRow.state).where(MarketStateRow.account_id == account_id)
    if symbols is not None:
        stmt = stmt.where(MarketStateRow.symbol.in_(sorted(set(symbols))))
    return {symbol: SymbolState.from_dict(state) for symbol, state in session.execute(stmt)}


def save_market_states(session: Session, account_id: int, states: Mapping[str, SymbolState], *, now: datetime) -> None:
    """Store the states (insert or change in place)."""
    if not states:
        return
    rows = {
        r.symbol: r
        for r in session.scalars(
            select(MarketStateRow).where(
                MarketStateRow.account_id == account_id, MarketStateRow.symbol.in_(sorted(states))
            )
        )
    }
    for symbol, state in states.items():
        row = rows.get(symbol)
        if row is None:
            session.add(MarketStateRow(account_id=account_id, symbol=symbol, state=state.as_dict(), updated_at=now))
        else:
            row.state, row.updated_at = state.as_dict(), now
