"""Settlements at maturity (issue 22, point 1; seed 004 §6.4; migration 0018): the proposal
the nightly computes (a result of the write path, key SETTLEMENT:<contract>:<date>, status
`pending`), settled by a person's order (the status and the order's columns set once, by
`db.hedging.settlements.settle`), and the dates a proposal could not be made (a missing
fixing: key SETTLEX:<contract>:<date>:fixing_unavailable)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import BigId, ExactDecimal, JsonDoc, Money, ResultTable, UtcDateTime


class Settlement(ResultTable):
    """One contract's settlement: the proposal in the payload (its business values: what a
    rerun compares); who settled it, at what rate and with which entries in the columns."""

    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("contract_id", "settlement_date"),)

    contract_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_contracts.id"))
    settlement_date: Mapped[date] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    proposed_amount: Mapped[Money]
    settled_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    settled_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    settled_by: Mapped[str | None] = mapped_column(String(64))
    approver_1: Mapped[str | None] = mapped_column(String(64))
    approver_2: Mapped[str | None] = mapped_column(String(64))
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    journal_key: Mapped[str | None] = mapped_column(String(160))
    release_keys: Mapped[list[Any] | None] = mapped_column(JsonDoc)


class SettlementException(ResultTable):
    """A contract due to settle that got no proposal on a date, and why (`fixing_unavailable`)."""

    __tablename__ = "settlement_exceptions"

    contract_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_contracts.id"))
    as_of_date: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
