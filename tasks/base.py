"""The shared task base: explicit names and queues, late acks, the retry policy as one
value given to the decorator, the routes decided in one place, and log context bound for
every line of a task from its arguments, restored when it ends.

The model is Sentry's `instrumented_task(name, queue, retry=retry(on=..., exclude=...))`:
a task declares what it is and how it is retried; its body is one call."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
import structlog
from celery import Task, shared_task
from celery.exceptions import Retry as CeleryRetry

from tasks.names import QueueName
from tasks.outcomes import business_outcome, report_outcome

log = structlog.get_logger(__name__)

#: Errors worth another try: the database or the broker went away or was busy, or Redis
#: refused a write for memory (noeviction at maxmemory: it takes writes again once freed).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """An error a task retries: transient, or an error that says it is worth retrying.
    A SystemExit too (Celery's WorkerTerminate and WorkerShutdown are ones): the worker
    stops the task, e.g. cancelled on a lost broker connection; its unacked message comes
    back, so the run must stay running for it; and an error raised while that SystemExit
    unwound (a cleanup it cut short: the psycopg dialect's ping, interrupted, resets
    `autocommit` on a connection still busy and raises ProgrammingError in its place; fault
    scenario 23 met it). A KeyboardInterrupt is not."""
    return (
        isinstance(exc, (*TRANSIENT_ERRORS, SystemExit))
        or bool(getattr(exc, "retryable", False))
        or _exit_behind(exc) is not None
    )


def _exit_behind(exc: BaseException) -> SystemExit | None:
    """The SystemExit among the errors `exc` was raised while handling (a bounded walk), or
    None. JobTask raises it again in the error's place, so the worker's stop of the task
    (a SIGTERM on a lost broker connection) stops it, as it would have without the cleanup."""
    seen = exc.__context__
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, SystemExit):
            return seen
        seen = seen.__context__
    return None


@dataclass(frozen=True, slots=True)
class Retry:
    """A task's retry policy: retried on `on` (but never on `exclude`), with exponential
    back-off `backoff`, 2x, 4x ... seconds, capped at `backoff_max`, full jitter, at most
    `max_retries` times. In-process (embedded mode) the same: with no broker to hold the
    retry, the process waits out each back-off itself (JobTask.retry), then runs the task
    again (Celery's eager apply)."""

    on: tuple[type[BaseException], ...] = TRANSIENT_ERRORS
    exclude: tuple[type[BaseException], ...] = ()
    max_retries: int = 8
    backoff: int = 2
    backoff_max: int = 300
    jitter: bool = True

    def options(self) -> dict[str, Any]:
        return {
            "autoretry_for": self.on,
            "dont_autoretry_for": self.exclude,
            "max_retries": self.max_retries,
            "retry_backoff": self.backoff,
            "retry_backoff_max": self.backoff_max,
            "retry_jitter": self.jitter,
        }


#: The policy of every task that names no other.
TRANSIENT_RETRY = Retry()

#: A queue, or the rule that picks one from a task's keyword arguments (None: no opinion).
QueueRule = Callable[[Mapping[str, Any]], str | None]
#: Task name -> its queue or queue rule, filled by `job_task`; `route_task` reads it.
ROUTES: dict[str, QueueName | QueueRule] = {}

#: Task arguments bound to every log line of the task, under these names.
CONTEXT_ARGUMENTS = {
    "run_id": "batch_run_id",
    "batch_run_id": "batch_run_id",
    "parent_run_id": "parent_run_id",
    "chunk_no": "chunk_no",
    "as_of": "as_of",
    "terminal": "terminal",
    "login": "login",
}


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> dict[str, str] | None:
    """The one router of the Celery app (`task_routes`): a task's declared queue, or the
    queue its rule picks from its arguments. An explicit `queue=` option still wins."""
    rule = ROUTES.get(name)
    if rule is None:
        return None
    queue = rule if isinstance(rule, str) else rule(kwargs if isinstance(kwargs, Mapping) else {})
    return {"queue": queue} if queue else None


def root_context(request: Any) -> dict[str, Any]:
    """The task that started the chain this task belongs to (Celery keeps it in every
    message a task sends): every line of a step names its root."""
    root = getattr(request, "root_id", None) or getattr(request, "id", None)
    return {"root_task_id": root} if root else {}


def log_context(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a task's arguments that go on its log lines."""
    return {field: kwargs[arg] for arg, field in CONTEXT_ARGUMENTS.items() if kwargs.get(arg) is not None}


class RunNotSucceeded(Exception):
    """A worker task ended a run that failed: the task fails with it, so Flower and the
    result backend show the run as a task that did not succeed (a business outcome,
    `completed_with_exceptions` or `_conflicts`, is no failure: tasks.outcomes). Its run
    is already ended in the ledger (the truth); this is the task's report of it."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message, summary)
        self.message = message
        self.summary = dict(summary or {})

    def __str__(self) -> str:
        return self.message


#: The summaries of the runs the current task ended (None: outside a task).
_ENDED: ContextVar[list[dict[str, Any]] | None] = ContextVar("hedgeops_ended_runs", default=None)


def note_ended(summary: dict[str, Any]) -> None:
    """The run lifecycle tells the task it ended a run (after its commit)."""
    ended = _ENDED.get()
    if ended is not None:
        ended.append(summary)


def not_succeeded(ended: list[dict[str, Any]]) -> RunNotSucceeded | None:
    bad = [s for s in ended if s.get("status") != "succeeded"]
    if not bad:
        return None
    text = "; ".join(
        f"{s['job']} {s['as_of']} (batch run {s['batch_run_id']}) {s['status']}"
        + (f": {s['error']}" if s.get("error") else "")
        for s in bad
    )
    return RunNotSucceeded(f"run did not succeed: {text}"[:2000], bad[0])


#: Message headers every publisher of the app adds (workers.celery_app): when the message
#: was sent (UTC ISO) and the fingerprint of the sender's database.
SENT_AT_HEADER = "hedgeops_sent_at"
DATABASE_HEADER = "hedgeops_database"
#: When the current task's message was sent (None: in-process, or a message without it).
_SENT_AT: ContextVar[datetime | None] = ContextVar("hedgeops_sent_at", default=None)
#: The fingerprint of this process's database (set by the bootstrap; None: accept all).
DATABASE: dict[str, str | None] = {"fingerprint": None}
#: Seconds a worker waits before it gives back a message of another database (tasks.deadletter).
FOREIGN_BACKOFF = 1.0
#: Set by a worker's consumer (workers.message_size) on a message it did not read (its
#: arguments over HEDGEOPS_MAX_MESSAGE_KB): why and its figures, `{"reason", "size",
#: "limit"}`. The task dead-letters it before anything else; the header is stripped from
#: every message the consumer does read, so no sender can set it.
REFUSED_HEADER = "hedgeops_refused"


def sent_at() -> datetime | None:
    """When the message of the running task was sent: a trigger that waited in the queue
    behind a run of its job and date reports that run (tasks.runs.begin)."""
    return _SENT_AT.get()


def _message_sent_at(request: Any) -> datetime | None:
    raw = getattr(request, SENT_AT_HEADER, None)
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def refused_unread(request: Any) -> dict[str, Any] | None:
    """What the worker's consumer said of a message it refused to read (None: it read it)."""
    refused = getattr(request, REFUSED_HEADER, None)
    return refused if isinstance(refused, dict) and not request.is_eager else None


def foreign_database(request: Any) -> tuple[str, str] | None:
    """(the message's database, ours) when a worker took a message sent for another
    database (two environments on one broker and key prefix); None otherwise."""
    theirs, mine = getattr(request, DATABASE_HEADER, None), DATABASE["fingerprint"]
    if isinstance(theirs, str) and mine is not None and theirs != mine and not request.is_eager:
        return theirs, mine
    return None


class JobTask(Task):  # type: ignore[misc]
    """Binds task id, name and the context of its arguments to every log line of the task,
    and restores the context it found when the task ends (eager or not): nothing a task
    binds reaches the next task of the process, and an in-process child task leaves its
    parent's context as it was."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if (refused := refused_unread(self.request)) is not None:
            from tasks.deadletter import refuse_unread  # it builds on this module
            from tasks.ports import ports

            refuse_unread(self, ports(), refused)  # never returns: the message is dead-lettered
        if (foreign := foreign_database(self.request)) is not None:
            from tasks.deadletter import refuse_foreign  # it builds on this module
            from tasks.ports import ports

            refuse_foreign(self, ports(), *foreign)  # the task's own entry looks the bundle up
        if not self.request.is_eager and self.takes_chunks:
            from tasks.plan_check import refuse_unplanned  # it builds on this module
            from tasks.ports import ports

            refuse_unplanned(self, ports(), args, kwargs)  # the task's own entry looks the bundle up
        saved = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(
            task_id=self.request.id, task_name=self.name, **root_context(self.request), **log_context(kwargs)
        )
        token, sent = _ENDED.set([]), _SENT_AT.set(_message_sent_at(self.request))
        try:
            if self.request.is_eager:
                result = self._eager_with_retries(*args, **kwargs)
            else:
                result = super().__call__(*args, **kwargs)
            ended = _ENDED.get() or []
        except Exception as exc:
            if (stop := _exit_behind(exc)) is not None:
                raise stop from None  # the worker's stop of this task, not the error its cleanup raised
            raise
        finally:
            _ENDED.reset(token)
            _SENT_AT.reset(sent)
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**saved)
        if self.request.is_eager:
            return result
        bad = [s for s in ended if s.get("status") != "succeeded"]
        if (outcome := business_outcome(bad)) is not None:
            report_outcome(self, result, outcome, bad)  # not a failure: a state of its own
        failure = not_succeeded(ended)
        if failure is not None:
            raise failure
        return result

    def _eager_with_retries(self, *args: Any, **kwargs: Any) -> Any:
        """In-process (eager) there is no broker to hold a retry, and Celery's eager apply
        propagates the Retry as an error: this process waits out each back-off itself and
        runs the task again, as a worker's retries would (one line each). Once the retries
        are spent, `Task.retry` raises the error itself: the failure is final."""
        while True:
            try:
                return super().__call__(*args, **kwargs)
            except CeleryRetry as retry:
                wait = float(retry.when) if isinstance(retry.when, int | float) else 0.0
                self.request.retries += 1
                log.warning(
                    "transient_error_retrying",
                    error=type(retry.exc).__name__ if retry.exc is not None else None,
                    attempt=self.request.retries,
                    of=self.max_retries,
                    in_seconds=round(wait, 1),
                )
                time.sleep(wait)

    @property
    def takes_chunks(self) -> bool:
        """A chunk of a fanned-out run (it takes `run_id` and `chunk_no`): its messages are
        checked against the run's plan before they run (tasks.plan_check)."""
        found = self.__dict__.get("_takes_chunks")
        if found is None:
            parameters = inspect.signature(self.run).parameters
            found = self.__dict__["_takes_chunks"] = "run_id" in parameters and "chunk_no" in parameters
        return bool(found)

    @property
    def last_attempt(self) -> bool:
        """No retry follows a failure of this attempt."""
        return bool(self.request.is_eager) or self.request.retries >= self.max_retries

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """The task gave up (retries spent on a transient error): its run ends `failed`
        instead of waiting to be found abandoned."""
        from tasks.ports import ports
        from tasks.runs import fail_runs_of_task  # runs builds on this module

        fail_runs_of_task(ports(), task_id, exc)  # the task's own hook: an entry of it


def job_task(
    name: str,
    queue: QueueName | QueueRule,
    *,
    retry: Retry = TRANSIENT_RETRY,
    base: type[JobTask] = JobTask,
    **options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task: its name, its queue (or the rule that picks one), its retry policy.
    Late acks and re-queueing when a worker dies are every task's."""
    ROUTES[name] = queue
    settings: dict[str, Any] = {
        "name": name,
        "bind": True,
        "base": base,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "throws": (RunNotSucceeded,),
        **retry.options(),
        **options,
    }
    decorator: Callable[[Callable[..., Any]], Any] = shared_task(**settings)
    return decorator
