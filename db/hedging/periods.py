"""Accounting periods: their state (the latest close or reopen event; none: open) and the
events that change it, each with its audit event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.hedging.period_lock import PeriodAction, PeriodRefused, change_problem
from db.audit import record_event
from db.hedging.journal_models import AccountingPeriodEvent


def closed_periods(session: Session, periods: Iterable[str] | None = None) -> set[str]:
    """The closed periods (of `periods`, when given): those whose latest event is a close."""
    latest = select(AccountingPeriodEvent.period, func.max(AccountingPeriodEvent.id).label("id")).group_by(
        AccountingPeriodEvent.period
    )
    if periods is not None:
        latest = latest.where(AccountingPeriodEvent.period.in_(sorted(set(periods))))
    last = latest.subquery()
    stmt = select(AccountingPeriodEvent.period).join(last, last.c.id == AccountingPeriodEvent.id)
    return set(session.scalars(stmt.where(AccountingPeriodEvent.action == PeriodAction.CLOSE.value)))


def change_period(
    session: Session,
    period: str,
    action: PeriodAction,
    *,
    actor: str,
    second: str | None,
    reason: str,
    now: datetime,
) -> AccountingPeriodEvent:
    """Close or reopen `period` (PeriodRefused, nothing written, when the rules say no);
    audited as `accounting_period_closed` / `accounting_period_reopened`."""
    closed = period in closed_periods(session, [period])
    problem = change_problem(action, closed, actor, second, reason)
    if problem:
        raise PeriodRefused(f"{action.value} {period} refused: {problem}")
    event = AccountingPeriodEvent(
        period=period,
        action=action.value,
        actor=actor.strip(),
        second_actor=second.strip() if second else None,
        reason=reason.strip(),
        occurred_at=now,
    )
    session.add(event)
    _audit(session, event, now)
    session.flush()
    return event


def _audit(session: Session, event: AccountingPeriodEvent, now: datetime) -> None:
    closed = event.action == PeriodAction.CLOSE.value
    record_event(
        session,
        "accounting_period_closed" if closed else "accounting_period_reopened",
        entity_type="accounting_period",
        entity_id=event.period,
        now=now,
        actor=event.actor,
        details={"period": event.period, "by": event.actor, "second": event.second_actor, "reason": event.reason},
    )


def period_history(session: Session, period: str) -> list[AccountingPeriodEvent]:
    stmt = select(AccountingPeriodEvent).where(AccountingPeriodEvent.period == period)
    return list(session.scalars(stmt.order_by(AccountingPeriodEvent.id)))
