"""Celery's retry lines aggregated (workers.retry_logs, issue 21 point 9): records made by
Celery's own loggers with Celery's own templates, through a handler with the aggregator;
the clock is the test's. The same on a real worker: tests/faults/test_retry_logs.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery.app.trace import LOG_RECEIVED, LOG_RETRY
from structlog.testing import capture_logs

from workers.retry_logs import RetryLogAggregator

EVERY = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """The records a handler with the aggregator writes."""

    def __init__(self, aggregator: RetryLogAggregator) -> None:
        super().__init__()
        self.written: list[str] = []
        self.addFilter(aggregator)

    def emit(self, record: logging.LogRecord) -> None:
        self.written.append(record.getMessage())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aggregator(clock: Clock) -> Iterator[RetryLogAggregator]:
    made = RetryLogAggregator(EVERY, clock)
    yield made
    made.close()


@pytest.fixture
def lines(aggregator: RetryLogAggregator) -> Iterator[Lines]:
    handler = Lines(aggregator)
    loggers = [logging.getLogger(name) for name in ("celery.app.trace", "celery.worker.strategy")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    yield handler
    for lg, (level, propagate) in zip(loggers, saved, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)
        lg.propagate = propagate


def retry(task_id: str, name: str = "hedgeops.valuation.compute_mtm_chunk", error: str = "OperationalError(x)") -> None:
    logging.getLogger("celery.app.trace").info(LOG_RETRY, {"id": task_id, "name": name, "exc": error})


def received(task_id: str, name: str = "hedgeops.valuation.compute_mtm_chunk") -> None:
    context = {"id": task_id, "name": name, "args": "()", "kwargs": "{}", "eta": None}
    logging.getLogger("celery.worker.strategy").info(LOG_RECEIVED, context, extra={"data": context})


def summaries(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: e[k] for k in ("retries", "received_again", "tasks", "last_error", "seconds")}
        for e in logs
        if e["event"] == "task_retries_summarized"
    ]


class TestAWindow:
    def test_the_first_retry_is_written_the_next_ones_counted(
        self, lines: Lines, aggregator: RetryLogAggregator, clock: Clock
    ) -> None:
        with capture_logs() as logs:
            for n in range(6):
                retry(f"t{n}", error=f"OperationalError({n})")
                clock.now += 1
        assert [line.split("]")[0] for line in lines.written] == ["Task hedgeops.valuation.compute_mtm_chunk[t0"]
        assert summaries(logs) == []  # the window is open
        with capture_logs() as logs:
            clock.now = 1000.0 + EVERY
            aggregator.flush()  # the window's timer
        assert summaries(logs) == [
            {
                "retries": 5,
                "received_again": 0,
                "tasks": {"hedgeops.valuation.compute_mtm_chunk": 5},
                "last_error": "OperationalError(5)",
                "seconds": EVERY,
            }
        ]

    def test_a_retry_after_the_window_says_it_and_is_counted_in_the_next(
        self, lines: Lines, aggregator: RetryLogAggregator, clock: Clock
    ) -> None:
        with capture_logs() as logs:
            retry("a")
            retry("b", name="hedgeops.prices.fetch_settlement_prices")
            clock.now += EVERY + 1
            retry("c")  # the timer has not fired yet
            clock.now += EVERY
            aggregator.flush()
        assert len(lines.written) == 1
        assert [(s["retries"], s["tasks"]) for s in summaries(logs)] == [
            (1, {"hedgeops.prices.fetch_settlement_prices": 1}),
            (1, {"hedgeops.valuation.compute_mtm_chunk": 1}),
        ]

    def test_a_quiet_window_closes_and_the_next_retry_is_written(
        self, lines: Lines, aggregator: RetryLogAggregator, clock: Clock
    ) -> None:
        with capture_logs() as logs:
            retry("a")
            retry("b")
            clock.now += EVERY
            aggregator.flush()  # says b
            clock.now += EVERY
            aggregator.flush()  # nothing counted: quiet
            clock.now += 3600
            retry("c")
        assert [line.split("[")[1].split("]")[0] for line in lines.written] == ["a", "c"]
        assert [s["retries"] for s in summaries(logs)] == [1]


class TestReceipts:
    def test_a_message_received_again_is_counted_a_new_one_written(
        self, lines: Lines, aggregator: RetryLogAggregator, clock: Clock
    ) -> None:
        with capture_logs() as logs:
            for task_id in ("a", "b", "a", "b", "c", "a"):
                received(task_id)
            clock.now += EVERY
            aggregator.flush()
        # New messages are written; the first receipt again after a quiet period too, then counted.
        assert [line.split("[")[1].split("]")[0] for line in lines.written] == ["a", "b", "a", "c"]
        assert [(s["retries"], s["received_again"]) for s in summaries(logs)] == [(0, 2)]


def test_other_lines_pass(lines: Lines, aggregator: RetryLogAggregator) -> None:
    for n in range(5):
        logging.getLogger("celery.app.trace").info("Task %s[%s] succeeded", "x", n)
    assert len(lines.written) == 5
