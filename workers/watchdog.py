"""The consumer watchdog (issue 21, point 6): a worker that answers pings but consumes
nothing stops itself, so its supervisor starts a fresh one.

kombu's Redis consumer has been seen to stop consuming after a reconnect while the worker
still answers `inspect ping` (celery#8030, #8091, #10205). The fixes known (kombu PRs #2492,
#2498 and #2630) ship in kombu 5.7.0, the lowest release pyproject.toml allows; the watchdog
stays for a freeze of any other cause. A thread of the worker's main process
wakes every `stall/10` seconds (at most 30): it reads the age of the oldest message in the
queues the worker was started to consume, the time since the worker last received a
message (or its consumer last connected: one that has just connected, at start, after a lost
connection or after a wait for the broker's memory, has had no time to fetch), and the
messages it holds. When core.queue_health.consumer_stalled says stalled,
it logs `consumer_stalled` with the reason and asks the worker to stop with exit code 70
(EX_SOFTWARE: a supervisor's `restart: on-failure` restarts it); a worker whose loop does
not stop within 30 s is ended by `os._exit(70)`. A thread, not the consumer's timer: a
frozen event loop must not freeze its own watchdog. At each healthy check it touches
HEDGEOPS_WATCHDOG_FILE when set: compose's healthcheck reads that file's age. A consumer
waiting for a Redis full under `noeviction` to take writes (workers.broker_memory) takes
nothing on purpose: no stall (a new worker would wait the same).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from celery.signals import task_received, worker_ready, worker_shutdown

from core.queue_health import ConsumerFacts, consumer_stalled
from workers.broker_memory import waiting_for_memory

log = structlog.get_logger(__name__)

#: The exit code of a worker its watchdog stopped (sysexits EX_SOFTWARE).
EXIT_STALLED = 70
#: Seconds a stopping worker gets before the watchdog ends the process itself.
STOP_GRACE = 30.0

_last_fetch: list[float] = []  # the monotonic time of the newest received message or consumer connection


def _received(**_: Any) -> None:
    _last_fetch[:] = [time.monotonic()]


def consumer_connected() -> None:
    """The worker's consumer has (re)connected and may take messages now (workers.consumer):
    its idle time counts from here. Without this a consumer that had waited out a full broker
    was taken for a stalled one at the watchdog's next look, before it could fetch."""
    _received()


class Watchdog:
    """One per worker node, in its main process."""

    def __init__(
        self,
        queues: Sequence[str],
        oldest: Callable[[Sequence[str], datetime], dict[str, float | None]],
        held: Callable[[], int],
        stall_seconds: float,
        health_file: Path | None,
    ) -> None:
        self.queues = list(queues)
        self.oldest = oldest
        self.held = held
        self.stall_seconds = stall_seconds
        self.health_file = health_file
        self.every = min(30.0, stall_seconds / 10)
        self.started = time.monotonic()
        self.stopped = threading.Event()

    def facts(self) -> ConsumerFacts:
        ages = [a for a in self.oldest(self.queues, datetime.now(UTC)).values() if a is not None]
        now = time.monotonic()
        return ConsumerFacts(
            oldest_age=max(ages) if ages else None,
            since_last_fetch=(now - _last_fetch[0]) if _last_fetch else None,
            up=now - self.started,
            held=self.held(),
        )

    def check(self) -> str | None:
        """One look: the stall's reason, or None (the health file touched)."""
        try:
            facts = self.facts()
        except Exception as exc:  # noqa: BLE001 - a broker that does not answer is the consumer's to retry
            log.warning("watchdog_broker_unread", error=str(exc))
            return None
        reason = consumer_stalled(facts, self.stall_seconds)
        if reason is not None and waiting_for_memory():  # workers.broker_memory: taking nothing on purpose
            reason = None
        if reason is None and self.health_file is not None:
            self.health_file.touch()
        return reason

    def run(self, stop: Callable[[int], None]) -> None:
        while not self.stopped.wait(self.every):
            reason = self.check()
            if reason is None:
                continue
            log.error("consumer_stalled", reason=reason, queues=self.queues, exit_code=EXIT_STALLED)
            stop(EXIT_STALLED)
            if not self.stopped.wait(STOP_GRACE):
                log.error("consumer_stalled_exit", reason="the worker did not stop", exit_code=EXIT_STALLED)
                os._exit(EXIT_STALLED)
            return


def _stop_worker(code: int) -> None:
    """Ask the worker's loop to stop warm, with `code` (it checks at each iteration)."""
    from celery.worker import state

    state.should_stop = code


def install(stall_seconds: float, health_file: str | None) -> None:
    """Start the watchdog when the worker is ready (its queues are known), stop it when it
    shuts down."""
    task_received.connect(_received, weak=False)

    def _start(sender: Any = None, **_: Any) -> None:
        from celery.worker import state

        from workers.queue_depth import broker_oldest_ages

        consumer = sender  # worker_ready's sender is the worker's consumer
        queues = sorted(consumer.app.amqp.queues.consume_from)
        dog = Watchdog(
            queues,
            broker_oldest_ages(consumer.app),
            lambda: len(state.reserved_requests),
            stall_seconds,
            Path(health_file) if health_file else None,
        )
        worker_shutdown.connect(lambda **_: dog.stopped.set(), weak=False)
        if dog.health_file is not None:
            dog.health_file.touch()
        threading.Thread(target=dog.run, args=(_stop_worker,), name="hedgeops-watchdog", daemon=True).start()
        log.info("watchdog_started", queues=queues, stall_seconds=stall_seconds, every=dog.every)

    worker_ready.connect(_start, weak=False)
