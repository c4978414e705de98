"""The simulator's world as the package shows it: paths read at a step, positions valued at
the current quote, deals as TradeDeal tuples, MT5's group masks."""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from core.mt5 import constants as c
from core.mt5.server_time import msc_of_wall, server_zone, utc_of_wall
from core.mt5.types import TradeDeal, TradePosition
from workers.adapters.mt5.scenario import DealSpec, PositionSpec

if TYPE_CHECKING:
    from workers.adapters.mt5.simulator import SimulatedMt5Gateway


def at(path: list[float], step: int) -> float:
    """The path's value at `step`; the last value stands for every later step."""
    return path[min(max(step, 0), len(path) - 1)]


def closing_price(sim: SimulatedMt5Gateway, p: PositionSpec) -> float:
    """The price the position would close at now: the bid for a buy, the ask for a sell."""
    if p.symbol not in sim.scenario.symbols:
        return p.price_open
    bid, ask = sim.quote(p.symbol)
    return bid if p.type == c.POSITION_TYPE_BUY else ask


def profit_at(sim: SimulatedMt5Gateway, p: PositionSpec, price: float, volume: float) -> float:
    """The profit of `volume` lots of the position at `price`: its share of a fixed `profit`,
    else (price - open) * volume * contract size, signed by the type, 2 dp."""
    if p.profit is not None:
        return round(p.profit * volume / p.volume, 2)
    spec = sim.scenario.symbols.get(p.symbol)
    size = spec.contract_size if spec else 1.0
    sign = 1 if p.type == c.POSITION_TYPE_BUY else -1
    return round(sign * (price - p.price_open) * volume * size, 2)


def broker_zone(sim: SimulatedMt5Gateway, server: str | None) -> tzinfo:
    """The clock the simulated server `server` shows its times on (scenario `server_time`)."""
    spec = sim.scenario.server_time.get(server or "")
    return UTC if spec is None else server_zone(spec)


def broker_bound(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A history_deals_get bound as the terminal reads it: its digits (an aware bound's in
    UTC, a naive one's as given) are the server's wall clock; as an instant (UTC)."""
    if moment is None:
        return None
    digits = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
    return utc_of_wall(digits, zone)


def position_tuple(
    sim: SimulatedMt5Gateway, p: PositionSpec, zone: tzinfo = UTC, msc: int | None = None
) -> TradePosition:
    """The position as positions_get shows it; `msc`: its times (the scenario's start on the
    server's clock), when the caller has it for many positions."""
    current = closing_price(sim, p)
    profit = profit_at(sim, p, current, p.volume)
    msc = msc_of_wall(sim.scenario.time, zone) if msc is None else msc
    return TradePosition(
        p.ticket,
        msc // 1000,
        msc,
        msc // 1000,
        msc,
        p.type,
        p.magic,
        p.ticket,
        p.reason,
        p.volume,
        p.price_open,
        p.sl,
        p.tp,
        current,
        p.swap,
        profit,
        p.symbol,
        p.comment,
        "",
    )


def deal_tuple(d: DealSpec, time: datetime, zone: tzinfo = UTC) -> TradeDeal:
    msc = msc_of_wall(time, zone)
    order = 0 if d.balance_operation else d.ticket
    return TradeDeal(
        d.ticket,
        order,
        msc // 1000,
        msc,
        d.type,
        d.entry,
        d.magic,
        d.position_id,
        d.reason,
        d.volume,
        d.price,
        d.commission,
        d.swap,
        d.profit,
        0.0,
        d.symbol,
        d.comment,
        "",
    )


def in_group(symbol: str, group: str) -> bool:
    """MT5's group filter: comma-separated masks with `*`; a mask starting with `!` excludes."""
    included = False
    for mask in (m.strip() for m in group.split(",") if m.strip()):
        if mask.startswith("!"):
            if fnmatch.fnmatchcase(symbol, mask[1:]):
                return False
        elif fnmatch.fnmatchcase(symbol, mask):
            included = True
    return included
