"""Audit events: one row per mutation, appended, never changed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.canonical import canonical
from db.models import AuditEvent


def record_event(
    session: Session,
    event_type: str,
    *,
    entity_type: str,
    entity_id: str | int,
    now: datetime,
    details: dict[str, Any] | None = None,
    batch_run_id: int | None = None,
    actor: str = "hedgeops",
) -> None:
    session.add(AuditEvent(
        event_type=event_type, entity_type=entity_type, entity_id=str(entity_id),
        batch_run_id=batch_run_id, actor=actor, details=canonical(details or {}), occurred_at=now,
    ))
