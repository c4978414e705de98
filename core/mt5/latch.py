"""The latch holds: what a sync of a tripped account does with the positions and pending
orders it finds. Every open position in scope without an intent of the episode gets one
(`reopened`: it was opened, or came back, while the account was tripped) and every pending
order in scope one (`pending_order`: it is deleted with TRADE_ACTION_REMOVE), each once per
episode (its key), until an audited reset. Positions and pending orders are told apart by
their kind, not their tickets: a pending order that fills opens a position of its ticket.

Pure: the task reads the terminal, then commits the intents these functions choose."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum

from core.mt5 import constants as c
from core.mt5.closing import RequestRefused, intent_comment, refuse_opening
from core.mt5.gateway import RequestValue
from core.mt5.guard_policy import GuardPolicy, in_scope
from core.mt5.types import TradeOrder, TradePosition


class IntentKind(StrEnum):
    EXECUTION = "execution"  # open when the account tripped
    REOPENED = "reopened"  # found open at a later sync of the tripped account
    PENDING_ORDER = "pending_order"  # a pending order, deleted
    MARKET_GAP = "market_gap"  # its symbol gapped (market guard, close_on_gap)

    @property
    def removes(self) -> bool:
        return self is IntentKind.PENDING_ORDER

    @property
    def drawdown_close(self) -> bool:
        """A close of the drawdown guard (a wide spread may hold it: core.mt5.market_guard)."""
        return self in (IntentKind.EXECUTION, IntentKind.REOPENED)


def positions_to_close(
    policy: GuardPolicy, positions: Iterable[TradePosition], held: Collection[int]
) -> tuple[TradePosition, ...]:
    """The open positions in scope whose ticket has no close intent of the episode (`held`)."""
    return tuple(p for p in positions if in_scope(policy, p.magic, p.symbol) and p.ticket not in held)


def orders_to_remove(
    policy: GuardPolicy, orders: Iterable[TradeOrder], held: Collection[int]
) -> tuple[TradeOrder, ...]:
    """The pending orders in scope whose ticket has no removal intent of the episode (`held`)."""
    return tuple(o for o in orders if in_scope(policy, o.magic, o.symbol) and o.ticket not in held)


def remove_request(order: TradeOrder, magic: int, intent_key: str) -> dict[str, RequestValue]:
    """The order_send request deleting the pending order (TRADE_ACTION_REMOVE, its ticket)."""
    request: dict[str, RequestValue] = {
        "action": c.TRADE_ACTION_REMOVE,
        "order": order.ticket,
        "symbol": order.symbol,
        "magic": magic,
        "comment": intent_comment(intent_key),
    }
    refuse_unguarded(request)
    return request


def refuse_unguarded(request: Mapping[str, object]) -> None:
    """The last check before the gateway: a market close of a position (closing
    .refuse_opening) or the removal of a pending order by its ticket; anything else is
    RequestRefused (the guard never opens a position nor places an order)."""
    if request.get("action") != c.TRADE_ACTION_REMOVE:
        refuse_opening(request)
        return
    ticket = request.get("order")
    if isinstance(ticket, bool) or not isinstance(ticket, int) or ticket <= 0:
        raise RequestRefused("a removal must carry the pending order's ticket")
