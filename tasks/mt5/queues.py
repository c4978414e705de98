"""Where MT5 tasks go. The MetaTrader5 module is process-global: each terminal has one
worker process (`-Q mt5.<terminal> -c 1`), and every task of a terminal goes to its queue,
picked from the task's `terminal` argument by the app's one router (tasks.base). A chunk
delivered from another queue than its terminal's is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class WrongQueue(Exception):
    """A terminal's chunk reached a worker of another queue (its terminal is not this one's)."""


def queue_of(terminal: str) -> str:
    """The queue of a terminal's worker (one process, concurrency 1)."""
    return f"mt5.{terminal}"


def terminal_queue(kwargs: Mapping[str, Any]) -> str:
    """The queue rule of every MT5 task: its terminal's queue; `mt5` when it names none."""
    terminal = kwargs.get("terminal")
    return queue_of(terminal) if isinstance(terminal, str) else "mt5"


def check_queue(terminal: str, delivery_info: Mapping[str, Any] | None, is_eager: bool) -> None:
    """Only the terminal's own worker may talk to it."""
    delivered_from = (delivery_info or {}).get("routing_key")
    if not is_eager and delivered_from and delivered_from != queue_of(terminal):
        raise WrongQueue(
            f"a chunk of terminal {terminal} came from queue {delivered_from}, not {queue_of(terminal)}: send it there"
        )
