"""Bounded task messages (HEDGEOPS_MAX_MESSAGE_KB, issue 21 point 2): a message larger than
the limit is refused where any process of the app sends it, and where a worker takes it,
before anything reads its arguments.

A message's size is its body as the broker carries it (the serialized arguments) plus its
headers as JSON, measured the same way on both sides.

Sent: the app's AMQP class wraps Celery's one task sender (`send_task_message`), through
which `apply_async`, `send_task`, `celery call`, beat, Flower's task API and a task's
children all go. A message over the limit raises `MessageTooLarge` and nothing is
published; `hedgeops run` and `celery call` say it in one line, exit 2. (A
`before_task_publish` receiver cannot refuse: Celery logs a receiver's exception and
sends anyway.)

Taken: the worker's consumer (`worker_consumer`) measures each task message as the broker
delivered it, before Celery's handler sees it (Celery's handler decodes the body in the
worker's main process to tell protocols apart). A message over the limit is never decoded:
the consumer keeps its task id and name, replaces its body with empty arguments and marks it
(tasks.base.REFUSED_HEADER), and hands it on; the task dead-letters it before anything else
(tasks.deadletter.refuse_unread: audit row, one log line, an alert, the answer in the result
backend, acked). A message for a task that is not one of ours, or one that names no task id,
is dropped with one error line. The stored message in the broker is untouched: given back,
it is refused again."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import click
import structlog
from celery.app.amqp import AMQP
from celery.worker.consumer import Consumer
from kombu.serialization import dumps
from kombu.utils.objects import cached_property

from core.errors import HedgeopsError
from tasks.base import REFUSED_HEADER, SENT_AT_HEADER, JobTask
from tasks.deadletter import MESSAGE_TOO_LARGE

log = structlog.get_logger(__name__)

#: The app's setting (celery_config) holding the limit in bytes (0: none).
LIMIT_SETTING = "hedgeops_max_message_bytes"
#: The body of a message that is not read: protocol 2, no arguments, no callbacks.
UNREAD_BODY = json.dumps([[], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]).encode()
#: The headers an unread message keeps (each only if short): enough to name it and answer it.
KEPT_HEADERS = ("lang", "task", "id", "root_id", "parent_id", "group", "retries", SENT_AT_HEADER)
#: A kept header longer than this is dropped (a hostile sender's headers are unread too).
SHORT = 255


class MessageTooLarge(HedgeopsError, click.ClickException):
    """A message this process would send is over the limit: nothing was sent. The hedgeops
    CLI reports it as bad input (exit 2); Celery's own CLI (`celery call`), a ClickException,
    prints it as one line, exit 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"hedgeops: {self.format_message()}", file=file, err=True)


def json_size(value: Any) -> int:
    """Bytes of `value` as ASCII-escaped JSON: never less than its UTF-8 JSON."""
    return len(json.dumps(value, default=str))


def message_size(body: bytes | str, headers: Any) -> int:
    """The size of a task message: its body as carried, plus its headers as JSON."""
    carried = len(body.encode("utf-8")) if isinstance(body, str) else len(body or b"")
    return carried + (json_size(headers) if isinstance(headers, Mapping) else 0)


def limit_of(conf: Any) -> int:
    return int(conf.get(LIMIT_SETTING) or 0)


class BoundedAMQP(AMQP):  # type: ignore[misc]  # celery is untyped
    """The app's AMQP: its task sender refuses a message over the limit."""

    @cached_property
    def send_task_message(self) -> Callable[..., Any]:
        send: Callable[..., Any] = self._create_task_sender()
        conf = self.app.conf

        def send_bounded(producer: Any, name: str, message: Any, **options: Any) -> Any:
            limit = limit_of(conf)
            if limit:
                headers, _properties, body, _event = message
                serializer = options.get("serializer") or conf.task_serializer
                _type, _encoding, data = dumps(body, serializer=serializer)  # type: ignore[no-untyped-call]  # kombu
                size = message_size(data, {**headers, **(options.get("headers") or {})})
                if size > limit:
                    raise MessageTooLarge(
                        f"task {name}: its message is {size:,} bytes, over the limit of {limit:,} bytes "
                        f"(HEDGEOPS_MAX_MESSAGE_KB={limit // 1024}); nothing sent"
                    )
            return send(producer, name, message, **options)

        return send_bounded


class BoundedConsumer(Consumer):  # type: ignore[misc]  # celery is untyped
    """The worker's consumer: a task message over the limit is set aside unread."""

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        handle: Callable[[Any], Any] = super().create_task_handler(*args, **kwargs)
        limit = limit_of(self.app.conf)

        def on_task_received(message: Any) -> Any:
            headers = message.headers
            if isinstance(headers, dict):
                headers.pop(REFUSED_HEADER, None)  # only this consumer says it
            if limit:
                size = message_size(message.body, headers)
                if size > limit and not self.unread(message, size, limit):
                    return None
            return handle(message)

        return on_task_received

    def unread(self, message: Any, size: int, limit: int) -> bool:
        """Make `message` one that only dead-letters itself (True), or drop it (False)."""
        headers = message.headers if isinstance(message.headers, Mapping) else {}
        kept = {k: headers[k] for k in KEPT_HEADERS if _short(headers.get(k))}
        task = self.app.tasks.get(kept.get("task"))
        if not isinstance(task, JobTask) or "id" not in kept:
            log.error(
                "message_refused_unread",
                reason=MESSAGE_TOO_LARGE,
                task_name=str(headers.get("task"))[:SHORT],
                task_id=str(headers.get("id"))[:SHORT],
                size=size,
                limit=limit,
            )
            message.reject_log_error(self._logger(), self.connection_errors, requeue=False)
            return False
        kept.update(
            argsrepr=f"<{size} bytes, not read>",
            kwargsrepr="{}",
            **{REFUSED_HEADER: {"reason": MESSAGE_TOO_LARGE, "size": size, "limit": limit}},
        )
        message.headers = kept
        message.body = UNREAD_BODY
        message.content_type, message.content_encoding = "application/json", "utf-8"
        return True

    def _logger(self) -> Any:
        from celery.worker.consumer.consumer import logger

        return logger


def _short(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and len(value) <= SHORT)
