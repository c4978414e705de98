"""Retry lines aggregated (HEDGEOPS_RETRY_LOG_EVERY, issue 21 point 9): during an outage
every task retries with back-off, and Celery logs two INFO lines per retry, `Task ...
retry: ...` in the pool process and `Task ... received` again in the worker's main process
(a database stopped for 30 s gave 588 of them).

A filter on the log handler of each process (workers.logging): the first such line after a
quiet period goes through as Celery wrote it (its error in full); the next ones within
`every` seconds are counted, not written; at the end of each window with any counted, one
line `task_retries_summarized` says how many (`retries`, `received_again`), of which tasks,
the last error and over how many seconds. A window with nothing counted closes: the next
retry goes through again. The worker's shutdown flushes what is counted (`flush`)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import structlog

#: Task ids whose receipt a main process remembers (a retried message keeps its id).
REMEMBERED = 10_000
RETRY, RECEIVED_AGAIN = "retries", "received_again"


class RetryLogAggregator(logging.Filter):
    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every, self.clock = every, clock
        self._lock = threading.Lock()
        self._received: OrderedDict[str, None] = OrderedDict()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a pool process counts its own

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._opened: float | None = None  # when the current window opened (None: quiet)
        self._counts: Counter[str] = Counter()
        self._tasks: Counter[str] = Counter()
        self._last_error: str | None = None
        self._timer: threading.Timer | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        kind, fields = self._kind(record)
        if kind is None:
            return True
        with self._lock:
            now = self.clock()
            due = self._opened is not None and now - self._opened >= self.every
            summary = self._take(now) if due else None
            if due and self._timer is not None:  # its window is over: the next is armed afresh
                self._timer.cancel()
                self._timer = None
            if self._opened is None or (due and summary is None):
                self._opened = now  # a quiet period ends: this line goes through
                passed = True
            else:
                self._count(kind, fields)
                self._arm()
                passed = False
        _say(summary)
        return passed

    def flush(self) -> None:
        """Say what is counted now (the window's end, or the process's)."""
        with self._lock:
            summary = self._take(self.clock())
            if summary is None:
                self._opened = None  # nothing counted in a whole window: quiet again
            self._timer = None
            if summary is not None:
                self._arm()
        _say(summary)

    def close(self) -> None:
        """Stop the window's timer (what is counted stays unsaid)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None

    def _kind(self, record: logging.LogRecord) -> tuple[str | None, dict[str, Any]]:
        from celery.app.trace import LOG_RECEIVED, LOG_RETRY

        fields = record.args if isinstance(record.args, dict) else {}
        if record.msg == LOG_RETRY and record.name == "celery.app.trace":
            return RETRY, fields
        if record.msg == LOG_RECEIVED and record.name == "celery.worker.strategy":
            task_id = str(fields.get("id"))
            with self._lock:
                again = task_id in self._received
                self._received[task_id] = None
                self._received.move_to_end(task_id)
                while len(self._received) > REMEMBERED:
                    self._received.popitem(last=False)
            return (RECEIVED_AGAIN if again else None), fields
        return None, fields

    def _count(self, kind: str, fields: dict[str, Any]) -> None:
        self._counts[kind] += 1
        self._tasks[str(fields.get("name"))] += 1
        if kind == RETRY:
            self._last_error = str(fields.get("exc"))[:500]

    def _arm(self) -> None:
        if self._timer is None and self._opened is not None:
            delay = max(0.0, self._opened + self.every - self.clock())
            self._timer = threading.Timer(delay, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def _take(self, now: float) -> dict[str, Any] | None:
        """The window's summary (None: nothing counted), and a new window from `now`."""
        if not self._counts:
            return None
        summary = {
            RETRY: self._counts[RETRY],
            RECEIVED_AGAIN: self._counts[RECEIVED_AGAIN],
            "tasks": dict(self._tasks),
            "last_error": self._last_error,
            "seconds": round(now - (self._opened or now), 1),
        }
        self._counts, self._tasks, self._last_error, self._opened = Counter(), Counter(), None, now
        return summary


def _say(summary: dict[str, Any] | None) -> None:
    if summary is not None:
        structlog.get_logger(__name__).warning("task_retries_summarized", **summary)
