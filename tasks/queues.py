"""Every queue's name, in one place: the tasks' decorators, the app's queue declarations,
beat's schedule, the router and the CLI's check that a worker consumes a queue all name
queues by these, so a worker's `-Q` and the queue a message goes to never drift apart.

The members are `str`s (a StrEnum): Celery, kombu and Redis take them as the plain names."""

from __future__ import annotations

from enum import StrEnum


class QueueName(StrEnum):
    PRICES = "prices"
    VALUATION = "valuation"
    #: MT5 tasks sent without a terminal; a terminal's tasks go to `queue_of_terminal`.
    MT5 = "mt5"


def queue_of_terminal(terminal: str) -> str:
    """The queue of one MT5 terminal's worker (`mt5.<terminal>`): the MetaTrader5 module is
    process-global, so each terminal has one worker process (concurrency 1) on its own queue."""
    return f"{QueueName.MT5}.{terminal}"
