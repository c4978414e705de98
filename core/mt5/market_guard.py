"""The market guard: per symbol, at each sync, what the quote did since the previous one.

`evaluate_symbol(state, quote, policy)` takes the symbol's persisted state (the last bid
and its tick time, the recent spreads) and the current tick, and gives the new state and
the events:

- `market_gap`: |bid - last bid| / last bid * 100 > `gap_pct` (percent points, full
  precision; shown half-even to 4 dp). The last bid is the previous sync's, or, when the
  market was closed in between (the previous tick is more than `closed_after_s` older than
  this one: a weekend, a holiday, a worker down), the last quote before the close: the gap
  is then `across_close`. The first quote of a symbol is only remembered.
- `spread_wide`: spread (ask - bid) > `spread_multiple` * the median of the last
  `spread_window` spreads before this one, once at least `min_samples` are known; raised
  once per wide episode (it ends at the first spread back within the multiple).

A new tick's spread joins the window unless it is wide: the median stays the usual spread
through a wide episode, however long (a few wide readings would otherwise move the median
of a short window and end the episode while the spread is still blown out). A broker that
widens its spreads for good is then `wide` until a person raises the multiple; each hold is
bounded by `max_hold_s`, and the episode is alerted once. A tick no newer than the last
one (a closed market shows the same quote) changes nothing.

By policy, per symbol (`action`): `alert` (events only), `close_on_gap` (a gap closes the
account's positions in the symbol through the close-intent outbox), or `hold_on_spread`
(the default: while the spread is wide the drawdown guard's closes in the symbol wait, each
at most `max_hold_s` after its intent was made, then go anyway: `still_held`).

Pure: the clock is an argument (`still_held`), the task reads the terminal and stores the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from statistics import median
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidInput

HUNDRED = Decimal(100)
SHOWN = Decimal("0.0001")


class MarketAction(StrEnum):
    ALERT = "alert"  # events are alerted; nothing is closed or held
    CLOSE_ON_GAP = "close_on_gap"  # a gap closes the account's positions in the symbol
    HOLD_ON_SPREAD = "hold_on_spread"  # a wide spread holds the drawdown guard's closes, bounded


class MarketEventKind(StrEnum):
    MARKET_GAP = "market_gap"
    SPREAD_WIDE = "spread_wide"


class MarketPolicy(BaseModel):
    """The market guard of one symbol (percent points: `2` is 2 %)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gap_pct: Decimal = Field(Decimal("2"), gt=0, lt=100)
    spread_multiple: Decimal = Field(Decimal("5"), gt=1)
    spread_window: int = Field(20, ge=1, le=500)
    min_samples: int = Field(5, ge=1)
    closed_after_s: int = Field(3600, gt=0)
    action: MarketAction = MarketAction.HOLD_ON_SPREAD
    max_hold_s: int = Field(120, ge=0, le=86_400)

    @property
    def max_hold(self) -> timedelta:
        return timedelta(seconds=self.max_hold_s)


@dataclass(frozen=True, slots=True)
class MarketPolicies:
    """The default policy and the per-symbol ones (by symbol name)."""

    default: MarketPolicy = field(default_factory=MarketPolicy)
    symbols: Mapping[str, MarketPolicy] = field(default_factory=dict)

    def of(self, symbol: str) -> MarketPolicy:
        return self.symbols.get(symbol, self.default)


def market_policy_for(defaults: MarketPolicy, override: Mapping[str, Any]) -> MarketPolicy:
    """`override` (a symbol's JSON) laid over `defaults`; InvalidInput names what it refuses."""
    try:
        return MarketPolicy.model_validate({**defaults.model_dump(), **override})
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()]
        raise InvalidInput(f"invalid market policy: {'; '.join(errors)}", errors) from exc


@dataclass(frozen=True, slots=True)
class Quote:
    """A symbol's tick (symbol_info_tick), prices in Decimal, time in ms (UTC)."""

    symbol: str
    bid: Decimal
    ask: Decimal
    time_msc: int

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class SymbolState:
    """What the guard remembers of a symbol, per account (`market_states`)."""

    last_bid: Decimal | None = None
    last_tick_msc: int | None = None
    spreads: tuple[Decimal, ...] = ()
    #: The tick time the current wide-spread episode began (None: the spread is normal).
    wide_since_msc: int | None = None

    @property
    def wide(self) -> bool:
        return self.wide_since_msc is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_bid": None if self.last_bid is None else str(self.last_bid),
            "last_tick_msc": self.last_tick_msc,
            "spreads": [str(s) for s in self.spreads],
            "wide_since_msc": self.wide_since_msc,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SymbolState:
        bid = data.get("last_bid")
        return cls(
            None if bid is None else Decimal(bid),
            data.get("last_tick_msc"),
            tuple(Decimal(s) for s in data.get("spreads", ())),
            data.get("wide_since_msc"),
        )


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """One event of a symbol: `figure` is the move % (gap) or the spread's multiple of the
    median (spread), 4 dp; `before`/`now` the bids (gap) or the median and the spread."""

    kind: MarketEventKind
    symbol: str
    time_msc: int
    figure: Decimal
    threshold: Decimal
    before: Decimal
    now: Decimal
    across_close: bool = False


@dataclass(frozen=True, slots=True)
class MarketDecision:
    state: SymbolState
    events: tuple[MarketEvent, ...] = ()

    def has(self, kind: MarketEventKind) -> bool:
        return any(e.kind is kind for e in self.events)


def gap_pct(before: Decimal, now: Decimal) -> Decimal:
    """|now - before| / before * 100, percent points, unrounded (before > 0)."""
    return abs(now - before) / before * HUNDRED


def evaluate_symbol(state: SymbolState, quote: Quote, policy: MarketPolicy) -> MarketDecision:
    """The symbol's new state and events after `quote` (see the module docstring)."""
    if quote.bid <= 0 or quote.ask < quote.bid:
        return MarketDecision(state)  # no usable quote: nothing learnt
    if state.last_tick_msc is not None and quote.time_msc <= state.last_tick_msc:
        return MarketDecision(state)  # no new tick (a closed market): nothing moved
    events: list[MarketEvent] = []
    gap = _gap(state, quote, policy)
    if gap is not None:
        events.append(gap)
    wide = _wide(state, quote, policy)
    wide_since = state.wide_since_msc if wide is not None else None
    if wide is not None and state.wide_since_msc is None:
        events.append(wide)
        wide_since = quote.time_msc
    spreads = state.spreads if wide is not None else (*state.spreads, quote.spread)[-policy.spread_window :]
    return MarketDecision(SymbolState(quote.bid, quote.time_msc, spreads, wide_since), tuple(events))


def _gap(state: SymbolState, quote: Quote, policy: MarketPolicy) -> MarketEvent | None:
    if state.last_bid is None or state.last_bid <= 0 or state.last_tick_msc is None:
        return None
    moved = gap_pct(state.last_bid, quote.bid)
    if moved <= policy.gap_pct:
        return None
    across = quote.time_msc - state.last_tick_msc > policy.closed_after_s * 1000
    shown = moved.quantize(SHOWN, rounding=ROUND_HALF_EVEN)
    return MarketEvent(
        MarketEventKind.MARKET_GAP,
        quote.symbol,
        quote.time_msc,
        shown,
        policy.gap_pct,
        state.last_bid,
        quote.bid,
        across,
    )


def _wide(state: SymbolState, quote: Quote, policy: MarketPolicy) -> MarketEvent | None:
    if len(state.spreads) < policy.min_samples:
        return None
    usual = Decimal(median(state.spreads[-policy.spread_window :]))
    if usual <= 0 or quote.spread <= policy.spread_multiple * usual:
        return None
    multiple = (quote.spread / usual).quantize(SHOWN, rounding=ROUND_HALF_EVEN)
    return MarketEvent(
        MarketEventKind.SPREAD_WIDE, quote.symbol, quote.time_msc, multiple, policy.spread_multiple, usual, quote.spread
    )


def closes_on_gap(decision: MarketDecision, policy: MarketPolicy) -> bool:
    """Whether the account's positions in the symbol are to be closed now."""
    return policy.action is MarketAction.CLOSE_ON_GAP and decision.has(MarketEventKind.MARKET_GAP)


def still_held(max_hold: timedelta, made_at: datetime, now: datetime) -> bool:
    """Whether a drawdown close held by a wide spread (`held_symbols`), its intent made at
    `made_at`, still waits now: it has waited less than the symbol's `max_hold_s`; after
    that it goes, whatever the spread."""
    return now - made_at < max_hold


def held_symbols(policies: MarketPolicies, states: Mapping[str, SymbolState]) -> dict[str, timedelta]:
    """The symbols whose drawdown closes wait while their spread is wide (policy
    `hold_on_spread`), and for how long at most (each intent's age: `still_held`)."""
    return {
        symbol: policies.of(symbol).max_hold
        for symbol, state in states.items()
        if state.wide and policies.of(symbol).action is MarketAction.HOLD_ON_SPREAD
    }
