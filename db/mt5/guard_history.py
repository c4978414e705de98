"""What the guard's replay reads: an account by its login, and the readings of its stored
position snapshots (equity, balance, synced_at) over a time window, oldest first. Failed
syncs (a snapshot with an error and no figures) are no readings and are left out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.mt5.guard_day import DayDeal, GuardReading, ops_from_json
from core.mt5.values import Account
from db.mt5.accounts import account_value
from db.mt5.models import Mt5Account, PositionSnapshot


def accounts_with_login(session: Session, login: int) -> list[Account]:
    """Every account of this login (one per trade server), by server."""
    rows = session.scalars(select(Mt5Account).where(Mt5Account.login == login).order_by(Mt5Account.server))
    return [account_value(r) for r in rows]


def snapshot_readings(session: Session, account_id: int, start: datetime, end: datetime) -> list[GuardReading]:
    """The account's successful snapshots with start <= synced_at < end, in time order
    (then in the order they were written), as readings taken at their sync time."""
    return [reading for reading, _ in snapshot_history(session, account_id, start, end)]


def snapshot_history(
    session: Session, account_id: int, start: datetime, end: datetime
) -> list[tuple[GuardReading, tuple[DayDeal, ...] | None]]:
    """snapshot_readings, each with the day's balance operations its sync saw (None: the
    snapshot did not record them: stored before it did, or the guard was off)."""
    p = PositionSnapshot
    stmt = (
        select(p.login, p.equity, p.balance, p.synced_at, p.balance_ops)
        .where(
            p.account_id == account_id,
            p.synced_at >= start,
            p.synced_at < end,
            p.error.is_(None),
            p.equity.is_not(None),
            p.balance.is_not(None),
        )
        .order_by(p.synced_at, p.id)
    )
    return [
        (GuardReading(login, equity, balance, synced_at), None if ops is None else ops_from_json(ops))
        for login, equity, balance, synced_at, ops in session.execute(stmt)
        if equity is not None and balance is not None
    ]  # filtered above; for the types
