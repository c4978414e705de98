"""Closing a position through order_send: the request, the filling mode, and the refusal
of anything that could open one.

The request is built from the wire shapes the gateway gives just before sending (the
position from positions_get(ticket=), a fresh symbol_info_tick, symbol_info().filling_mode)
and stays in them: volume and price are the terminal's own floats, passed through, never
computed here. The volume is the position's volume as read, which is what remains after
a partial fill; so a close is always re-built from a fresh read, never from a stored one.

- Closing a buy sells at the bid (ORDER_TYPE_SELL); closing a sell buys at the ask.
- Every request carries `position` = the ticket: without it order_send would open a new
  position. `refuse_opening` is the last check before the gateway.
- The comment is the close intent's key (core.keys.close_intent_key); MT5 keeps 31
  characters of a comment, so a longer key is shortened by `intent_comment` (the login,
  implied by the account, is dropped; then a digest), and the same function finds it in
  the closing deal's comment.
- Fillings are tried in the order FOK, IOC (those the symbol's filling_mode bit set
  allows: SYMBOL_FILLING_FOK = 1, SYMBOL_FILLING_IOC = 2), then RETURN; 10030 INVALID_FILL
  moves to the next (core.mt5.close_intents.next_step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from hashlib import blake2b

from core.errors import HedgeopsError
from core.mt5 import constants as c
from core.mt5.convert import direction_of
from core.mt5.gateway import RequestValue
from core.mt5.types import Tick, TradePosition
from core.values import Side

#: MT5 keeps this many characters of an order's comment.
MAX_COMMENT = 31


class RequestRefused(HedgeopsError):
    """Our own code refuses to send a request (it could open a position, or it cannot be built)."""


def side_of(position_type: int) -> Side:
    """The side of a position of this type (RequestRefused for a type we do not know)."""
    try:
        return direction_of(position_type)
    except ValueError as exc:
        raise RequestRefused(str(exc)) from None


def closing_order_type(side: Side) -> int:
    """The order type that closes a position of this side: the opposite one."""
    return c.ORDER_TYPE_SELL if side is Side.BUY else c.ORDER_TYPE_BUY


def intent_comment(intent_key: str) -> str:
    """The order comment for an intent key: the key itself when it fits in 31 characters;
    else without its login (`CLOSE:<ticket>:ep<n>`); else `CLOSE:` and a 24-hex digest."""
    if len(intent_key) <= MAX_COMMENT:
        return intent_key
    prefix, _, rest = intent_key.partition(":")
    short = f"{prefix}:{rest.partition(':')[2]}"
    if len(short) <= MAX_COMMENT and rest.count(":") >= 2:
        return short
    return f"{prefix[:6]}:{blake2b(intent_key.encode(), digest_size=12).hexdigest()}"


def allowed_fillings(filling_mode: int) -> tuple[int, ...]:
    """The ORDER_FILLING_* policies to try, in order, for a symbol's filling_mode flags:
    FOK if bit 1 is set, IOC if bit 2 is set, and RETURN last in every case."""
    modes = []
    if filling_mode & c.SYMBOL_FILLING_FOK:
        modes.append(c.ORDER_FILLING_FOK)
    if filling_mode & c.SYMBOL_FILLING_IOC:
        modes.append(c.ORDER_FILLING_IOC)
    return (*modes, c.ORDER_FILLING_RETURN)


def close_request(
    position: TradePosition,
    tick: Tick,
    filling_mode_flags: int,
    magic: int,
    deviation: int,
    intent_key: str,
    filling_index: int = 0,
) -> dict[str, RequestValue]:
    """The order_send request closing all of `position` (its volume as just read) at the
    tick's bid (a buy) or ask (a sell), with the `filling_index`-th allowed filling."""
    fillings = allowed_fillings(filling_mode_flags)
    if not 0 <= filling_index < len(fillings):
        raise RequestRefused(f"no filling mode #{filling_index} for filling_mode {filling_mode_flags}")
    side = side_of(position.type)
    price = tick.bid if side is Side.BUY else tick.ask
    if price <= 0 or position.volume <= 0:
        raise RequestRefused(f"position {position.ticket}: no price or no volume to close")
    request: dict[str, RequestValue] = {
        "action": c.TRADE_ACTION_DEAL,
        "position": position.ticket,
        "symbol": position.symbol,
        "volume": position.volume,
        "type": closing_order_type(side),
        "price": price,
        "deviation": deviation,
        "magic": magic,
        "comment": intent_comment(intent_key),
        "type_time": c.ORDER_TIME_GTC,
        "type_filling": fillings[filling_index],
    }
    refuse_opening(request)
    return request


def refuse_opening(request: Mapping[str, object]) -> None:
    """Raise RequestRefused unless the request is a market deal on an existing position
    (action TRADE_ACTION_DEAL and a positive integer `position`): the guard never opens one."""
    ticket = request.get("position")
    if isinstance(ticket, bool) or not isinstance(ticket, int) or ticket <= 0:
        raise RequestRefused("a close request must carry the position ticket; without it order_send opens a position")
    if request.get("action") != c.TRADE_ACTION_DEAL:
        action = request.get("action")
        raise RequestRefused(f"the guard only sends market closes (TRADE_ACTION_DEAL), not action {action}")


def fifo_order(positions: Iterable[TradePosition]) -> tuple[TradePosition, ...]:
    """Oldest first (opening time in ms, then ticket): the order a FIFO account closes in."""
    return tuple(sorted(positions, key=lambda p: (p.time_msc, p.ticket)))
