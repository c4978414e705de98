"""The persisted state of one account's drawdown guard, its reset, and its JSON form.

`GuardState` is everything the guard must remember across syncs and restarts (a process
that forgets a breach or re-anchors the day is the failure this exists to prevent): the
latch (`status`, `episode`, who tripped it), the peak-equity high-water mark, the day and
its anchor, the breaches in a row, and the last trusted reading.

- `armed`: watching; `warned`: the warning of this breach episode was sent (no second one
  until it re-arms); `tripped`: latched, positions closed (or, `tripped_in = shadow`,
  would have been). `reset` clears a latch; so does a new trading day when every limit
  that tripped it (`tripped_by`) unlocks `auto` (`unlocks_at_boundary`).
- `episode` counts executions: the first trip is episode 1, and close intent keys carry it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from core.mt5.guard_day import AnchorSource, DayAnchor
from core.mt5.guard_policy import DayBasis, GuardMode, GuardPolicy, PeakReset, Unlock

T = TypeVar("T")


class TripReason(StrEnum):
    """The limit a reading breached."""

    DRAWDOWN = "drawdown"
    DAILY_LOSS = "daily_loss"
    MAX_LOSS = "max_loss"  # below the max loss floor (initial or trailing end-of-day balance)


class GuardStatus(StrEnum):
    ARMED = "armed"
    WARNED = "warned"
    TRIPPED = "tripped"


@dataclass(frozen=True, slots=True)
class GuardState:
    status: GuardStatus = GuardStatus.ARMED
    episode: int = 0
    peak_equity: Decimal | None = None
    #: The trading day of the last trusted reading, and that day's anchor (None: no
    #: daily limit, or the day's start is unknown).
    trading_day: date | None = None
    anchor: DayAnchor | None = None
    breaches_in_row: int = 0
    last_equity: Decimal | None = None
    last_sync_at: datetime | None = None
    #: The mode that tripped the latch: a shadow latch does not hold in enforce mode.
    tripped_in: GuardMode | None = None
    tripped_at: datetime | None = None
    reset_at: datetime | None = None
    #: The limits whose breach tripped the latch (empty: not latched, or a state stored
    #: before this was recorded, which then clears only by the audited reset).
    tripped_by: frozenset[TripReason] = frozenset()
    #: The highest balance seen at a trading day's boundary, moved by money paid in or out
    #: (core.mt5.guard_limits); kept only for a trailing max loss.
    eod_high_balance: Decimal | None = None

    @property
    def latched(self) -> bool:
        return self.status is GuardStatus.TRIPPED


def reset(state: GuardState, now: datetime, policy: GuardPolicy, equity: Decimal, *, keep_peak: bool) -> GuardState:
    """The state after `hedgeops guard reset`: armed, no breach counted, the episode kept
    (the next trip is episode + 1). The peak starts again from `equity` (else an account
    still below the execution level would trip again at the next sync), unless `keep_peak`
    (`--keep-peak`): then it is kept, unless peak_reset `on_reset` re-bases it all the same."""
    peak = state.peak_equity if keep_peak and policy.peak_reset is not PeakReset.ON_RESET else equity
    return replace(
        state,
        status=GuardStatus.ARMED,
        breaches_in_row=0,
        peak_equity=peak,
        tripped_in=None,
        tripped_at=None,
        tripped_by=frozenset(),
        reset_at=now,
    )


def unlock_rule(policy: GuardPolicy, limit: TripReason) -> Unlock:
    """daily_loss_unlock for the daily loss; max drawdown and max loss: manual."""
    return policy.daily_loss_unlock if limit is TripReason.DAILY_LOSS else Unlock.MANUAL


def unlocks_at_boundary(state: GuardState, policy: GuardPolicy) -> bool:
    """Whether a new trading day clears this latch by itself: every limit that tripped it
    unlocks `auto` (a drawdown trip never does; a latch of unknown limits never does)."""
    return (
        state.latched
        and bool(state.tripped_by)
        and all(unlock_rule(policy, limit) is Unlock.AUTO for limit in state.tripped_by)
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def anchor_as_dict(anchor: DayAnchor) -> dict[str, Any]:
    return {
        "trading_day": anchor.trading_day.isoformat(),
        "basis": anchor.basis.value,
        "value": str(anchor.value),
        "anchored_at": anchor.anchored_at.isoformat(),
        "adjustments": str(anchor.adjustments),
        "applied": sorted(anchor.applied),
        "source": anchor.source.value,
    }


def anchor_from_dict(data: dict[str, Any]) -> DayAnchor:
    return DayAnchor(
        trading_day=date.fromisoformat(data["trading_day"]),
        basis=DayBasis(data["basis"]),
        value=Decimal(data["value"]),
        anchored_at=datetime.fromisoformat(data["anchored_at"]),
        adjustments=Decimal(data["adjustments"]),
        applied=frozenset(int(t) for t in data["applied"]),
        source=AnchorSource(data["source"]),
    )


def state_as_dict(state: GuardState) -> dict[str, Any]:
    """JSON-able: Decimal as strings, dates and times ISO 8601."""
    return {
        "status": state.status.value,
        "episode": state.episode,
        "peak_equity": _text(state.peak_equity),
        "trading_day": _text(state.trading_day),
        "anchor": None if state.anchor is None else anchor_as_dict(state.anchor),
        "breaches_in_row": state.breaches_in_row,
        "last_equity": _text(state.last_equity),
        "last_sync_at": _text(state.last_sync_at),
        "tripped_in": _text(state.tripped_in),
        "tripped_at": _text(state.tripped_at),
        "reset_at": _text(state.reset_at),
        "tripped_by": sorted(limit.value for limit in state.tripped_by),
        "eod_high_balance": _text(state.eod_high_balance),
    }


def _maybe(value: Any, parse: Callable[[Any], T]) -> T | None:
    return None if value is None else parse(value)


def state_from_dict(data: dict[str, Any]) -> GuardState:
    """The inverse of state_as_dict."""
    return GuardState(
        status=GuardStatus(data["status"]),
        episode=int(data["episode"]),
        peak_equity=_maybe(data["peak_equity"], Decimal),
        trading_day=_maybe(data["trading_day"], date.fromisoformat),
        anchor=_maybe(data["anchor"], anchor_from_dict),
        breaches_in_row=int(data["breaches_in_row"]),
        last_equity=_maybe(data["last_equity"], Decimal),
        last_sync_at=_maybe(data["last_sync_at"], datetime.fromisoformat),
        tripped_in=_maybe(data["tripped_in"], GuardMode),
        tripped_at=_maybe(data["tripped_at"], datetime.fromisoformat),
        reset_at=_maybe(data["reset_at"], datetime.fromisoformat),
        tripped_by=frozenset(TripReason(v) for v in data.get("tripped_by", ())),  # absent: stored before
        eod_high_balance=_maybe(data.get("eod_high_balance"), Decimal),
    )
