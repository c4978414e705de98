"""core.queue_health: `check queues` states and the watchdog's stall rule (issue 21, point 6)."""

from __future__ import annotations

import pytest

from core.monitoring import CheckState
from core.queue_health import ConsumerFacts, QueueFacts, check_queues, consumer_stalled

STALL = 300.0


@pytest.mark.parametrize(
    "facts, state, first",
    [
        ([QueueFacts("prices", 0, None, 1)], CheckState.OK, "prices 0 waiting, 1 consumer"),
        ([QueueFacts("prices", 3, 149.0, 2)], CheckState.OK, "prices 3 waiting, oldest 149 s, 2 consumers"),
        ([QueueFacts("prices", 3, 150.0, 2)], CheckState.WARNING, "prices: oldest waited 150 s (half the limit 300 s)"),
        ([QueueFacts("prices", 3, 300.0, 2)], CheckState.CRITICAL, "prices: oldest waited 300 s (limit 300 s)"),
        ([QueueFacts("valuation", 1, 5.0, 0)], CheckState.CRITICAL, "valuation: 1 waiting and no consumer"),
        # An empty queue without a consumer is no problem (a terminal's queue between cycles).
        ([QueueFacts("mt5.demo", 0, None, 0)], CheckState.OK, "mt5.demo 0 waiting, 0 consumers"),
        # A message without a send time (not ours) counts, with no age.
        ([QueueFacts("prices", 1, None, 1)], CheckState.OK, "prices 1 waiting, 1 consumer"),
    ],
)
def test_check_queues(facts: list[QueueFacts], state: CheckState, first: str) -> None:
    check = check_queues(facts, STALL)
    assert (check.state, check.message.split(" | ")[0]) == (state, first)


def test_every_queue_is_named_after_the_problems() -> None:
    check = check_queues([QueueFacts("prices", 2, 400.0, 1), QueueFacts("valuation", 0, None, 1)], STALL)
    assert check.line("queues") == (
        "QUEUES CRITICAL - prices: oldest waited 400 s (limit 300 s) | "
        "prices 2 waiting, oldest 400 s, 1 consumer, valuation 0 waiting, 1 consumer"
    )


@pytest.mark.parametrize(
    "facts, stalled",
    [
        (ConsumerFacts(oldest_age=None, since_last_fetch=None, up=9999, held=0), False),  # nothing waits
        (ConsumerFacts(oldest_age=299, since_last_fetch=None, up=9999, held=0), False),  # not long enough
        (ConsumerFacts(oldest_age=300, since_last_fetch=299, up=9999, held=0), False),  # fetched lately
        (ConsumerFacts(oldest_age=300, since_last_fetch=None, up=299, held=0), False),  # started lately
        (ConsumerFacts(oldest_age=900, since_last_fetch=900, up=9999, held=4), False),  # busy: holds 4
        (ConsumerFacts(oldest_age=300, since_last_fetch=300, up=9999, held=0), True),
        (ConsumerFacts(oldest_age=300, since_last_fetch=None, up=300, held=0), True),
    ],
)
def test_consumer_stalled(facts: ConsumerFacts, stalled: bool) -> None:
    assert (consumer_stalled(facts, STALL) is not None) is stalled


def test_the_stall_names_its_figures() -> None:
    reason = consumer_stalled(ConsumerFacts(oldest_age=420.4, since_last_fetch=610, up=9999, held=0), STALL)
    assert reason == (
        "a message has waited 420 s in its queues while this worker, holding none, fetched nothing for 610 s "
        "(limit 300 s)"
    )
