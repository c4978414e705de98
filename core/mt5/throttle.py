"""The order-rate limit of one terminal: at most `rate` order_send calls in any window of
one second (a sliding window, as brokers state their limit: a close-all of hundreds of
positions must not be answered 10024 TOO_MANY_REQUESTS). The first `rate` orders leave at
once (a guard's close-all of 20 positions is not slowed at the default), each later one
waits until the order `rate` places before it is one second old.

Pure: the caller gives the send times (seconds on a monotonic clock) and `now`."""

from __future__ import annotations

from collections.abc import Sequence

WINDOW_S = 1.0


def wait_before_send(sent: Sequence[float], now: float, rate: int) -> float:
    """Seconds to wait before the next order_send, given the times of the orders sent
    (ascending; only the last `rate` matter): 0 while fewer than `rate` were sent within the
    window before `now`, else until the `rate`-th latest leaves it. rate <= 0: no limit."""
    if rate <= 0 or len(sent) < rate:
        return 0.0
    return max(0.0, sent[-rate] + WINDOW_S - now)
