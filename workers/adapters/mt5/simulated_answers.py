"""The answers a simulated broker can give to one order_send: a retcode, or a named
behaviour (the names scenarios use in `order_send` and `close_answers`). Some tell the
client the truth; others fill and lie about it, as a real link can (a timeout that
filled, a None result, a lost connection after the fill)."""

from __future__ import annotations

from dataclasses import dataclass

from core.mt5 import constants as c


@dataclass(frozen=True)
class Answer:
    """What the broker does with a request. `fill`: run the server's checks and execute
    (a check that refuses still refuses). `retcode`: what the client is told; None:
    order_send returns None with last_error set. `half`: fill half the requested volume.
    `disconnect`: the terminal link is lost after the fill."""

    retcode: int | None
    fill: bool = False
    half: bool = False
    disconnect: bool = False

    @property
    def truthful(self) -> bool:
        """The client is told what happened (DONE or DONE_PARTIAL for a fill)."""
        return self.retcode in (c.TRADE_RETCODE_DONE, c.TRADE_RETCODE_DONE_PARTIAL)


DONE = Answer(c.TRADE_RETCODE_DONE, fill=True)
PARTIAL = Answer(c.TRADE_RETCODE_DONE_PARTIAL, fill=True, half=True)

#: Named behaviours. Those that are only a retcode refuse the request: nothing is done.
NAMED: dict[str, Answer] = {
    "done": DONE,
    "partial": PARTIAL,
    "timeout": Answer(c.TRADE_RETCODE_TIMEOUT),
    "timeout_but_fill": Answer(c.TRADE_RETCODE_TIMEOUT, fill=True),
    "none_but_fill": Answer(None, fill=True),
    "disconnect_after_fill": Answer(None, fill=True, disconnect=True),
    "requote": Answer(c.TRADE_RETCODE_REQUOTE),
    "price_changed": Answer(c.TRADE_RETCODE_PRICE_CHANGED),
    "price_off": Answer(c.TRADE_RETCODE_PRICE_OFF),
    "market_closed": Answer(c.TRADE_RETCODE_MARKET_CLOSED),
    "invalid_fill": Answer(c.TRADE_RETCODE_INVALID_FILL),
    "connection": Answer(c.TRADE_RETCODE_CONNECTION),
    "too_many_requests": Answer(c.TRADE_RETCODE_TOO_MANY_REQUESTS),
    "locked": Answer(c.TRADE_RETCODE_LOCKED),
    "position_closed": Answer(c.TRADE_RETCODE_POSITION_CLOSED),
    "trade_disabled": Answer(c.TRADE_RETCODE_TRADE_DISABLED),
    "no_money": Answer(c.TRADE_RETCODE_NO_MONEY),
    "invalid": Answer(c.TRADE_RETCODE_INVALID),
    "invalid_close_volume": Answer(c.TRADE_RETCODE_INVALID_CLOSE_VOLUME),
    "close_only": Answer(c.TRADE_RETCODE_CLOSE_ONLY),
    "fifo_close": Answer(c.TRADE_RETCODE_FIFO_CLOSE),
}


def answer_for(item: int | str) -> Answer:
    """A scenario's answer item: a name of NAMED, or a retcode (DONE and DONE_PARTIAL fill,
    any other refuses)."""
    if isinstance(item, str):
        return NAMED[item]
    if item == c.TRADE_RETCODE_DONE:
        return DONE
    if item == c.TRADE_RETCODE_DONE_PARTIAL:
        return PARTIAL
    return Answer(item)


def check_answer(item: int | str) -> int | str:
    """Validates a scenario's answer item (for pydantic)."""
    if isinstance(item, str) and item not in NAMED:
        raise ValueError(f"unknown answer {item!r}; one of {', '.join(sorted(NAMED))} or a retcode")
    if isinstance(item, int) and item not in c.TRADE_RETCODES:
        raise ValueError(f"{item} is not a TRADE_RETCODE_* value")
    return item
