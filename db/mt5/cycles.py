"""Terminals' sync cycles in the run ledger (job `mt5_sync:<terminal>`): the reads of the
cycle views, the guard's actions in each included (its close intents and close orders are
audited with the cycle, its alerts carry it). Cycles start and end through the one run
lifecycle (db.ledger, tasks.runs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.mt5.accounts import CYCLE_JOB_PREFIX
from db.models import AuditEvent, BatchRun
from db.mt5.guard_models import CloseIntent, DrawdownAlert


def latest_cycles(session: Session, limit: int = 20) -> list[BatchRun]:
    stmt = select(BatchRun).where(BatchRun.job.startswith(CYCLE_JOB_PREFIX)).order_by(BatchRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def guard_actions(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What the drawdown guard did in each of these sync cycles, by cycle: the close intents
    it made (with their status now), the close orders it sent (attempts, resends included)
    and the alerts it raised. Cycles with no action have empty lists and 0."""
    actions: dict[int, dict[str, Any]] = {
        run_id: {"close_intents": [], "closes_sent": 0, "alerts": []} for run_id in run_ids
    }
    made = (
        select(AuditEvent.batch_run_id, CloseIntent)
        .join(CloseIntent, CloseIntent.idempotency_key == AuditEvent.entity_id)
        .where(AuditEvent.event_type == "close_intent_created", AuditEvent.batch_run_id.in_(run_ids))
        .order_by(AuditEvent.id)
    )
    for run_id, intent in session.execute(made):
        _of(actions, run_id)["close_intents"].append({f: getattr(intent, f) for f in INTENT_FIELDS})
    sent = (
        select(AuditEvent.batch_run_id, func.count())
        .where(AuditEvent.event_type == "close_order_sent", AuditEvent.batch_run_id.in_(run_ids))
        .group_by(AuditEvent.batch_run_id)
    )
    for run_id, n in session.execute(sent):
        _of(actions, run_id)["closes_sent"] = int(n)
    alerts = select(DrawdownAlert).where(DrawdownAlert.batch_run_id.in_(run_ids)).order_by(DrawdownAlert.id)
    for alert in session.scalars(alerts):
        _of(actions, alert.batch_run_id)["alerts"].append({f: getattr(alert, f) for f in ALERT_FIELDS})
    return actions


def _of(actions: dict[int, dict[str, Any]], run_id: int | None) -> dict[str, Any]:
    """A cycle's entry (the queries select rows of these cycles only: never None)."""
    if run_id is None:
        raise ValueError("a guard action of no cycle")
    return actions[run_id]


INTENT_FIELDS = ("login", "ticket", "symbol", "kind", "mode", "status")
ALERT_FIELDS = ("login", "alert_type", "action", "episode", "positions_closed")
