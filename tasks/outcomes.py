"""How a task that ended a run with a business outcome reports it: not as a failure.

A run that ends `completed_with_exceptions` or `completed_with_conflicts` did its work and
found something a person must look at (a missing price, a refused restatement). Its task
is no traceback FAILURE: Flower shows it in a state of its own, `COMPLETED_WITH_EXCEPTIONS`
or `COMPLETED_WITH_CONFLICTS` (the task's event `task-completed_with_exceptions`: Flower
takes an event type it does not know as the task's state), and the result backend holds
SUCCESS with the task's answer and the runs it ended (`ended_runs`, each with its status),
so `AsyncResult.get()` returns the outcome. A `failed` run stays a FAILURE
(tasks.base.RunNotSucceeded)."""

from __future__ import annotations

from typing import Any

from celery import states
from celery.exceptions import Ignore
from celery.utils.saferepr import saferepr

from core.values import RunStatus

#: Run statuses that are business outcomes: the task is reported in a state of its own.
BUSINESS_OUTCOMES = frozenset({RunStatus.COMPLETED_WITH_EXCEPTIONS.value, RunStatus.COMPLETED_WITH_CONFLICTS.value})


def business_outcome(bad: list[dict[str, Any]]) -> str | None:
    """The outcome to report when every run the task ended that did not succeed has a
    business outcome (conflicts first: a refused restatement outranks a missing price)."""
    statuses = {str(s.get("status")) for s in bad}
    if not bad or not statuses <= BUSINESS_OUTCOMES:
        return None
    return max(statuses, key=lambda s: s == RunStatus.COMPLETED_WITH_CONFLICTS.value)


def report_outcome(task: Any, result: Any, outcome: str, bad: list[dict[str, Any]]) -> None:
    """Store SUCCESS with the answer (unless the task keeps no result), send the event of
    the outcome's state, and end the task with `Ignore`: acked, nothing stored over it,
    no success or failure event after it."""
    answer = {**(result if isinstance(result, dict) else bad[0]), "ended_runs": bad}
    if not task.ignore_result:
        task.backend.mark_as_done(task.request.id, answer, request=task.request, state=states.SUCCESS)
    task.send_event(f"task-{outcome}", result=saferepr(answer, maxlen=1024))
    raise Ignore(f"run {outcome}")
