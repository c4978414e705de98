"""Dead letters: a message no worker here will ever run is set aside once, for good.

`dead_letter` is the one way, whatever the reason (`foreign_database`, `message_too_large`;
a stray chunk is another): an audit row in this worker's database (`message_dead_lettered`,
the message's task id as its entity), one log line, one alert through the notifier, and the
answer the sender reads in the result backend (a `DeadLettered` failure naming the reason
and its details). The caller then acks the message: it is never redelivered.

`refuse_unread` applies it at once to a message the worker's consumer refused to read (over
HEDGEOPS_MAX_MESSAGE_KB, workers.message_size): its arguments were never decoded, and no
worker would read them. `refuse_foreign` applies it to a message sent for another database
(two environments on one broker and key prefix): given back `foreign_requeues` times, each
with one warning line, for a worker of its own database to take; then dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NoReturn

import structlog
from celery.exceptions import Ignore, Reject

from db.audit import record_event
from tasks.base import FOREIGN_BACKOFF
from tasks.ports import Ports

log = structlog.get_logger(__name__)

#: The audit event and alert kind of every dead letter.
DEAD_LETTERED = "message_dead_lettered"
#: The state Flower shows for a dead-lettered task (its worker sends this event).
DEAD_LETTER_EVENT = "task-dead_lettered"
FOREIGN_DATABASE = "foreign_database"
MESSAGE_TOO_LARGE = "message_too_large"


class DeadLettered(Exception):
    """The answer a dead-lettered task leaves in the result backend: why, and its details
    (for `foreign_database`: `database`, the message's, and `ours`, the worker's)."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, dict(details or {}))
        self.message = message
        self.details = dict(details or {})

    def __str__(self) -> str:
        return self.message


def dead_letter(p: Ports, *, task_id: str, task_name: str, reason: str, message: str, **details: Any) -> DeadLettered:
    """Record, say and alert once that the message of `task_id` is dead-lettered."""
    fields = {"reason": reason, "task_name": task_name, **details}
    with p.uow() as uow:
        record_event(uow.session, DEAD_LETTERED, entity_type="task", entity_id=task_id, now=p.clock(), details=fields)
        uow.commit()
    log.error(DEAD_LETTERED, task_id=task_id, error=message, **fields)
    try:
        p.notifier.notify(DEAD_LETTERED, f"task {task_id} dead-lettered: {message}", {"task_id": task_id, **fields})
    except Exception as exc:  # any notifier's failure: the audit row and the log line stay
        log.warning("dead_letter_alert_failed", task_id=task_id, error=str(exc))
    return DeadLettered(message, {"task_id": task_id, **fields})


def answer_dead(task: Any, letter: DeadLettered) -> NoReturn:
    """Tell the sender (the result backend) and Flower (an event of its own state), then
    ack the message: `Ignore` acks it and stores nothing over the answer."""
    request = task.request
    task.backend.mark_as_failure(request.id, letter, request=request, call_errbacks=False)
    task.send_event(DEAD_LETTER_EVENT, reason=letter.details.get("reason"), error=letter.message)
    raise Ignore(letter.message)


def set_aside(task: Any, p: Ports, reason: str, message: str, **details: Any) -> NoReturn:
    """Dead-letter the running task's message and answer its sender; when the record cannot
    be written, give the message back (after a pause) to be refused again at its next delivery."""
    request = task.request
    try:
        letter = dead_letter(p, task_id=request.id, task_name=task.name, reason=reason, message=message, **details)
    except Exception as exc:  # the record could not be written: give it back, try again next time
        log.warning("dead_letter_not_recorded", task_id=request.id, error=str(exc))
        time.sleep(FOREIGN_BACKOFF)
        raise Reject(message, requeue=True) from None
    answer_dead(task, letter)


def refuse_foreign(task: Any, p: Ports, theirs: str, mine: str) -> None:
    """A message sent for database `theirs` taken by a worker of `mine` is given back,
    then dead-lettered."""
    request = task.request
    seen = p.deliveries.count(f"hedgeops:deliveries:{request.id}")
    if seen <= p.foreign_requeues:
        log.warning("task_of_another_database_refused", database=theirs, ours=mine, delivery=seen)
        time.sleep(FOREIGN_BACKOFF)
        raise Reject(f"message for database {theirs}, this worker serves {mine}", requeue=True)
    message = (
        f"sent for database {theirs}; a worker of database {mine} gave it back {seen - 1} times, "
        "then set it aside: the sender and the workers must share HEDGEOPS_DATABASE_URL "
        "(or use HEDGEOPS_REDIS_KEY_PREFIX apart)"
    )
    set_aside(task, p, FOREIGN_DATABASE, message, database=theirs, ours=mine, deliveries=seen)


def refuse_unread(task: Any, p: Ports, refused: dict[str, Any]) -> NoReturn:
    """A message the consumer did not read (`refused`: its reason, size and limit in bytes)
    is dead-lettered; if that cannot be recorded it is given back (the consumer refuses it
    again at its next delivery)."""
    size, limit = (refused.get(k) if isinstance(refused.get(k), int) else None for k in ("size", "limit"))
    message = (
        f"message of {size} bytes is over the limit of {limit} bytes (HEDGEOPS_MAX_MESSAGE_KB): "
        "the worker set it aside without reading its arguments"
    )
    set_aside(task, p, MESSAGE_TOO_LARGE, message, size=size, limit=limit)
