"""The order-rate limit of a terminal in this process (HEDGEOPS_MT5_ORDERS_PER_SECOND): the
times of the orders sent on a monotonic clock, and a sleep until core.mt5.throttle allows
the next. One worker process drives a terminal (concurrency 1), so the process's window is
the terminal's."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from core.mt5.throttle import wait_before_send


class MonotonicOrderThrottle:
    """Implements core.mt5.ports.OrderThrottle: at most `rate` orders in any one second."""

    def __init__(
        self, rate: int, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque(maxlen=max(rate, 1))
        self._lock = threading.Lock()
        #: Seconds waited in all (the benchmark and metrics read it).
        self.waited = 0.0

    def wait(self) -> None:
        with self._lock:
            delay = wait_before_send(self._sent, self._clock(), self.rate)
            if delay > 0:
                self.waited += delay
                self._sleep(delay)
            self._sent.append(self._clock())


def throttles(rate: int) -> Callable[[str], MonotonicOrderThrottle]:
    """A factory giving each terminal its one throttle of this process."""
    made: dict[str, MonotonicOrderThrottle] = {}

    def of(terminal: str) -> MonotonicOrderThrottle:
        if terminal not in made:
            made[terminal] = MonotonicOrderThrottle(rate)
        return made[terminal]

    return of
