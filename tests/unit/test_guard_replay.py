"""Replaying stored readings through a policy (core.mt5.guard_replay): the events a desk
would see, as tables of readings and hand-computed figures.

drawdown % = (peak - equity) / peak * 100 (peak: the highest equity so far), day loss % =
(anchor - equity) / anchor * 100 (anchor: the balance of the day's first reading), both
half-even to 4 dp. Unless a case says otherwise: warning 5 %, execution 10 %, hysteresis
1 % (re-arm below 4 %), confirm_syncs 1, no daily limit, the day starting 00:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from core.mt5.guard import TripReason
from core.mt5.guard_day import DayDeal, GuardReading
from core.mt5.guard_policy import GuardPolicy, policy_for
from core.mt5.guard_replay import ReplayEvent, ReplayKind, replay

K, R = ReplayKind, TripReason
BASE = policy_for(
    GuardPolicy(),
    {
        "warning_pct": 5,
        "execution_pct": 10,
        "hysteresis_pct": 1,
        "confirm_syncs": 1,
        "max_sync_age_s": 120,
        "day_start": "00:00",
        "day_start_tz": "UTC",
    },
)
DAILY = policy_for(BASE, {"daily_loss_pct": 3, "daily_basis": "balance"})
DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, 00:00 UTC: a day boundary


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def reading(hours: float, equity: str, balance: str = "10000.00") -> GuardReading:
    return GuardReading(5001, D(equity), D(balance), at(hours))


def table(events: list[ReplayEvent]) -> list[tuple[object, ...]]:
    return [(e.at, e.kind, e.drawdown_pct, e.day_loss_pct, e.equity, e.episode, e.reasons) for e in events]


def d(text: str | None) -> D | None:
    return None if text is None else D(text)


def row(
    hours: float,
    kind: ReplayKind,
    drawdown: str | None,
    day_loss: str | None,
    equity: str,
    episode: int = 0,
    reasons: tuple[TripReason, ...] = (),
) -> tuple[object, ...]:
    return (at(hours), kind, d(drawdown), d(day_loss), D(equity), episode, reasons)


CASES = {
    # peak 10200 at 1 h. 9639: 561 / 10200 * 100 = 5.5 >= 5: warning. 9700: 500 / 10200 * 100 =
    # 4.9020 (not below 4: no re-arm). 9800: 400 / 10200 * 100 = 3.92157 < 4: re-armed. 9180:
    # 1020 / 10200 * 100 = 10 >= 10: a warning and the execution (episode 1). Then latched:
    # 8000 and 10500 change nothing.
    "drawdown from the peak, re-arm, execution, latch": (
        BASE,
        [
            reading(0, "10000.00"),
            reading(1, "10200.00"),
            reading(2, "9639.00"),
            reading(3, "9700.00"),
            reading(4, "9800.00"),
            reading(5, "9180.00"),
            reading(6, "8000.00"),
            reading(7, "10500.00"),
        ],
        [
            row(2, K.WARNING, "5.5000", None, "9639.00"),
            row(4, K.REARMED, "3.9216", None, "9800.00"),
            row(5, K.WARNING, "10.0000", None, "9180.00", 1),
            row(5, K.EXECUTION, "10.0000", None, "9180.00", 1, (R.DRAWDOWN,)),
        ],
    ),
    # Anchor 10000 (balance at 00:01). 9750: 250 / 10000 * 100 = 2.5 day loss, no event.
    # 9700: 300 / 10000 * 100 = 3 >= 3: execution by the daily loss; drawdown 3 % (peak 10000).
    "the daily loss from the day's anchor": (
        DAILY,
        [reading(1 / 60, "10000.00"), reading(10, "9750.00"), reading(12, "9700.00")],
        [row(12, K.EXECUTION, "3.0000", "3.0000", "9700.00", 1, (R.DAILY_LOSS,))],
    ),
    # The first reading of 03-02 is 9 h after the boundary (> 120 s) and there are no deals:
    # day_start_unknown, drawdown 0 (it is the peak). 9600: a 4 % loss that is not judged as
    # one (no anchor), 4 % drawdown is below 5. On 03-03 the 00:00:30 reading anchors 9600
    # (balance); 9300: (9600 - 9300) / 9600 * 100 = 3.125 >= 3: execution, drawdown
    # (10000 - 9300) / 10000 * 100 = 7 >= 5: a warning with it.
    "a day whose start is unknown is guarded by drawdown alone": (
        DAILY,
        [
            reading(9, "10000.00"),
            reading(10, "9600.00"),
            reading(24 + 30 / 3600, "9600.00", "9600.00"),
            reading(26, "9300.00", "9600.00"),
        ],
        [
            row(9, K.DAY_START_UNKNOWN, "0.0000", None, "10000.00"),
            row(26, K.WARNING, "7.0000", "3.1250", "9300.00", 1),
            row(26, K.EXECUTION, "7.0000", "3.1250", "9300.00", 1, (R.DAILY_LOSS,)),
        ],
    ),
    # confirm_syncs 2: 8900 (11 %) is breach 1 and the warning; 9100 (9 %) breaks the row;
    # 8900 breach 1 again; 9000 ((10000 - 9000) / 10000 * 100 = 10 %) breach 2: execution.
    "confirm_syncs breaches in a row": (
        policy_for(BASE, {"confirm_syncs": 2}),
        [
            reading(0, "10000.00"),
            reading(1, "8900.00"),
            reading(2, "9100.00"),
            reading(3, "8900.00"),
            reading(4, "9000.00"),
        ],
        [
            row(1, K.WARNING, "11.0000", None, "8900.00"),
            row(4, K.EXECUTION, "10.0000", None, "9000.00", 1, (R.DRAWDOWN,)),
        ],
    ),
    # Shadow mode would close too: the replay reports it as an execution.
    "shadow mode": (
        policy_for(BASE, {"mode": "shadow"}),
        [reading(0, "10000.00"), reading(1, "8800.00")],
        [
            row(1, K.WARNING, "12.0000", None, "8800.00", 1),
            row(1, K.EXECUTION, "12.0000", None, "8800.00", 1, (R.DRAWDOWN,)),
        ],
    ),
    # Out of order in, time order out: the peak is the 0 h reading's 10000, not 9400's.
    "readings are sorted by time": (
        BASE,
        [reading(2, "9400.00"), reading(0, "10000.00"), reading(1, "9000.00")],
        [
            row(1, K.WARNING, "10.0000", None, "9000.00", 1),
            row(1, K.EXECUTION, "10.0000", None, "9000.00", 1, (R.DRAWDOWN,)),
        ],
    ),
    "no readings": (BASE, [], []),
    "below every threshold": (BASE, [reading(0, "10000.00"), reading(1, "9501.00")], []),
}


@pytest.mark.parametrize(("policy", "readings", "expected"), list(CASES.values()), ids=list(CASES))
def test_replay(policy: GuardPolicy, readings: list[GuardReading], expected: list[tuple[object, ...]]) -> None:
    assert table(replay(readings, policy)) == expected


def test_a_jump_in_a_stored_reading_counts_as_it_is() -> None:
    """Live, a 30 % move would be confirmed by a fresh account_info first; a stored reading
    cannot be asked again, so it is judged as stored: (10000 - 7000) / 10000 * 100 = 30 %."""
    events = replay([reading(0, "10000.00"), reading(1, "7000.00")], policy_for(BASE, {"equity_jump_pct": 20}))
    assert [(e.kind, e.drawdown_pct) for e in events] == [(K.WARNING, D("30.0000")), (K.EXECUTION, D("30.0000"))]


class TestStoredBalanceOperations:
    """A deposit of 5000.00 at 00:30 and a withdrawal of 3000.00 at 01:30 (the readings at
    00:01, 01:00 and 02:00 with the money already in their balance and equity). With the
    stored operations the anchor moves 10000 -> 15000 -> 12000 and the peak with it: day
    loss (12000 - 11800) / 12000 * 100 = 1.6667 %, no event. Without them (snapshots stored
    before they kept them) the withdrawal reads as a loss from the peak 15000: (15000 -
    11800) / 15000 * 100 = 21.3333 % drawdown, an execution (the day loss, anchored at
    10000, is -18 %)."""

    READINGS = [
        GuardReading(5001, D("10000.00"), D("10000.00"), at(1 / 60)),
        GuardReading(5001, D("15000.00"), D("15000.00"), at(1)),
        GuardReading(5001, D("11800.00"), D("12000.00"), at(2)),
    ]
    OPS = [
        DayDeal(9001, 2, at(0.5), D("5000.00")),
        DayDeal(9002, 2, at(1.5), D("-3000.00")),
        DayDeal(9001, 2, at(0.5), D("5000.00")),  # seen by two snapshots: counted once
    ]

    def test_money_paid_in_or_out_is_no_gain_and_no_loss(self) -> None:
        assert replay(self.READINGS, DAILY, self.OPS) == []

    def test_without_them_the_withdrawal_reads_as_a_loss(self) -> None:
        (warning, execution) = replay(self.READINGS, DAILY)
        assert (execution.kind, execution.drawdown_pct, execution.reasons) == (K.EXECUTION, D("21.3333"), (R.DRAWDOWN,))
        assert warning.kind is K.WARNING

    def test_a_late_first_reading_is_not_rebuilt_from_balance_operations_alone(self) -> None:
        late = [GuardReading(5001, D("15000.00"), D("15000.00"), at(1))]  # 1 h after the boundary
        (unknown,) = replay(late, DAILY, self.OPS[:1])
        assert unknown.kind is K.DAY_START_UNKNOWN
