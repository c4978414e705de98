"""Sending a job's task and following it: what `run`, `run mt5-sync` and `backfill` share.

Before anything is sent the database has answered (`start`); distributed, the broker must
answer too, and with `--wait` a worker must consume the task's queue (else nothing is
sent: waiting on nobody is a silent hour). The task id is said at once. The trigger
task's answer is polled (AsyncResult.get() subscribes and leaves the subscription to be
torn down noisily at exit, celery#6512), then the run is followed in the ledger."""

from __future__ import annotations

import time
from typing import Any

import celery.exceptions
import kombu.exceptions
import redis.exceptions

from core.errors import HedgeopsError
from core.values import RunStatus
from workers.cli.common import EXIT_BAD_INPUT, EXIT_RUNNING, EXIT_UNREACHABLE, err
from workers.logging import redact_text
from workers.settings import Settings

BROKER_ERRORS = (OSError, kombu.exceptions.OperationalError, redis.exceptions.RedisError)


class Outcome(Exception):
    """An end of a trigger other than its run's summary: one line, an exit code, and the
    fields of its JSON object (`status` is `error` unless said)."""

    def __init__(self, message: str, code: int, **fields: Any) -> None:
        super().__init__(message)
        self.message, self.code, self.fields = message, code, {"status": "error", **fields}

    def as_json(self, **identity: Any) -> dict[str, Any]:
        return {**identity, "batch_run_id": None, **self.fields, "error": self.message}


def check_broker(settings: Settings) -> None:
    """The broker and the result backend answer a PING."""
    from workers.bootstrap import redis_client

    for url in {u for u in (settings.broker_url, settings.result_backend) if u}:
        try:
            client = redis_client(url, settings.model_copy(update={"redis_socket_timeout": 3.0}))
            client.ping()
            client.close()
        except redis.exceptions.RedisError as exc:
            raise Outcome(
                f"cannot reach the broker or result backend {redact_text(url)}: "
                f"{redact_text(str(exc).strip())}; nothing sent",
                EXIT_UNREACHABLE,
            ) from None


def check_consumers(queues: set[str]) -> None:
    """Some worker consumes each of `queues` (asked with `inspect active_queues`)."""
    from celery import current_app

    try:
        answers = current_app.control.inspect(timeout=2.0).active_queues() or {}
    except BROKER_ERRORS as exc:
        raise Outcome(f"cannot ask the workers: {redact_text(str(exc))}; nothing sent", EXIT_UNREACHABLE) from None
    consumed = {q.get("name") for queues_of_node in answers.values() for q in queues_of_node or []}
    missing = sorted(queues - consumed)
    if missing:
        raise Outcome(
            f"no worker consumes queue {', '.join(missing)} ({len(answers)} worker(s) answered): "
            "start one (README: Running distributed by hand); nothing sent",
            EXIT_RUNNING,
            status="no_worker",
        )


def send(
    settings: Settings, task: str, kwargs: dict[str, Any], *, queues: set[str], wait: bool, quiet: bool = False
) -> Any:
    """Check, then send the task; say its id (distributed)."""
    from celery import signature

    if settings.distributed:
        check_broker(settings)
        if wait:
            check_consumers(queues)
    try:
        result = signature(task, kwargs=kwargs).apply_async()
    except (ValueError, HedgeopsError) as exc:
        raise Outcome(str(exc), EXIT_BAD_INPUT) from None
    except BROKER_ERRORS as exc:
        raise Outcome(
            f"cannot reach the broker {redact_text(settings.broker_url or '')}: {redact_text(str(exc).strip())}",
            EXIT_UNREACHABLE,
        ) from None
    if settings.distributed and not quiet:
        err.print(
            f"hedgeops: sent {task} as task {result.id}{'; waiting' if wait else ''}", markup=False, highlight=False
        )
    return result


def answer(result: Any, timeout: float, *, what: str) -> dict[str, Any]:
    """The trigger task's answer (its run's summary), polled. The exceptions an answer may
    hold are imported first: the backend rebuilds only those of modules already loaded."""
    import tasks.deadletter  # noqa: F401 - DeadLettered, rebuilt from the backend

    deadline = time.monotonic() + timeout
    try:
        while not result.ready():
            if time.monotonic() > deadline:
                raise Outcome(
                    f"no worker answered task {result.id} within {timeout:g}s: is a worker consuming {what}?",
                    EXIT_RUNNING,
                    status="queued",
                    task_id=result.id,
                )
            time.sleep(0.2)
        if result.failed():
            raise_failure(result)
        return dict(result.result)
    except BROKER_ERRORS as exc:
        raise Outcome(
            f"lost the result backend: {redact_text(str(exc))}", EXIT_UNREACHABLE, task_id=result.id
        ) from None
    except celery.exceptions.CeleryError as exc:
        raise Outcome(f"task {result.id}: {redact_text(str(exc))}", EXIT_UNREACHABLE, task_id=result.id) from None


def raise_failure(result: Any) -> None:
    """A failed trigger task: its run did not succeed (the run is followed as any other),
    or it was refused."""
    from tasks.base import RunNotSucceeded
    from tasks.deadletter import DeadLettered

    exc = result.result
    if isinstance(exc, RunNotSucceeded) and exc.summary.get("batch_run_id") is not None:
        raise _Ended(exc.summary)
    if isinstance(exc, DeadLettered):
        raise dead_lettered(result.id, exc)
    raise Outcome(
        f"task {result.id} failed: {redact_text(str(exc))}",
        EXIT_BAD_INPUT if isinstance(exc, ValueError) else 1,
        task_id=result.id,
    )


def dead_lettered(task_id: str, letter: Any) -> Outcome:
    """A worker set the task's message aside (tasks.deadletter): for which database it was."""
    from tasks.base import DATABASE

    details = letter.details
    if details.get("reason") != "foreign_database":
        return Outcome(f"task {task_id} was dead-lettered: {letter}", 1, status="dead_lettered", task_id=task_id)
    theirs, ours = details.get("database"), details.get("ours")
    mine = " (this CLI's HEDGEOPS_DATABASE_URL)" if theirs == DATABASE["fingerprint"] else ""
    return Outcome(
        f"task {task_id} was dead-lettered: it was for database {theirs}{mine}, but the worker that took it "
        f"serves database {ours}; give the workers and this CLI the same HEDGEOPS_DATABASE_URL "
        "(or separate environments with HEDGEOPS_REDIS_KEY_PREFIX)",
        EXIT_BAD_INPUT,
        status="dead_lettered",
        task_id=task_id,
        database=theirs,
        worker_database=ours,
    )


class _Ended(Exception):
    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__(summary)
        self.summary = summary


def started_run(result: Any, timeout: float, *, what: str) -> dict[str, Any]:
    try:
        return answer(result, timeout, what=what)
    except _Ended as ended:
        return ended.summary


def follow(run_id: int, timeout: float, *, quiet: bool, task_id: str | None = None) -> dict[str, Any]:
    """Poll the ledger until the run ends, or `timeout` passes (then it is still running)."""
    from db import ledger
    from tasks.ports import ports
    from tasks.summary import run_summary

    deadline = time.monotonic() + timeout
    with err.status("waiting for the run to end", spinner="dots") if not quiet else _Nothing():
        while True:
            with ports().uow() as uow:
                summary = run_summary(ledger.get_run(uow.session, run_id))
            if summary["status"] != RunStatus.RUNNING.value:
                return summary
            if time.monotonic() > deadline:
                return {**summary, "task_id": task_id, "note": f"still running after waiting {timeout:g}s"}
            time.sleep(0.5)


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None
