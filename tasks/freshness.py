"""Freshness of the nightly: when the nightly of a date has not succeeded by its deadline
(HEDGEOPS_NIGHTLY_AT + HEDGEOPS_NIGHTLY_DEADLINE_MINUTES), an alert: a log event, a metric
and the notifier (the guard's webhook), once per date. Beat sends the check every few
minutes; an alert the notifier could not deliver is tried again at the next check."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import structlog

from core.calendars import calendar_named
from core.keys import run_lock_key
from core.monitoring import latest_due, nightly_deadline
from core.values import Job, RunStatus
from db import ledger
from db.audit import event_exists, record_event
from tasks import names
from tasks.base import job_task
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)
ALERT_EVENT = "nightly_late_alerted"


@job_task(names.CHECK_NIGHTLY_FRESHNESS, queue=names.QueueName.VALUATION, ignore_result=True)
def check_nightly_freshness(self: Any) -> dict[str, Any]:
    p = ports()
    now = p.clock()
    return check_date(p, latest_due(now, p.nightly_at, p.nightly_deadline, calendar_named(p.nightly_calendar)))


def check_date(p: Ports, day: date) -> dict[str, Any]:
    """Alert once when the nightly of `day` (whose deadline has passed) has not succeeded."""
    lock_name, token = run_lock_key(ALERT_EVENT, day), uuid.uuid4().hex
    if not p.run_lock.acquire(lock_name, token):
        return {"as_of": day.isoformat(), "alert": "another check is at it"}
    try:
        with p.uow() as uow:
            run = ledger.latest_run(uow.session, Job.NIGHTLY, day)
            status = run.status if run is not None else "missing"
            if status == RunStatus.SUCCEEDED.value or event_exists(
                uow.session, ALERT_EVENT, "nightly", day.isoformat()
            ):
                return {"as_of": day.isoformat(), "status": status, "alert": None}
            details = alert_details(p, day, status, run.id if run is not None else None)
            if not _deliver(p, details):
                return {"as_of": day.isoformat(), "status": status, "alert": "undelivered"}
            record_event(
                uow.session,
                ALERT_EVENT,
                entity_type="nightly",
                entity_id=day.isoformat(),
                now=p.clock(),
                batch_run_id=details["batch_run_id"],
                details=details,
            )
            uow.commit()
        p.run_observer.nightly_late(day, status)
        return {"as_of": day.isoformat(), "status": status, "alert": "sent"}
    finally:
        p.run_lock.release(lock_name, token)


def alert_details(p: Ports, day: date, status: str, run_id: int | None) -> dict[str, Any]:
    deadline = nightly_deadline(day, p.nightly_at, p.nightly_deadline)
    return {"as_of": day.isoformat(), "status": status, "batch_run_id": run_id, "deadline": deadline.isoformat()}


def _deliver(p: Ports, details: dict[str, Any]) -> bool:
    message = (
        f"hedgeops: the nightly for {details['as_of']} has not succeeded by {details['deadline']} "
        f"(status: {details['status']})"
    )
    log.error("nightly_late", **details)
    try:
        p.notifier.notify("nightly_late", message, dict(details))
    except Exception as exc:  # any notifier's failure: the next check tries again
        log.error("nightly_late_alert_undelivered", error=str(exc), as_of=details["as_of"])
        return False
    return True
