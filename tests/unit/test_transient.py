"""tasks.base.is_transient: what keeps a run running for its message to come back."""

from __future__ import annotations

import psycopg
import pytest

from tasks.base import is_transient


def raised_in_cleanup(first: BaseException) -> BaseException:
    """The error a cleanup raises while `first` unwinds (as the psycopg dialect's ping does in
    its `finally` when a SIGTERM's SystemExit cuts it short: fault scenario 23, run 2)."""
    try:
        try:
            raise first
        finally:
            raise psycopg.ProgrammingError("can't change 'autocommit' now: connection in transaction status ACTIVE")
    except psycopg.ProgrammingError as exc:
        return exc


def test_an_error_raised_while_the_task_was_stopped_is_the_stop() -> None:
    assert is_transient(raised_in_cleanup(SystemExit(-15)))


@pytest.mark.parametrize("first", [ValueError("bad"), KeyboardInterrupt()])
def test_the_same_error_otherwise_is_permanent(first: BaseException) -> None:
    assert not is_transient(raised_in_cleanup(first))
    assert not is_transient(psycopg.ProgrammingError("syntax error"))
