"""Drawdown guard tables: the persisted guard state of each account (the latch, the peak,
the day's anchor), the close-intent outbox (committed before any order_send), the
notification outbox, and the drawdown alerts (results: append-only, through the write path)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, ExactDecimal, IntPk, JsonDoc, Key, Quantity, ResultTable, Timestamp, UtcDateTime

Json = dict[str, Any]
Pct = ExactDecimal(12, 4)


class GuardStateRow(Base):
    """One account's guard state (core.mt5.guard_state.GuardState as JSON); changed in
    place, each change audited."""

    __tablename__ = "guard_states"

    id: Mapped[IntPk]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"), unique=True)
    login: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))
    episode: Mapped[int]
    state: Mapped[Json] = mapped_column(JsonDoc)
    updated_at: Mapped[Timestamp]


class CloseIntent(Base):
    """The outbox of closes (and of pending-order removals): one row per (account, ticket,
    episode), committed before the first order_send; its status and attempts are updated as
    answers come."""

    __tablename__ = "close_intents"
    __table_args__ = (Index("ix_close_intents_account_id_status", "account_id", "status"),)

    id: Mapped[IntPk]
    idempotency_key: Mapped[Key]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"))
    login: Mapped[int] = mapped_column(BigId)
    terminal: Mapped[str] = mapped_column(String(23))
    ticket: Mapped[int] = mapped_column(BigId)
    symbol: Mapped[str] = mapped_column(String(32))
    position_type: Mapped[int]
    volume: Mapped[Quantity]
    position_time_msc: Mapped[int] = mapped_column(BigId)
    episode: Mapped[int]
    mode: Mapped[str] = mapped_column(String(8))
    #: core.mt5.latch.IntentKind: execution, reopened (found open later while tripped) or
    #: pending_order (a removal of the pending order `ticket`).
    kind: Mapped[str] = mapped_column(String(16), server_default="execution")
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    market_closed: Mapped[int]
    partial_fills: Mapped[int]
    filling_index: Mapped[int]
    market_alerted: Mapped[bool] = mapped_column(Boolean)
    last_retcode: Mapped[int | None]
    last_request: Mapped[Json | None] = mapped_column(JsonDoc)
    last_result: Mapped[Json | None] = mapped_column(JsonDoc)
    realised_profit: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MarketStateRow(Base):
    """What the market guard remembers of one symbol of one account (core.mt5.market_guard
    .SymbolState as JSON: the last bid and tick time, the recent spreads, the start of a
    wide-spread episode); changed in place at each sync."""

    __tablename__ = "market_states"
    __table_args__ = (UniqueConstraint("account_id", "symbol"),)

    id: Mapped[IntPk]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"))
    symbol: Mapped[str] = mapped_column(String(32))
    state: Mapped[Json] = mapped_column(JsonDoc)
    updated_at: Mapped[Timestamp]


class Notification(Base):
    """The outbox of notifications: written with the event that causes it, delivered after
    commit by the notifier, retried later when delivery fails (never lost, never blocking)."""

    __tablename__ = "notifications"

    id: Mapped[IntPk]
    idempotency_key: Mapped[Key]
    kind: Mapped[str] = mapped_column(String(32))
    login: Mapped[int | None] = mapped_column(BigId)
    message: Mapped[str] = mapped_column(String(2000))
    details: Mapped[Json] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[Timestamp]
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DrawdownAlert(ResultTable):
    """A guard event (seed 001's DrawdownAlert): warning or execution with the current
    drawdown %, equity and threshold %, the action taken, positions closed and realised
    loss. Append-only, written through the write path."""

    __tablename__ = "drawdown_alerts"
    __table_args__ = (Index("ix_drawdown_alerts_account_id_created_at", "account_id", "created_at"),)

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"))
    login: Mapped[int] = mapped_column(BigId)
    alert_type: Mapped[str] = mapped_column(String(24), index=True)
    episode: Mapped[int]
    mode: Mapped[str] = mapped_column(String(8))
    current_pct: Mapped[Decimal | None] = mapped_column(Pct)
    day_loss_pct: Mapped[Decimal | None] = mapped_column(Pct)
    threshold_pct: Mapped[Decimal | None] = mapped_column(Pct)
    equity: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    action: Mapped[str] = mapped_column(String(24))
    positions_closed: Mapped[int]
    realised_loss: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    details: Mapped[Json] = mapped_column(JsonDoc)


APPEND_ONLY_TABLES = ("drawdown_alerts",)
