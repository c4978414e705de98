"""Idempotency keys: the one place they are built. Readable and deterministic."""
from __future__ import annotations

from datetime import date

from core.values import ExceptionReason, ObjectType


def mtm_snapshot_key(object_type: ObjectType, object_id: int, as_of: date) -> str:
    return f"MTM:{object_type.value}:{object_id}:{as_of.isoformat()}"


def mtm_exception_key(
    object_type: ObjectType, object_id: int, as_of: date, reason: ExceptionReason
) -> str:
    return f"MTMX:{object_type.value}:{object_id}:{as_of.isoformat()}:{reason.value}"


def price_key(symbol: str, price_date: date, source: str) -> str:
    return f"PRICE:{symbol}:{price_date.isoformat()}:{source}"


def run_lock_key(job: str, as_of: date) -> str:
    """The name of the lock that keeps one (job, as_of_date) from running twice at once."""
    return f"hedgeops:lock:{job}:{as_of.isoformat()}"
