"""Pending orders in the simulator: orders_get's TradeOrder tuples, and the broker's side of
a TRADE_ACTION_REMOVE request (the order deleted, or why not)."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from core.mt5 import constants as c
from core.mt5.server_time import msc_of_wall
from core.mt5.types import TradeOrder, TradeRequest
from workers.adapters.mt5.scenario import OrderSpec
from workers.adapters.mt5.simulated_world import broker_zone, in_group

if TYPE_CHECKING:
    from workers.adapters.mt5.simulated_state import AccountState
    from workers.adapters.mt5.simulator import SimulatedMt5Gateway


def shown_orders(
    sim: SimulatedMt5Gateway, account: AccountState, symbol: str | None, group: str | None, ticket: int | None
) -> tuple[TradeOrder, ...]:
    """orders_get's answer: the account's pending orders shown now, by ticket, filtered."""
    zone = broker_zone(sim, account.spec.server)
    return tuple(
        order_tuple(sim, o, zone)
        for o in sorted(account.pending_orders(), key=lambda o: o.ticket)
        if (symbol is None or o.symbol == symbol)
        and (ticket is None or o.ticket == ticket)
        and (group is None or in_group(o.symbol, group))
    )


def order_tuple(sim: SimulatedMt5Gateway, o: OrderSpec, zone: tzinfo = UTC) -> TradeOrder:
    """The order as the terminal shows it, placed at its from_step on the server's clock."""
    msc = msc_of_wall(sim.at_step(o.from_step), zone)
    return TradeOrder(
        o.ticket,
        msc // 1000,
        msc,
        0,
        0,
        0,
        o.type,
        c.ORDER_TIME_GTC,
        c.ORDER_FILLING_RETURN,
        c.ORDER_STATE_PLACED,
        o.magic,
        0,
        0,
        c.DEAL_REASON_CLIENT,
        o.volume,
        o.volume,
        o.price_open,
        o.sl,
        o.tp,
        o.price_open,
        0.0,
        o.symbol,
        o.comment,
        "",
    )


def removal_refused(account: AccountState, req: TradeRequest) -> int | None:
    """The retcode a server refuses the removal with (no such pending order: INVALID), or None."""
    shown = any(o.ticket == req.order for o in account.pending_orders())
    return None if shown else c.TRADE_RETCODE_INVALID


def remove(account: AccountState, req: TradeRequest) -> None:
    """The pending order `req.order` deleted (checked by removal_refused first)."""
    account.pending = [o for o in account.pending if o.ticket != req.order]
