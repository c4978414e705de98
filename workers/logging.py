"""Logging, configured once per process: structlog for our events, stdlib (Celery,
SQLAlchemy) through the same processors; JSON unless on a TTY; secrets redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from core.redaction import REDACTED, SECRET_KEYS, redact_text, redact_value
from workers.retry_logs import RetryLogAggregator

__all__ = ["REDACTED", "configure_logging", "redact_secrets", "redact_text"]

_configured = False


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: secret-named fields and passwords inside URLs never reach a log."""
    for key in list(event):
        if SECRET_KEYS.search(key):
            event[key] = REDACTED
        else:
            event[key] = redact_value(event[key])
    return event


def _renderer(fmt: str) -> Any:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    return structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)


class _NoTracebackOfKnownCauses(logging.Filter):
    """Celery logs a task that rejects or ignores its message (a message given back, or
    dead-lettered: tasks.deadletter) with the traceback of the `Reject`: a decision, not
    an error. It logs a write Redis refused for memory (a task cancelled on the consumer's
    restart whose state could not be stored, a result not stored) with its traceback too:
    a known state of the broker, said once by `broker_memory_full`
    (workers.broker_memory). Their lines stay, with the error's text; the tracebacks go."""

    def filter(self, record: logging.LogRecord) -> bool:
        from celery.exceptions import Ignore, Reject

        from workers.broker_memory import refused_for_memory

        exc = record.exc_info[1] if record.exc_info else None
        refused = refused_for_memory(exc)
        if isinstance(exc, (Reject, Ignore)) or refused:
            if refused and isinstance(record.msg, str):
                said = f" ({type(exc).__name__}: {exc})"
                record.msg += said.replace("%", "%%") if record.args else said
            record.exc_info, record.exc_text = None, None
        return True


#: This process's aggregator of Celery's retry lines (workers.retry_logs; None: every line written).
RETRY_LOGS: dict[str, RetryLogAggregator | None] = {"filter": None}


def flush_retry_logs(*_: Any, **__: Any) -> None:
    """Say the retries counted and not yet said (a worker's or pool process's shutdown)."""
    if (aggregator := RETRY_LOGS["filter"]) is not None:
        aggregator.flush()


def configure_logging(
    level: str = "INFO", fmt: str = "auto", *, retry_log_every: float = 0.0, force: bool = False
) -> None:
    global _configured
    if _configured and not force:
        return
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=False,  # True would hide events from structlog.testing.capture_logs
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_NoTracebackOfKnownCauses())
    RETRY_LOGS["filter"] = RetryLogAggregator(retry_log_every) if retry_log_every > 0 else None
    if RETRY_LOGS["filter"] is not None:
        handler.addFilter(RETRY_LOGS["filter"])
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(fmt)],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _configured = True
