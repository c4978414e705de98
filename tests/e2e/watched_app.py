"""The worker app of tests/e2e/test_guard_transactions.py: the real app
(`workers.celery_app`), started as `celery -A tests.e2e.watched_app worker`, in which every
call to the simulated terminal is first checked against the database connections this
process holds (tests.mt5.TransactionWatch: SQLAlchemy pool events; a session holds one
exactly while its transaction is open). Each call is written to the file named by
`TEST_TRANSACTION_REPORT` (`ok <call>`, or `inside <call>` and an AssertionError when a
transaction is open): the test reads what the worker process did. The simulator is the test
double; the check wraps its calls and changes nothing they do."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.mt5 import GATEWAY_CALLS, TransactionWatch
from workers.adapters.mt5.simulator import SimulatedMt5Gateway
from workers.celery_app import app

REPORT = Path(os.environ["TEST_TRANSACTION_REPORT"])
WATCH = TransactionWatch()


def checked(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def terminal_call(*args: Any, **kwargs: Any) -> Any:
        inside = bool(WATCH.out)
        with REPORT.open("a", encoding="utf-8") as report:
            report.write(f"{'inside' if inside else 'ok'} {name} {os.getpid()}\n")
        WATCH.check(name)  # raises when a transaction is open
        return call(*args, **kwargs)

    return terminal_call


WATCH.install()  # before the pool forks: every process of the worker listens
for _name in GATEWAY_CALLS:
    setattr(SimulatedMt5Gateway, _name, checked(_name, getattr(SimulatedMt5Gateway, _name)))

__all__ = ["app"]
