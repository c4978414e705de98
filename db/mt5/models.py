"""MT5 tables: accounts, expected positions, position snapshots, reconciliation logs.

Accounts and expected positions are master data (changed in place, audited). Snapshots
and reconciliation logs are results: written only through the write path, keyed per
account and sync, append-only (a PostgreSQL trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, ExactDecimal, IntPk, JsonDoc, Quantity, Rate, ResultTable, Timestamp, UtcDateTime

Json = dict[str, Any]
Percent = ExactDecimal(12, 2)


class Mt5Account(Base):
    """One trading account on one terminal. The password is never here: `credential_ref`
    says where a worker reads it (`env:NAME` or `file:/path`)."""

    __tablename__ = "mt5_accounts"
    __table_args__ = (UniqueConstraint("login", "server"),)

    id: Mapped[IntPk]
    login: Mapped[int] = mapped_column(BigId)
    server: Mapped[str] = mapped_column(String(64))
    terminal: Mapped[str] = mapped_column(String(23), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    policy: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    magic_numbers: Mapped[list[int]] = mapped_column(JsonDoc)
    credential_ref: Mapped[str] = mapped_column(String(512))
    #: The high-water mark of equity, raised by every sync that sees a new high.
    peak_equity: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    peak_equity_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]


class ExpectedPosition(Base):
    """What the trading system expects to be open; the ticket once known."""

    __tablename__ = "expected_positions"
    __table_args__ = (
        UniqueConstraint("account_id", "signal_id"),
        Index("ix_expected_positions_account_id_status", "account_id", "status"),
    )

    id: Mapped[IntPk]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"))
    signal_id: Mapped[str] = mapped_column(String(64))
    approval_id: Mapped[str | None] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(4))
    volume: Mapped[Quantity]
    entry_price: Mapped[Rate]
    sl: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    tp: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    magic: Mapped[int] = mapped_column(BigId)
    ticket: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]


class PositionSnapshot(ResultTable):
    """Equity and positions of one account at one sync; a failed attempt is a row with
    `error` set and no figures. Append-only."""

    __tablename__ = "position_snapshots"
    __table_args__ = (Index("ix_position_snapshots_account_id_synced_at", "account_id", "synced_at"),)

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"))
    login: Mapped[int] = mapped_column(BigId)
    sync_id: Mapped[int] = mapped_column(BigId)
    attempt: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    equity: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    balance: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    peak_equity: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    drawdown_percent: Mapped[Decimal | None] = mapped_column(Percent)
    open_positions: Mapped[int | None]
    total_volume: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    open_pnl: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    margin_level: Mapped[Decimal | None] = mapped_column(Percent)
    synced_at: Mapped[Timestamp]
    error: Mapped[str | None] = mapped_column(String(1000))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    #: The day's balance operations the sync saw ([{ticket, type, time, amount}]), kept for
    #: the guard's replay; NULL: not recorded (stored before, or the guard is off). Not in
    #: the payload: what a sync saw, like when it ran.
    balance_ops: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDoc)


class ReconciliationLog(ResultTable):
    """One position of the union of expected and actual at one sync, classified
    (`status` matched or divergence, `reason` the class). Append-only."""

    __tablename__ = "reconciliation_logs"
    __table_args__ = (
        Index("ix_reconciliation_logs_account_id_created_at", "account_id", "created_at"),
        Index("ix_reconciliation_logs_symbol_created_at", "symbol", "created_at"),
    )

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("mt5_accounts.id"))
    login: Mapped[int] = mapped_column(BigId)
    sync_id: Mapped[int] = mapped_column(BigId)
    event_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    signal_id: Mapped[str | None] = mapped_column(String(64))
    approval_id: Mapped[str | None] = mapped_column(String(64))
    ticket: Mapped[int | None] = mapped_column(BigId)
    symbol: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(4))
    expected_volume: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    volume: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    entry_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    open_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    current_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    stop_loss: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    take_profit: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    exit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    close_reason: Mapped[str | None] = mapped_column(String(16))
    close_profit: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    details: Mapped[Json] = mapped_column(JsonDoc)
    batch_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"), index=True)


APPEND_ONLY_TABLES = ("position_snapshots", "reconciliation_logs")
