"""Queues that wait (issue 21, point 6): what `hedgeops check queues` tells a monitor, and when
a worker's watchdog calls its own consumer stalled. Pure: the caller reads the broker and the
worker's state and gives the facts.

A worker whose consumer froze (the kombu reconnect freeze: celery#8030, #8091, #10205) still
answers `inspect ping`; what shows is a queue whose oldest message keeps ageing while a
worker that consumes it fetches nothing and holds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.monitoring import Check, CheckState


@dataclass(frozen=True, slots=True)
class QueueFacts:
    """One queue: its waiting messages, the age in seconds of the oldest (None: empty, or its
    message carries no send time), and the workers consuming it (None: not asked)."""

    queue: str
    messages: int
    oldest_age: float | None
    consumers: int | None = None


def check_queues(facts: list[QueueFacts], stall_seconds: float) -> Check:
    """CRITICAL when a queue's oldest message waited `stall_seconds` or more, or messages wait
    with no consumer; WARNING past half of it; else OK. Every queue is named in the line."""
    critical, warning = [], []
    for q in facts:
        if q.messages and q.consumers == 0:
            critical.append(f"{q.queue}: {q.messages} waiting and no consumer")
        elif q.oldest_age is not None and q.oldest_age >= stall_seconds:
            critical.append(f"{q.queue}: oldest waited {q.oldest_age:.0f} s (limit {stall_seconds:.0f} s)")
        elif q.oldest_age is not None and q.oldest_age >= stall_seconds / 2:
            warning.append(f"{q.queue}: oldest waited {q.oldest_age:.0f} s (half the limit {stall_seconds:.0f} s)")
    summary = ", ".join(describe(q) for q in facts) or "no queues"
    if critical:
        return Check(CheckState.CRITICAL, "; ".join(critical) + f" | {summary}")
    if warning:
        return Check(CheckState.WARNING, "; ".join(warning) + f" | {summary}")
    return Check(CheckState.OK, summary)


def describe(q: QueueFacts) -> str:
    age = "" if q.oldest_age is None else f", oldest {q.oldest_age:.0f} s"
    consumers = "" if q.consumers is None else f", {q.consumers} consumer{'s' if q.consumers != 1 else ''}"
    return f"{q.queue} {q.messages} waiting{age}{consumers}"


@dataclass(frozen=True, slots=True)
class ConsumerFacts:
    """What a worker's watchdog sees at a tick: the oldest message's age across the queues
    the worker was started to consume (None: none waiting), the seconds since the worker last
    received a message or its consumer last connected (None: neither since it started, `up`
    seconds ago), and the messages it holds (reserved or running)."""

    oldest_age: float | None
    since_last_fetch: float | None
    up: float
    held: int


def consumer_stalled(facts: ConsumerFacts, stall_seconds: float) -> str | None:
    """Why the consumer is stalled, or None. Stalled: a message of its queues has waited
    `stall_seconds`, and the worker, holding nothing, has fetched nothing for as long. A busy
    worker (holding messages) or one that fetched lately is not stalled, whatever waits."""
    if facts.oldest_age is None or facts.oldest_age < stall_seconds or facts.held > 0:
        return None
    idle = facts.up if facts.since_last_fetch is None else facts.since_last_fetch
    if idle < stall_seconds:
        return None
    fetched = "nothing since it started" if facts.since_last_fetch is None else f"nothing for {idle:.0f} s"
    return (
        f"a message has waited {facts.oldest_age:.0f} s in its queues while this worker, holding none, "
        f"fetched {fetched} (limit {stall_seconds:.0f} s)"
    )
