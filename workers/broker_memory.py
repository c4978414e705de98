"""A worker that outlives a Redis full under `noeviction`.

When Redis is at its `maxmemory` it refuses every write that may grow it (`OOM command not
allowed`, redis-py's `OutOfMemoryError`, a `ResponseError`), and in a MULTI block every
command. The worker's consumer writes for each message it takes (kombu's `unacked_index`
ZADD and `unacked` HSET) and for each ack (ZREM and HDEL in a MULTI): refused, the error
used to leave the consumer as an "Unrecoverable error" and the worker exited 1.

Two pieces, on Celery's own mechanisms:

- `broker_channel_error_retry` (celery_app.celery_config) makes a channel error, which a
  refused write is, recoverable: the consumer restarts as after a lost connection, with one
  warning line, instead of the worker exiting.
- `WaitsWhileBrokerFull`, a part of the worker's consumer (the `worker_consumer`,
  workers.consumer), connects as Celery's consumer does, then, before the event loop takes
  any message, writes a probe key and, while that is refused for memory, waits with
  back-off (`MEMORY_BACKOFF`), saying so in one line when it begins and one when the broker
  takes writes again. Without it the restarted consumer fails at once (kombu's restore of
  unacked messages takes a lock: a write), or takes the next message and meets the refusal
  again: five restarts a second, each logged, and a `RestartFreqExceeded` traceback every
  five. Meanwhile the consumer watchdog (workers.watchdog) sees no stall.

A message the consumer had taken when the refusal came is not in Redis any more (BRPOP took
it; its bookkeeping was refused): the re-send sweep (tasks.resend) sends a stale run's
missing chunk or step again once Redis takes writes. One whose ack was refused stays among
the unacked and comes back after the visibility timeout; it counts in once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog
from celery.worker import state

log = structlog.get_logger(__name__)

#: The probe key (under the broker's key prefix), its value the worker's node name.
PROBE_KEY = "hedgeops:broker:writable"

_waiting = threading.Event()  # set while this process's consumer waits for the broker's memory


def waiting_for_memory() -> bool:
    """This worker's consumer is waiting, on purpose, for Redis to take writes again: taking
    nothing meanwhile is no stall (workers.watchdog)."""
    return _waiting.is_set()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of `first`, 2x, 4x ... seconds, capped at `cap`."""

    first: float = 0.5
    cap: float = 5.0

    def wait(self, attempt: int) -> float:
        return float(min(self.cap, self.first * 2**attempt))


MEMORY_BACKOFF = Backoff()


def refused_for_memory(exc: BaseException | None) -> bool:
    """The error, or one it was raised from, is Redis refusing a write for memory."""
    import redis.exceptions

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, redis.exceptions.OutOfMemoryError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def wait_until_writable(client: Any, node: str, backoff: Backoff = MEMORY_BACKOFF) -> float:
    """Write the probe until Redis takes it; the seconds waited. A refusal for memory is
    one warning (`broker_memory_full`) and a wait; its end one line (`broker_memory_freed`).
    Any other error is raised (the consumer's own handling of it applies). A worker asked
    to stop stops waiting."""
    began, attempt = time.monotonic(), 0
    try:
        while True:
            try:
                client.set(PROBE_KEY, node, ex=60)
            except Exception as exc:
                if not refused_for_memory(exc):
                    raise
                if attempt == 0:
                    _waiting.set()
                    log.warning("broker_memory_full", error=str(exc), node=node, action="waiting, taking no message")
                if state.should_stop is not None or state.should_terminate is not None:
                    return time.monotonic() - began
                time.sleep(backoff.wait(attempt))
                attempt += 1
                continue
            waited = time.monotonic() - began
            if attempt:
                log.warning("broker_memory_freed", node=node, waited_s=round(waited, 1), attempts=attempt + 1)
            return waited
    finally:
        _waiting.clear()


class WaitsWhileBrokerFull:
    """A consumer's part (workers.consumer.WorkerConsumer): each time it connects to a Redis
    broker, at start and after every restart, it waits while the broker refuses writes for
    memory, before it registers with the event loop (whose first act, kombu's restore of
    visible unacked messages, takes a lock: a write) or takes any message."""

    hostname: str

    def connection_for_read(self, heartbeat: Any = None) -> Any:
        conn = super().connection_for_read(heartbeat=heartbeat)  # type: ignore[misc]  # Celery's Consumer
        if conn.transport.driver_type == "redis":
            wait_until_writable(conn.default_channel.client, self.hostname)
        return conn
