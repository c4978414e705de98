"""Unlock rules per limit (core.mt5.guard_state.unlocks_at_boundary, core.mt5.guard.evaluate):
a latch tripped only by the daily loss, with `daily_loss_unlock: auto`, clears at the first
reading of the next trading day; a drawdown trip never does; the audited reset clears both.

The day: 17:00 New York, 22:00 UTC in January. Readings: 10000.00 just after the 01-13
boundary (anchors the day of 01-14), then 9400.00: day loss (10000 - 9400) / 10000 * 100
= 6 %, drawdown from the peak 10000.00 also 6 %; then 9400.00 just after the next boundary
(22:00 UTC on 01-14).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from core.errors import InvalidInput
from core.mt5.guard import GuardDecision, GuardEvent, evaluate
from core.mt5.guard_day import GuardReading
from core.mt5.guard_policy import GuardPolicy, Unlock, policy_for
from core.mt5.guard_state import (
    GuardState,
    GuardStatus,
    TripReason,
    reset,
    state_as_dict,
    state_from_dict,
    unlocks_at_boundary,
)

E, R = GuardEvent, TripReason
BOUNDARY = datetime(2026, 1, 13, 22, tzinfo=UTC)
NEXT = BOUNDARY + timedelta(days=1)
BASE: dict[str, Any] = {"equity_jump_pct": 60, "max_sync_age_s": 120, "hysteresis_pct": 1}
#: day loss 5 %, drawdown far away (40 / 50 %): a 6 % day trips the daily loss alone
DAILY = {**BASE, "daily_loss_pct": 5, "warning_pct": 40, "execution_pct": 50}
#: drawdown 5 %, daily loss far away (50 %): a 6 % drop trips the drawdown alone
DRAWDOWN = {**BASE, "daily_loss_pct": 50, "warning_pct": 4, "execution_pct": 5}
#: both at 5 %: a 6 % drop trips both
BOTH = {**BASE, "daily_loss_pct": 5, "warning_pct": 4, "execution_pct": 5}


def day(policy: GuardPolicy) -> list[GuardDecision]:
    state = GuardState(trading_day=BOUNDARY.date(), peak_equity=D("10000.00"), last_equity=D("10000.00"))
    out = []
    for at, equity in [(BOUNDARY + timedelta(seconds=30), "10000.00"), (BOUNDARY + timedelta(seconds=60), "9400.00")]:
        out.append(evaluate(state, GuardReading(5001, D(equity), D(equity), at), policy, at, deals=[]))
        state = out[-1].state
    at = NEXT + timedelta(seconds=30)
    out.append(evaluate(state, GuardReading(5001, D("9400.00"), D("9400.00"), at), policy, at, deals=[]))
    return out


@pytest.mark.parametrize(
    ("limits", "unlock", "tripped_by", "next_day_events", "next_day_status"),
    [
        (DAILY, "auto", {R.DAILY_LOSS}, (E.UNLOCKED, E.ANCHORED), GuardStatus.ARMED),
        (DAILY, "manual", {R.DAILY_LOSS}, (E.ANCHORED,), GuardStatus.TRIPPED),
        (DRAWDOWN, "auto", {R.DRAWDOWN}, (E.ANCHORED,), GuardStatus.TRIPPED),
        (BOTH, "auto", {R.DRAWDOWN, R.DAILY_LOSS}, (E.ANCHORED,), GuardStatus.TRIPPED),
    ],
)
def test_a_latch_clears_at_the_next_boundary_only_when_every_limit_that_tripped_it_says_auto(
    limits: dict[str, Any],
    unlock: str,
    tripped_by: set[TripReason],
    next_day_events: tuple[GuardEvent, ...],
    next_day_status: GuardStatus,
) -> None:
    policy = policy_for(GuardPolicy(), {**limits, "daily_loss_unlock": unlock})
    anchored, tripped, next_day = day(policy)

    assert tripped.executes and tripped.state.tripped_by == tripped_by
    assert anchored.state.trading_day == tripped.state.trading_day  # the trip is on day 01-14
    assert next_day.events == next_day_events
    assert next_day.state.status is next_day_status
    unlocked = next_day_status is GuardStatus.ARMED
    assert next_day.unlocked == (frozenset(tripped_by) if unlocked else frozenset())
    if unlocked:  # as a reset, at the reading: the episode kept, the next trip is episode 2
        assert (next_day.state.episode, next_day.state.reset_at, next_day.state.tripped_by) == (
            1,
            NEXT + timedelta(seconds=30),
            frozenset(),
        )
        assert next_day.state.anchor is not None and next_day.state.anchor.value == D("9400.00")


def test_an_unlocked_account_is_judged_again_at_once() -> None:
    # Unlocked at the boundary, the day's anchor is 9400.00; 8900.00 is (9400 - 8900) / 9400
    # = 5.3191 % of it: a new trip, episode 2.
    policy = policy_for(GuardPolicy(), {**DAILY, "daily_loss_unlock": "auto"})
    *_, next_day = day(policy)
    at = NEXT + timedelta(seconds=60)
    again = evaluate(next_day.state, GuardReading(5001, D("8900.00"), D("8900.00"), at), policy, at, deals=[])

    assert (again.day_loss_pct, again.executes, again.state.episode) == (D("5.3191"), True, 2)


def test_the_reset_clears_a_drawdown_trip_and_what_tripped_it() -> None:
    policy = policy_for(GuardPolicy(), BOTH)
    _, tripped, _ = day(policy)
    armed = reset(tripped.state, NEXT, policy, D("9400.00"), keep_peak=True)

    assert (armed.status, armed.tripped_by, unlocks_at_boundary(armed, policy)) == (
        GuardStatus.ARMED,
        frozenset(),
        False,
    )


def test_max_drawdown_never_unlocks_by_itself() -> None:
    with pytest.raises(InvalidInput, match="drawdown_unlock"):
        policy_for(GuardPolicy(), {"drawdown_unlock": "auto"})
    assert GuardPolicy().daily_loss_unlock is Unlock.MANUAL  # unless a policy says so


def test_what_tripped_the_latch_is_kept_and_a_state_stored_before_has_none() -> None:
    _, tripped, _ = day(policy_for(GuardPolicy(), BOTH))
    data = state_as_dict(tripped.state)

    assert data["tripped_by"] == ["daily_loss", "drawdown"]
    assert state_from_dict(data) == tripped.state
    older = {k: v for k, v in data.items() if k != "tripped_by"}
    assert state_from_dict(older).tripped_by == frozenset()  # never unlocks by itself
    assert not unlocks_at_boundary(state_from_dict(older), policy_for(GuardPolicy(), {"daily_loss_unlock": "auto"}))
