"""Where MT5 tasks go. The MetaTrader5 module is process-global: each terminal has one
worker process (`-Q mt5.<terminal> -c 1`), and every task of a terminal goes to its queue,
picked from the task's `terminal` argument by the app's one router (tasks.base). A chunk
delivered from another queue than its terminal's is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.names import QueueName, queue_of_terminal


class WrongQueue(Exception):
    """A terminal's chunk reached a worker of another queue (its terminal is not this one's)."""


def terminal_queue(kwargs: Mapping[str, Any]) -> str:
    """The queue rule of every MT5 task: its terminal's queue; `mt5` when it names none."""
    terminal = kwargs.get("terminal")
    return queue_of_terminal(terminal) if isinstance(terminal, str) else QueueName.MT5


def check_queue(terminal: str, delivery_info: Mapping[str, Any] | None, is_eager: bool) -> None:
    """Only the terminal's own worker may talk to it."""
    delivered_from = (delivery_info or {}).get("routing_key")
    own = queue_of_terminal(terminal)
    if not is_eager and delivered_from and delivered_from != own:
        raise WrongQueue(f"a chunk of terminal {terminal} came from queue {delivered_from}, not {own}: send it there")
