"""The drawdown guard's decision after one account sync: `evaluate(state, reading, policy,
now, deals)` gives the new state, the figures and the events; it reads no clock and
sends nothing (the task turns events into alerts, intents and closes).

Figures, in percent points, computed at full precision for the decision and shown
half-even to 4 dp:
- drawdown % = (peak - equity) / peak * 100, from the peak-equity high-water mark (never
  from the start), None without a positive peak;
- day loss % = (anchor_now - equity) / anchor_now * 100, anchor_now = the day's anchor plus
  the balance operations since (negative is a gain), None without an anchor.
Money paid in or out (balance and credit deals) is neither profit nor loss: it moves the
anchor, and the peak, by its amount, and is set aside by the jump check.

Rules, in order:
1. A reading older than the last trusted one is ignored (`out_of_order`). A reading that is
   not `confirmed` and is stale (older than max_sync_age_s) or jumped (equity moved more
   than equity_jump_pct since the last trusted reading) changes nothing and asks for a
   fresh account_info (`confirm`): one bad reading never trips the account, nor raises
   the peak.
2. A new trading day anchors the day (`anchored`) from this reading if it is within
   max_sync_age_s of the boundary, else rebuilds it from the day's deals (balance basis),
   else records `day_start_unknown` once: the day is then guarded by drawdown only, never
   by a guess. Later in the day, balance and credit deals move the anchor (`anchor_moved`).
   With peak_reset `daily` the peak restarts from this reading. Without daily_loss_pct no
   anchor is kept.
3. `warning` once per breach episode (drawdown >= warning_pct); `rearmed` when drawdown
   falls below warning_pct - hysteresis_pct. (A reading that trips the latch straight from
   `armed` gives both `warning` and `execute`.)
4. Drawdown >= execution_pct, or day loss >= daily_loss_pct, for confirm_syncs readings
   in a row trips the latch: status `tripped`, episode + 1, event `execute` (enforce) or
   `shadow_execute` (shadow: would_close, once per episode, since it latches too). A
   latched account has no further warning, execution or re-arm until core.mt5.guard_state
   .reset, or (`unlocked`) the first reading of a new trading day when every limit that
   tripped it (`tripped_by`) unlocks `auto` (daily_loss_unlock; max drawdown never does:
   the reading is then judged at once); a latch tripped in shadow mode does not hold once
   the policy enforces (it re-arms and the reading is judged at once), so switching to
   enforce never leaves a breached account unguarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from core.mt5.guard_day import (
    ZERO,
    DayAnchor,
    DayBounds,
    DayDeal,
    GuardReading,
    anchor_from,
    balance_ops,
    day_balance_ops,
    day_bounds,
    moved_by_balance_ops,
    rebuild_anchor,
)
from core.mt5.guard_limits import daily_loss_pct, day_start_balance, max_loss_pct, raised_eod_high
from core.mt5.guard_policy import GuardMode, GuardPolicy, MaxLossBase, PeakReset
from core.mt5.guard_state import GuardState, GuardStatus, TripReason, reset, unlocks_at_boundary
from core.mt5.snapshot import peak_equity

HUNDRED = Decimal(100)
PERCENT_SHOWN = Decimal("0.0001")


class GuardEvent(StrEnum):
    ANCHORED = "anchored"
    ANCHOR_MOVED = "anchor_moved"
    DAY_START_UNKNOWN = "day_start_unknown"
    WARNING = "warning"
    REARMED = "rearmed"
    CONFIRM = "confirm"
    OUT_OF_ORDER = "out_of_order"
    EXECUTE = "execute"
    SHADOW_EXECUTE = "shadow_execute"
    UNLOCKED = "unlocked"  # the latch cleared by itself at a trading-day boundary


@dataclass(frozen=True, slots=True)
class GuardDecision:
    """The state to persist, the figures (4 dp, see the module docstring), the events in
    the order they happened, and the execution rules this reading breaches (empty while
    latched or when the reading was not used)."""

    state: GuardState
    drawdown_pct: Decimal | None
    day_loss_pct: Decimal | None
    events: tuple[GuardEvent, ...]
    reasons: tuple[TripReason, ...] = ()
    #: The limits whose latch cleared by itself at this reading's day boundary.
    unlocked: frozenset[TripReason] = frozenset()
    #: Max loss % (core.mt5.guard_limits), 4 dp; None without a max loss limit.
    max_loss_pct: Decimal | None = None
    #: The trading day's balance operations up to the reading (None: the deals were not read).
    day_ops: tuple[DayDeal, ...] | None = None

    @property
    def executes(self) -> bool:
        """Positions are to be closed now (enforce mode)."""
        return GuardEvent.EXECUTE in self.events


def drawdown_pct(peak: Decimal | None, equity: Decimal) -> Decimal | None:
    """(peak - equity) / peak * 100, percent, unrounded; None when there is no positive peak."""
    if peak is None or peak <= 0:
        return None
    return (peak - equity) / peak * HUNDRED


def day_loss_pct(anchor: DayAnchor | None, equity: Decimal) -> Decimal | None:
    """(anchor_now - equity) / anchor_now * 100, percent, unrounded (negative: a gain);
    None without an anchor or when anchor_now is not positive."""
    if anchor is None:
        return None
    start = anchor.anchor_value_now()
    return None if start <= 0 else (start - equity) / start * HUNDRED


def shown(percent: Decimal | None) -> Decimal | None:
    """A percentage as stored and shown: half-even to 4 dp."""
    return None if percent is None else percent.quantize(PERCENT_SHOWN, rounding=ROUND_HALF_EVEN)


def needs_confirmation(
    state: GuardState, reading: GuardReading, policy: GuardPolicy, now: datetime, paid_in: Decimal = ZERO
) -> bool:
    """An unconfirmed reading older than max_sync_age_s, or whose equity moved more than
    equity_jump_pct since the last trusted reading, money paid in since (`paid_in`, balance
    operations) set aside: |equity - (last + paid_in)| / last * 100 > equity_jump_pct."""
    if reading.confirmed:
        return False
    if now - reading.at > timedelta(seconds=policy.max_sync_age_s):
        return True
    last = state.last_equity
    if last is None or last <= 0:
        return False
    return abs(reading.equity - (last + paid_in)) / last * HUNDRED > policy.equity_jump_pct


def evaluate(
    state: GuardState, reading: GuardReading, policy: GuardPolicy, now: datetime, deals: Sequence[DayDeal] | None = None
) -> GuardDecision:
    """The guard's decision on one reading. `deals`: the account's deals (core.mt5.guard_day
    .day_deal) from the earlier of the trading day's start (day_bounds) and last_sync_at
    to the reading, read with it; None when the history could not be read (then the anchor
    is neither moved nor rebuilt, and a withdrawal reads as a loss: always pass them)."""
    if state.last_sync_at is not None and reading.at < state.last_sync_at:
        return _unused(state, reading, GuardEvent.OUT_OF_ORDER)
    ops = balance_ops(deals or (), state.last_sync_at, reading.at)
    paid_in = sum((d.profit for d in ops), ZERO)
    if needs_confirmation(state, reading, policy, now, paid_in):
        return _unused(state, reading, GuardEvent.CONFIRM)
    state = _moved_marks(state, paid_in)
    unlocked = _unlocked_by_new_day(state, reading, policy)
    freed = frozenset() if unlocked is None else state.tripped_by
    state, day_events = _roll_day(unlocked or state, reading, policy, deals)
    day_events = (GuardEvent.UNLOCKED, *day_events) if freed else day_events
    state = replace(
        state,
        peak_equity=peak_equity(state.peak_equity, reading.equity),
        last_equity=reading.equity,
        last_sync_at=reading.at,
    )
    drawdown, day_loss = drawdown_pct(state.peak_equity, reading.equity), daily_loss_pct(policy, state.anchor, reading)
    max_loss = max_loss_pct(policy, state.eod_high_balance, reading)
    state, events, reasons = _transition(state, policy, drawdown, day_loss, reading.at, max_loss)
    state = _trip_record(state, events, reasons)
    figures = (shown(drawdown), shown(day_loss))
    day_ops = _day_ops(deals, reading, policy)
    return GuardDecision(state, *figures, day_events + events, reasons, freed, shown(max_loss), day_ops)


def _day_ops(deals: Sequence[DayDeal] | None, reading: GuardReading, policy: GuardPolicy) -> tuple[DayDeal, ...] | None:
    """The trading day's balance operations up to the reading (a snapshot keeps them)."""
    if deals is None:
        return None
    return day_balance_ops(deals, day_bounds(reading.at, policy.day_start, policy.zone), reading.at)


def _moved_marks(state: GuardState, paid_in: Decimal) -> GuardState:
    """Money paid in or out is no gain and no drawdown: it moves the peak and the
    end-of-day high-water mark by its amount."""
    if state.peak_equity is not None:
        state = replace(state, peak_equity=state.peak_equity + paid_in)
    if state.eod_high_balance is not None:
        state = replace(state, eod_high_balance=state.eod_high_balance + paid_in)
    return state


def _unlocked_by_new_day(state: GuardState, reading: GuardReading, policy: GuardPolicy) -> GuardState | None:
    """The latch cleared at the first reading of a new trading day when every limit that
    tripped it unlocks `auto` (as core.mt5.guard_state.reset, at the reading); else None.
    The peak is kept: no person re-armed the account, and only the daily limit cleared."""
    if state.trading_day is None or not unlocks_at_boundary(state, policy):
        return None
    if day_bounds(reading.at, policy.day_start, policy.zone).trading_day == state.trading_day:
        return None
    return reset(state, reading.at, policy, reading.equity, keep_peak=True)


def _trip_record(state: GuardState, events: tuple[GuardEvent, ...], reasons: tuple[TripReason, ...]) -> GuardState:
    """Which limits tripped the latch: the reasons of the reading that tripped it."""
    if GuardEvent.EXECUTE in events or GuardEvent.SHADOW_EXECUTE in events:
        return replace(state, tripped_by=frozenset(reasons))
    return state if state.latched else replace(state, tripped_by=frozenset())


def _unused(state: GuardState, reading: GuardReading, event: GuardEvent) -> GuardDecision:
    """The state unchanged; figures of the reading against it, for the record."""
    drawdown = drawdown_pct(peak_equity(state.peak_equity, reading.equity), reading.equity)
    return GuardDecision(state, shown(drawdown), shown(day_loss_pct(state.anchor, reading.equity)), (event,))


def _roll_day(
    state: GuardState, reading: GuardReading, policy: GuardPolicy, deals: Sequence[DayDeal] | None
) -> tuple[GuardState, tuple[GuardEvent, ...]]:
    bounds = day_bounds(reading.at, policy.day_start, policy.zone)
    if state.trading_day == bounds.trading_day:
        return _same_day(state, reading, policy, bounds, deals)
    peak = reading.equity if policy.peak_reset is PeakReset.DAILY else state.peak_equity
    state = replace(state, trading_day=bounds.trading_day, anchor=None, peak_equity=peak)
    if policy.max_loss_pct is not None and policy.max_loss_base is MaxLossBase.EOD_HIGH_BALANCE:
        start = day_start_balance(bounds, reading, deals, policy)
        state = replace(state, eod_high_balance=raised_eod_high(state.eod_high_balance, start))
    if policy.daily_loss_pct is None:
        return state, ()
    if reading.at - bounds.start_utc <= timedelta(seconds=policy.max_sync_age_s):
        anchor: DayAnchor | None = anchor_from(reading, policy.daily_basis, bounds.trading_day)
    else:
        anchor = rebuild_anchor(bounds, reading, deals, policy.daily_basis)
    if anchor is None:
        return state, (GuardEvent.DAY_START_UNKNOWN,)
    return replace(state, anchor=anchor), (GuardEvent.ANCHORED,)


def _same_day(
    state: GuardState, reading: GuardReading, policy: GuardPolicy, bounds: DayBounds, deals: Sequence[DayDeal] | None
) -> tuple[GuardState, tuple[GuardEvent, ...]]:
    """Move the anchor by new balance operations; or, when the day's start is still
    unknown, rebuild it if the deals now allow it (no second day_start_unknown)."""
    if deals is None or policy.daily_loss_pct is None:
        return state, ()
    if state.anchor is None:
        rebuilt = rebuild_anchor(bounds, reading, deals, policy.daily_basis)
        return (state, ()) if rebuilt is None else (replace(state, anchor=rebuilt), (GuardEvent.ANCHORED,))
    moved = moved_by_balance_ops(state.anchor, deals, until=reading.at)
    return (state, ()) if moved is state.anchor else (replace(state, anchor=moved), (GuardEvent.ANCHOR_MOVED,))


def breaches(
    policy: GuardPolicy, drawdown: Decimal | None, day_loss: Decimal | None, max_loss: Decimal | None = None
) -> tuple[TripReason, ...]:
    """The execution rules broken: drawdown >= execution_pct, day loss >= daily_loss_pct,
    max loss >= max_loss_pct."""
    out = []
    if drawdown is not None and drawdown >= policy.execution_pct:
        out.append(TripReason.DRAWDOWN)
    if policy.daily_loss_pct is not None and day_loss is not None and day_loss >= policy.daily_loss_pct:
        out.append(TripReason.DAILY_LOSS)
    if policy.max_loss_pct is not None and max_loss is not None and max_loss >= policy.max_loss_pct:
        out.append(TripReason.MAX_LOSS)
    return tuple(out)


def _transition(
    state: GuardState,
    policy: GuardPolicy,
    drawdown: Decimal | None,
    day_loss: Decimal | None,
    at: datetime,
    max_loss: Decimal | None = None,
) -> tuple[GuardState, tuple[GuardEvent, ...], tuple[TripReason, ...]]:
    events: list[GuardEvent] = []
    if state.latched:
        if not (state.tripped_in is GuardMode.SHADOW and policy.mode is GuardMode.ENFORCE):
            return replace(state, breaches_in_row=0), (), ()
        state = replace(state, status=GuardStatus.ARMED, tripped_in=None, tripped_at=None, breaches_in_row=0)
        events.append(GuardEvent.REARMED)
    reasons = breaches(policy, drawdown, day_loss, max_loss)
    state = replace(state, breaches_in_row=state.breaches_in_row + 1 if reasons else 0)
    state = _warning(state, policy, drawdown, events)
    if reasons and state.breaches_in_row >= policy.confirm_syncs:
        enforce = policy.mode is GuardMode.ENFORCE
        events.append(GuardEvent.EXECUTE if enforce else GuardEvent.SHADOW_EXECUTE)
        state = replace(
            state,
            status=GuardStatus.TRIPPED,
            episode=state.episode + 1,
            breaches_in_row=0,
            tripped_in=policy.mode,
            tripped_at=at,
        )
    return state, tuple(events), reasons


def _warning(state: GuardState, policy: GuardPolicy, drawdown: Decimal | None, events: list[GuardEvent]) -> GuardState:
    """Warn once per episode; re-arm below warning_pct - hysteresis_pct (appends to `events`)."""
    if drawdown is None:
        return state
    if state.status is GuardStatus.ARMED and drawdown >= policy.warning_pct:
        events.append(GuardEvent.WARNING)
        return replace(state, status=GuardStatus.WARNED)
    if state.status is GuardStatus.WARNED and drawdown < policy.warning_pct - policy.hysteresis_pct:
        events.append(GuardEvent.REARMED)
        return replace(state, status=GuardStatus.ARMED)
    return state
