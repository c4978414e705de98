"""From the terminal's floats to Decimal, at the boundary, with explicit rounding.

A float goes through its shortest repr (`Decimal(str(x))`: 1.1 -> Decimal("1.1"), not
1.100000000000000088...) and is then quantized half-even: money 2 dp, prices and volumes
6 dp, percentages 2 dp."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from core.money import EXACT_CONTEXT, MONEY_QUANTUM, PRICE_QUANTUM
from core.mt5 import constants as c
from core.mt5.types import AccountInfo, SymbolInfo, TradeDeal, TradePosition
from core.mt5.values import AccountMode, AccountReading, ActualPosition, ClosingDeal, SymbolSpec
from core.values import Side

PERCENT_QUANTUM = Decimal("0.01")
VOLUME_QUANTUM = PRICE_QUANTUM
CLOSING_ENTRIES = frozenset({c.DEAL_ENTRY_OUT, c.DEAL_ENTRY_INOUT, c.DEAL_ENTRY_OUT_BY})


# A pure function of its two arguments (its context is EXACT_CONTEXT, never the thread's), so
# remembered: a terminal's readings repeat their values (volumes, stops, each symbol's
# current price on every position in it), and a sync converts seven per position. typed: 1
# and 1.0 are told apart. Bounded.
@lru_cache(maxsize=4096, typed=True)
def decimal_of(value: float | int, quantum: Decimal) -> Decimal:
    """`value` as Decimal, quantized half-even to `quantum`; never a negative zero."""
    result = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_EVEN, context=EXACT_CONTEXT)
    return result if result != 0 else abs(result)


def money_of(value: float | int) -> Decimal:
    return decimal_of(value, MONEY_QUANTUM)


def price_of(value: float | int) -> Decimal:
    return decimal_of(value, PRICE_QUANTUM)


def optional_price(value: float | int) -> Decimal | None:
    """sl and tp: 0.0 means none is set."""
    return None if value == 0 else price_of(value)


def epoch_msc(value: int) -> datetime:
    """Milliseconds since the epoch (the terminal's *_msc fields, already in real UTC: the
    gateway converted them from server time, core.mt5.server_time) as an aware UTC time."""
    return datetime.fromtimestamp(value // 1000, tz=UTC) + timedelta(milliseconds=value % 1000)


def account_reading(info: AccountInfo) -> AccountReading:
    netting = info.margin_mode != c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
    return AccountReading(
        login=info.login,
        server=info.server,
        currency=info.currency,
        balance=money_of(info.balance),
        equity=money_of(info.equity),
        margin_level=decimal_of(info.margin_level, PERCENT_QUANTUM),
        mode=AccountMode.NETTING if netting else AccountMode.HEDGING,
    )


def direction_of(position_type: int) -> Side:
    if position_type == c.POSITION_TYPE_BUY:
        return Side.BUY
    if position_type == c.POSITION_TYPE_SELL:
        return Side.SELL
    raise ValueError(f"unknown position type {position_type}")


def actual_position(p: TradePosition) -> ActualPosition:
    return ActualPosition(
        ticket=p.ticket,
        symbol=p.symbol,
        direction=direction_of(p.type),
        volume=decimal_of(p.volume, VOLUME_QUANTUM),
        price_open=price_of(p.price_open),
        price_current=price_of(p.price_current),
        sl=optional_price(p.sl),
        tp=optional_price(p.tp),
        magic=p.magic,
        profit=money_of(p.profit),
        swap=money_of(p.swap),
    )


def symbol_spec(info: SymbolInfo) -> SymbolSpec:
    return SymbolSpec(
        symbol=info.name,
        digits=info.digits,
        point=price_of(info.point),
        volume_step=decimal_of(info.volume_step, VOLUME_QUANTUM),
    )


def closing_deals(deals: Iterable[TradeDeal]) -> tuple[ClosingDeal, ...]:
    """The deals that took volume out of a position, oldest first."""
    out = [
        ClosingDeal(
            ticket=d.ticket,
            position_id=d.position_id,
            reason=d.reason,
            price=price_of(d.price),
            volume=decimal_of(d.volume, VOLUME_QUANTUM),
            profit=money_of(d.profit),
            time=epoch_msc(d.time_msc),
        )
        for d in deals
        if d.entry in CLOSING_ENTRIES
    ]
    return tuple(sorted(out, key=lambda d: (d.time, d.ticket)))
