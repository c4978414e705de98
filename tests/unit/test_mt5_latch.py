"""core.mt5.latch and core.mt5.throttle: which positions and orders a tripped account's
sync takes on, the removal request, the last check before the gateway, and the order-rate
window. Tables of cases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.mt5 import constants as c
from core.mt5.closing import RequestRefused
from core.mt5.guard_policy import GuardPolicy
from core.mt5.latch import orders_to_remove, positions_to_close, refuse_unguarded, remove_request
from core.mt5.throttle import wait_before_send
from core.mt5.types import TradeOrder, TradePosition
from workers.adapters.mt5.throttle import MonotonicOrderThrottle

POLICY = GuardPolicy(warning_pct=Decimal("5"), execution_pct=Decimal("10"), scope_magics=frozenset({7}))


def pos(ticket: int, magic: int = 7, symbol: str = "EURUSD") -> TradePosition:
    return TradePosition(ticket, 0, 0, 0, 0, 0, magic, ticket, 3, 0.1, 1.08, 0, 0, 1.08, 0, 0, symbol, "", "")


def order(ticket: int, magic: int = 7, symbol: str = "EURUSD") -> TradeOrder:
    return TradeOrder(ticket, 0, 0, 0, 0, 0, 2, 0, 2, 1, magic, 0, 0, 0, 0.1, 0.1, 1.07, 0, 0, 1.08, 0, symbol, "", "")


@pytest.mark.parametrize(
    ("positions", "held", "expected"),
    [
        ([pos(1), pos(2)], set(), [1, 2]),  # found open, none held: both
        ([pos(1), pos(2)], {1}, [2]),  # 1 has its intent of the episode already
        ([pos(1), pos(2, magic=99)], set(), [1]),  # magic 99 is out of scope
        ([], {1}, []),
    ],
)
def test_positions_to_close(positions: list[TradePosition], held: set[int], expected: list[int]) -> None:
    assert [p.ticket for p in positions_to_close(POLICY, positions, held)] == expected


@pytest.mark.parametrize(
    ("orders", "held", "expected"),
    [
        ([order(5), order(6)], set(), [5, 6]),
        ([order(5), order(6)], {6}, [5]),
        ([order(5, magic=99)], set(), []),
    ],
)
def test_orders_to_remove(orders: list[TradeOrder], held: set[int], expected: list[int]) -> None:
    assert [o.ticket for o in orders_to_remove(POLICY, orders, held)] == expected


def test_the_removal_request_names_the_order() -> None:
    assert remove_request(order(88830), 7, "REMOVE:5001:88830:ep1") == {
        "action": c.TRADE_ACTION_REMOVE,
        "order": 88830,
        "symbol": "EURUSD",
        "magic": 7,
        "comment": "REMOVE:5001:88830:ep1",
    }


@pytest.mark.parametrize(
    ("request_", "refused"),
    [
        ({"action": c.TRADE_ACTION_REMOVE, "order": 5}, None),
        ({"action": c.TRADE_ACTION_DEAL, "position": 5}, None),
        ({"action": c.TRADE_ACTION_REMOVE, "order": 0}, "pending order's ticket"),
        ({"action": c.TRADE_ACTION_REMOVE}, "pending order's ticket"),
        ({"action": c.TRADE_ACTION_DEAL, "symbol": "EURUSD"}, "position ticket"),  # would open one
        ({"action": c.TRADE_ACTION_PENDING, "position": 5}, "only sends market closes"),
    ],
)
def test_nothing_but_a_close_or_a_removal_reaches_the_gateway(request_: dict[str, object], refused: str | None) -> None:
    if refused is None:
        refuse_unguarded(request_)
    else:
        with pytest.raises(RequestRefused, match=refused):
            refuse_unguarded(request_)


@pytest.mark.parametrize(
    ("sent", "now", "rate", "wait"),
    [
        ([], 10.0, 3, 0.0),
        ([9.5, 9.6], 10.0, 3, 0.0),  # two in the window: a third goes at once
        ([9.5, 9.6, 9.7], 10.0, 3, 0.5),  # three: wait until 9.5 leaves the window (10.5)
        ([8.0, 9.6, 9.7, 9.8], 10.0, 3, 0.6),  # the third latest (9.6) counts
        ([8.0, 8.5, 8.9], 10.0, 3, 0.0),  # all older than a second
        ([9.9] * 5, 10.0, 0, 0.0),  # 0: no limit
    ],
)
def test_wait_before_send(sent: list[float], now: float, rate: int, wait: float) -> None:
    assert wait_before_send(sent, now, rate) == pytest.approx(wait)


def test_the_throttle_lets_rate_orders_go_then_one_as_each_leaves_the_window() -> None:
    """Rate 3, orders asked at t = 0 each: three leave at 0, the fourth waits until 1.0,
    the fifth until 1.0 as well (the second left at 0), ... : at most 3 in any second."""
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 6))
        now[0] += s

    throttle = MonotonicOrderThrottle(3, clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(7):
        throttle.wait()
        times.append(round(now[0], 6))
    assert times == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    assert slept == [1.0, 1.0] and throttle.waited == pytest.approx(2.0)
