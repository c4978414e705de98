"""Audit events: one row per mutation, appended, never changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.canonical import canonical
from core.redaction import redact_value
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
    session.add(AuditEvent(**_row(event_type, entity_type, entity_id, details or {}, now, batch_run_id, actor)))


def record_events(
    session: Session,
    event_type: str,
    *,
    entity_type: str,
    events: Sequence[tuple[str | int, dict[str, Any]]],
    now: datetime,
    batch_run_id: int | None = None,
    actor: str = "hedgeops",
) -> None:
    """Many events of one type, each (entity id, details): the rows `record_event` makes,
    in one executemany (no ORM object per row, no flush: a first cycle audits every
    account's first guard state)."""
    if not events:
        return
    rows = [
        _row(event_type, entity_type, entity_id, details, now, batch_run_id, actor) for entity_id, details in events
    ]
    # An executemany (psycopg sends the rows in one pipeline), without RETURNING: with it
    # SQLAlchemy would make one statement of every row, which psycopg parses anew each time.
    session.connection().execute(insert(AuditEvent), rows)


def _row(
    event_type: str,
    entity_type: str,
    entity_id: str | int,
    details: dict[str, Any],
    now: datetime,
    batch_run_id: int | None,
    actor: str,
) -> dict[str, Any]:
    """An audit row's columns: its details redacted and canonical."""
    return {
        "event_type": event_type,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "batch_run_id": batch_run_id,
        "actor": actor,
        "details": canonical(redact_value(details)),
        "occurred_at": now,
    }


def event_exists(session: Session, event_type: str, entity_type: str, entity_id: str | int) -> bool:
    """Whether an event of this type was recorded for this entity (an alert sent once)."""
    stmt = (
        select(AuditEvent.id)
        .where(
            AuditEvent.event_type == event_type,
            AuditEvent.entity_type == entity_type,
            AuditEvent.entity_id == str(entity_id),
        )
        .limit(1)
    )
    return session.scalars(stmt).first() is not None
