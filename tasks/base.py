"""The shared task base: explicit names and queues, late acks, one retry policy for
transient database and broker errors, and log context bound for every line of a task."""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc
import structlog
from celery import Task, shared_task

#: Errors worth another try: the database or the broker went away or was busy.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)

#: Task name -> queue, filled by `job_task`; the Celery app routes with it.
ROUTES: dict[str, dict[str, str]] = {}


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Allocating hundreds of thousands of rows at once (an ECB history, a big price file)
    makes the cyclic garbage collector scan them again and again: half the time of a parse.
    Our rows hold no cycles; pause the collector for the bulk work, then collect once."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


class JobTask(Task):  # type: ignore[misc]
    """Binds task id and name to every log line of the task (restored after it, so an
    in-process child task does not wipe its parent's context)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with structlog.contextvars.bound_contextvars(task_id=self.request.id, task_name=self.name):
            return super().__call__(*args, **kwargs)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """The task gave up (retries spent on a transient error): its run ends `failed`
        instead of waiting to be found abandoned."""
        from tasks.runs import fail_runs_of_task  # runs builds on this module

        fail_runs_of_task(task_id, exc)


def job_task(name: str, queue: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task: the retry policy lives here, never in a task body."""
    ROUTES[name] = {"queue": queue}
    settings: dict[str, Any] = {
        "name": name,
        "bind": True,
        "base": JobTask,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": TRANSIENT_ERRORS,
        "retry_backoff": 2,
        "retry_backoff_max": 300,
        "retry_jitter": True,
        "max_retries": 8,
    }
    settings.update(options)
    decorator: Callable[[Callable[..., Any]], Any] = shared_task(**settings)
    return decorator
