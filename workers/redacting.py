"""What Celery carries out of a process for other eyes, redacted (core.redaction): the
events Flower and `celery events` show (a task's arguments, its exception and traceback,
its result), the argument reprs a message's headers carry (the worker's `inspect` answers
show them), and what the result backend stores of a task that failed or retried (its
exception, traceback) and of every task (its arguments: `result_extended`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery, states
from celery.app import backends
from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

from core.redaction import redact_text, redact_value


class RedactingEventDispatcher(EventDispatcher):  # type: ignore[misc]
    """Every event (or batch of them) on its way out: `send`, `publish` (a publisher's
    `task-sent`, built from the arguments before any header) and a buffer's flush all
    go through `_publish`."""

    def _publish(self, event: Any, producer: Any, routing_key: str, *args: Any, **kwargs: Any) -> Any:
        return super()._publish(redact_value(event), producer, routing_key, *args, **kwargs)


class RedactingEvents(Events):  # type: ignore[misc]
    dispatcher_cls = f"{__name__}:RedactingEventDispatcher"


class RedactingResults:
    """A result backend mixin: the stored meta of a task, redacted where a secret can be
    (a successful task's result is ours, and read back by the CLI: left as it is)."""

    def _get_result_meta(
        self, result: Any, state: str, traceback: Any, request: Any, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        # The super class is the Celery backend this is mixed into (`redacting`): no type hints.
        meta: dict[str, Any] = super()._get_result_meta(result, state, traceback, request, *args, **kwargs)  # type: ignore[misc]
        if isinstance(meta.get("traceback"), str):
            meta["traceback"] = redact_text(meta["traceback"])
        if state in states.EXCEPTION_STATES and isinstance(meta.get("result"), dict):
            meta["result"] = redact_value(meta["result"])
        for field in ("args", "kwargs"):
            if isinstance(meta.get(field), list | tuple | dict):
                meta[field] = redact_value(meta[field])
        return meta


@cache
def redacting(backend: type) -> type:
    return type(f"Redacting{backend.__name__}", (RedactingResults, backend), {})


class RedactingCelery(Celery):  # type: ignore[misc]
    """The app: its events and its result backend redact."""

    events_cls = f"{RedactingEvents.__module__}:RedactingEvents"

    def _get_backend(self) -> Any:
        backend, url = backends.by_url(self.backend_cls or self.conf.result_backend, self.loader)
        return redacting(backend)(app=self, url=url)


def redact_reprs(headers: dict[str, Any]) -> None:
    """A message's argument reprs (what the worker's events and `inspect` show), redacted."""
    for name in ("argsrepr", "kwargsrepr"):
        if isinstance(headers.get(name), str):
            headers[name] = redact_text(headers[name])
