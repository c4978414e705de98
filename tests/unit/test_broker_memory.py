"""A write Redis refuses for memory: told apart from other errors (raw, or as kombu raises
it), waited out with back-off before the consumer takes a message, transient for tasks,
and logged without its traceback (workers.broker_memory, workers.logging)."""

from __future__ import annotations

import logging
import sys

import kombu.exceptions
import pytest
import redis.exceptions
from structlog.testing import capture_logs

from tasks.base import is_transient
from workers.broker_memory import PROBE_KEY, Backoff, refused_for_memory, wait_until_writable
from workers.logging import _NoTracebackOfKnownCauses

OOM = "command not allowed when used memory > 'maxmemory'."


def wrapped(cause: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised from `cause`, as kombu raises a publish's error."""
    try:
        try:
            raise cause
        except BaseException as exc:
            raise outer from exc
    except BaseException as raised:
        return raised


class FullRedis:
    """A Redis that refuses `refusals` writes for memory, then takes them (or raises `other`)."""

    def __init__(self, refusals: int, other: Exception | None = None) -> None:
        self.refusals, self.other, self.writes = refusals, other, []  # type: ignore[var-annotated]

    def set(self, key: str, value: str, ex: int) -> None:
        if self.other is not None:
            raise self.other
        if self.refusals:
            self.refusals -= 1
            raise redis.exceptions.OutOfMemoryError(OOM)
        self.writes.append((key, value, ex))


class TestRefusedForMemory:
    @pytest.mark.parametrize(
        ("exc", "refused"),
        [
            (redis.exceptions.OutOfMemoryError(OOM), True),
            (wrapped(redis.exceptions.OutOfMemoryError(OOM), kombu.exceptions.OperationalError(OOM)), True),
            (redis.exceptions.ResponseError("WRONGTYPE"), False),
            (redis.exceptions.ConnectionError("refused"), False),
            (None, False),
        ],
    )
    def test_the_error_or_its_cause(self, exc: BaseException | None, refused: bool) -> None:
        assert refused_for_memory(exc) is refused

    def test_it_is_transient_for_a_task(self) -> None:
        assert is_transient(redis.exceptions.OutOfMemoryError(OOM))
        assert not is_transient(redis.exceptions.ResponseError("WRONGTYPE"))


class TestWaitUntilWritable:
    def test_refusals_are_waited_out_and_said_once_each_way(self) -> None:
        client = FullRedis(refusals=3)
        with capture_logs() as logs:
            wait_until_writable(client, "w@host", Backoff(first=0, cap=0))
        assert [e["event"] for e in logs] == ["broker_memory_full", "broker_memory_freed"]
        assert logs[1]["attempts"] == 4
        assert client.writes == [(PROBE_KEY, "w@host", 60)]

    def test_a_writable_broker_is_not_waited_on_nor_logged(self) -> None:
        with capture_logs() as logs:
            wait_until_writable(FullRedis(refusals=0), "w@host", Backoff(first=0, cap=0))
        assert logs == []

    def test_another_error_is_the_consumer_s_to_handle(self) -> None:
        with pytest.raises(redis.exceptions.ConnectionError):
            wait_until_writable(FullRedis(0, redis.exceptions.ConnectionError("refused")), "w", Backoff(0, 0))

    @pytest.mark.parametrize(("attempt", "wait"), [(0, 0.5), (1, 1.0), (3, 4.0), (4, 5.0), (30, 5.0)])
    def test_the_back_off_doubles_up_to_its_cap(self, attempt: int, wait: float) -> None:
        assert Backoff(first=0.5, cap=5.0).wait(attempt) == wait


class TestNoTraceback:
    def record(self, exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            info = sys.exc_info()
        return logging.LogRecord("celery", logging.WARNING, "x", 1, "Failed to cancel %r", ("req",), info)

    def test_a_refusal_for_memory_keeps_its_line_and_loses_its_traceback(self) -> None:
        record = self.record(redis.exceptions.OutOfMemoryError(OOM))
        assert _NoTracebackOfKnownCauses().filter(record)
        assert record.exc_info is None
        assert record.getMessage() == f"Failed to cancel 'req' (OutOfMemoryError: {OOM})"

    def test_another_error_keeps_its_traceback(self) -> None:
        record = self.record(redis.exceptions.ResponseError("WRONGTYPE"))
        assert _NoTracebackOfKnownCauses().filter(record)
        assert record.exc_info is not None


class TestWatchdog:
    def test_a_consumer_waiting_for_memory_is_no_stall(self) -> None:
        """Messages wait, nothing was fetched for longer than the stall time: a stall, unless
        the consumer is waiting for Redis to take writes (then a new worker would wait too)."""
        import time

        from workers import broker_memory
        from workers.watchdog import Watchdog

        dog = Watchdog(["valuation"], lambda queues, now: {"valuation": 1000.0}, lambda: 0, 10, None)
        dog.started = time.monotonic() - 1000
        assert dog.check() is not None
        broker_memory._waiting.set()
        try:
            assert dog.check() is None
        finally:
            broker_memory._waiting.clear()

    def test_a_consumer_that_has_just_connected_is_no_stall(self) -> None:
        """A consumer that has just (re)connected, here after waiting out a full broker, has
        had no time to fetch: its idle time counts from the connection, so the watchdog's
        next look is no stall (it was, under load, in CI: fault scenario 19's worker exited
        70 between `broker_memory_freed` and its first fetch)."""
        import time

        from workers import watchdog
        from workers.watchdog import Watchdog, consumer_connected

        dog = Watchdog(["valuation"], lambda queues, now: {"valuation": 1000.0}, lambda: 0, 10, None)
        dog.started = time.monotonic() - 1000
        saved = list(watchdog._last_fetch)
        try:
            watchdog._last_fetch[:] = [time.monotonic() - 500]
            assert dog.check() is not None
            consumer_connected()
            assert dog.check() is None
        finally:
            watchdog._last_fetch[:] = saved
