"""The guard's loss limits as a prop firm states them: a floor below a base, a percentage
of the base or of the initial balance, watched on equity or balance.

- Daily loss % = (anchor_now - measured) / of * 100, anchor_now = the day's start
  (core.mt5.guard_day: balance, equity or the higher, moved by money paid in or out),
  of = anchor_now (`daily_loss_of: base`) or initial_balance; it trips at >= daily_loss_pct,
  that is when measured <= anchor_now - daily_loss_pct / 100 * of.
- Max loss % = (base - measured) / initial_balance * 100, base = initial_balance (static)
  or the higher of initial_balance and the highest end-of-day balance (trailing, FTMO
  1-step); it trips at >= max_loss_pct.
- The end-of-day high-water mark (`eod_high_balance`) is the highest balance at a trading
  day's boundary (the day's start balance: the first reading within max_sync_age_s of the
  boundary, or rebuilt from the day's deals); money paid in or out moves it by its amount;
  a day whose start balance cannot be known leaves it as it was (never guessed).

Unrounded figures; shown half-even to 4 dp by the caller. Money is Decimal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from core.mt5.guard_day import DayAnchor, DayBounds, DayDeal, GuardReading, rebuild_anchor
from core.mt5.guard_policy import DayBasis, GuardPolicy, LimitOf, MaxLossBase, Measure

HUNDRED = Decimal(100)


def measured(reading: GuardReading, measure: Measure) -> Decimal:
    return reading.equity if measure is Measure.EQUITY else reading.balance


def daily_loss_pct(policy: GuardPolicy, anchor: DayAnchor | None, reading: GuardReading) -> Decimal | None:
    """(anchor_now - measured) / of * 100 (negative: a gain); None without an anchor or a
    positive `of`."""
    if anchor is None:
        return None
    start = anchor.anchor_value_now()
    of = policy.initial_balance if policy.daily_loss_of is LimitOf.INITIAL_BALANCE else start
    if of is None or of <= 0:
        return None
    return (start - measured(reading, policy.daily_measure)) / of * HUNDRED


def max_loss_base(policy: GuardPolicy, eod_high: Decimal | None) -> Decimal | None:
    """initial_balance, or (trailing) the higher of it and the end-of-day high-water mark."""
    initial = policy.initial_balance
    if initial is None or policy.max_loss_base is MaxLossBase.INITIAL_BALANCE:
        return initial
    return initial if eod_high is None else max(initial, eod_high)


def max_loss_pct(policy: GuardPolicy, eod_high: Decimal | None, reading: GuardReading) -> Decimal | None:
    """(base - measured) / initial_balance * 100; None without a max loss limit."""
    base, initial = max_loss_base(policy, eod_high), policy.initial_balance
    if policy.max_loss_pct is None or base is None or initial is None:
        return None
    return (base - measured(reading, policy.max_loss_measure)) / initial * HUNDRED


def day_start_balance(
    bounds: DayBounds, reading: GuardReading, deals: Sequence[DayDeal] | None, policy: GuardPolicy
) -> Decimal | None:
    """The balance at the day's boundary: the reading's, if within max_sync_age_s of it;
    else rebuilt from the day's deals; None when it cannot be known."""
    if reading.at - bounds.start_utc <= timedelta(seconds=policy.max_sync_age_s):
        return reading.balance
    rebuilt = rebuild_anchor(bounds, reading, deals, DayBasis.BALANCE)
    return None if rebuilt is None else rebuilt.value


def raised_eod_high(mark: Decimal | None, start_balance: Decimal | None) -> Decimal | None:
    """The end-of-day high-water mark after a boundary whose balance was `start_balance`."""
    if start_balance is None:
        return mark
    return start_balance if mark is None else max(mark, start_balance)
