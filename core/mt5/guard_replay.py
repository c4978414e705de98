"""Replaying stored readings through a guard policy: what the guard would have done.

`replay(readings, policy)` starts from a fresh `GuardState` and lets `core.mt5.guard
.evaluate` judge each reading in time order, as the guard after each sync would have:
each reading is taken as trusted (`confirmed`: it was stored, there is no terminal to ask
again) and judged at its own time (`now` = the reading's time), with the balance
operations the snapshots stored (`ops`: deposits, withdrawals, credits), so money paid in
or out moves the day's anchor, the peak and the end-of-day mark, as it did live; snapshots
stored before they kept them have none, and their money moves read as gain or loss. The
snapshots keep no trade deals: a trading day whose first reading is later than
max_sync_age_s after the boundary has an unknown start (`day_start_unknown`) and is guarded
by drawdown alone; it is never rebuilt from the balance operations alone.

What comes out are the events a desk tunes its thresholds on: `warning` (once per breach
episode), `rearmed`, `execution` (the latch trips: positions would be closed, in either
mode) and `day_start_unknown`, each with the figures of its reading (core.mt5.guard:
drawdown % = (peak - equity) / peak * 100, day loss % = (anchor - equity) / anchor * 100,
half-even 4 dp). Nobody resets a latch during a replay: after an execution the account
stays tripped, as it would have until `hedgeops guard reset`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.mt5.guard import GuardEvent, evaluate
from core.mt5.guard_day import DayDeal, GuardReading, day_bounds
from core.mt5.guard_policy import GuardPolicy
from core.mt5.guard_state import GuardState, TripReason


class ReplayKind(StrEnum):
    WARNING = "warning"
    EXECUTION = "execution"
    REARMED = "rearmed"
    DAY_START_UNKNOWN = "day_start_unknown"


#: The guard's events a replay reports, and how it names them.
KINDS: dict[GuardEvent, ReplayKind] = {
    GuardEvent.DAY_START_UNKNOWN: ReplayKind.DAY_START_UNKNOWN,
    GuardEvent.REARMED: ReplayKind.REARMED,
    GuardEvent.WARNING: ReplayKind.WARNING,
    GuardEvent.EXECUTE: ReplayKind.EXECUTION,
    GuardEvent.SHADOW_EXECUTE: ReplayKind.EXECUTION,
}


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One thing the guard would have done, at the time of the reading that caused it.
    `episode`: the latch's episode after the reading (an execution's is its own);
    `reasons`: the execution rules the reading broke (empty but for executions)."""

    at: datetime
    kind: ReplayKind
    drawdown_pct: Decimal | None
    day_loss_pct: Decimal | None
    equity: Decimal
    episode: int
    reasons: tuple[TripReason, ...] = ()


def replay(readings: Iterable[GuardReading], policy: GuardPolicy, ops: Iterable[DayDeal] = ()) -> list[ReplayEvent]:
    """The guard's events over `readings` (sorted by time here; equal times keep their
    order), from a fresh state, under `policy`, with the stored balance operations `ops`
    (by deal ticket, once each), in the order they happened."""
    state = GuardState()
    events: list[ReplayEvent] = []
    known = sorted({d.ticket: d for d in ops}.values(), key=lambda d: (d.time, d.ticket))
    for reading in sorted(readings, key=lambda r: r.at):
        trusted = reading if reading.confirmed else replace(reading, confirmed=True)
        decision = evaluate(state, trusted, policy, trusted.at, _deals(state, trusted, policy, known))
        state = decision.state
        for event in decision.events:
            kind = KINDS.get(event)
            if kind is None:
                continue
            reasons = decision.reasons if kind is ReplayKind.EXECUTION else ()
            events.append(
                ReplayEvent(
                    trusted.at,
                    kind,
                    decision.drawdown_pct,
                    decision.day_loss_pct,
                    trusted.equity,
                    state.episode,
                    reasons,
                )
            )
    return events


def _deals(state: GuardState, reading: GuardReading, policy: GuardPolicy, ops: list[DayDeal]) -> list[DayDeal] | None:
    """What the replay hands evaluate as the day's deals: the stored balance operations up
    to the reading while the day's start is known or taken from this reading; None where
    evaluate would rebuild the start from the deals (a late first reading, an unknown
    start): balance operations alone are not the whole history."""
    bounds = day_bounds(reading.at, policy.day_start, policy.zone)
    new_day = state.trading_day != bounds.trading_day
    late = reading.at - bounds.start_utc > timedelta(seconds=policy.max_sync_age_s)
    if late and (new_day or (state.anchor is None and policy.daily_loss_pct is not None)):
        return None
    return [d for d in ops if d.time <= reading.at]
