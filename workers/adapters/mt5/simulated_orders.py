"""order_send in the simulator: injected retcodes first, then the checks a server makes
(volume step, filling mode), then the deal: opening a position, or closing (part of) one
with a deal of reason EXPERT, as a close sent by our guard would be."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core.mt5 import constants as c
from core.mt5.types import OrderSendResult, TradeRequest
from workers.adapters.mt5.scenario import DealSpec, PositionSpec

if TYPE_CHECKING:
    from workers.adapters.mt5.simulator import AccountState, SimulatedMt5Gateway

#: Request filling policy -> the symbol filling flag that allows it (RETURN: always).
FILLING_FLAG = {c.ORDER_FILLING_FOK: c.SYMBOL_FILLING_FOK, c.ORDER_FILLING_IOC: c.SYMBOL_FILLING_IOC}


def execute_order(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest) -> OrderSendResult:
    bid, ask = sim.quote(req.symbol) if req.symbol in sim.scenario.symbols else (0.0, 0.0)
    code = _refusal(sim, account, req)
    if code is not None:
        return _result(code, req, bid, ask, 0, 0, 0.0)
    price = ask if req.type == c.ORDER_TYPE_BUY else bid
    account.shown = None
    deal = 1 + max([d.ticket for d in account.deals] + [p.ticket for p in account.positions] + [0])
    if req.position:
        _close(sim, account, req, price, deal)
    else:
        account.positions.append(PositionSpec(ticket=deal, symbol=req.symbol, type=req.type, volume=req.volume,
                                              price_open=price, sl=req.sl, tp=req.tp, magic=req.magic,
                                              from_step=max(account.step, 0)))
    return _result(c.TRADE_RETCODE_DONE, req, bid, ask, deal, deal, price)


def _refusal(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest) -> int | None:
    """The retcode that refuses the request, or None when it goes through."""
    if account.retcodes:
        code = account.retcodes.pop(0)
        if code != c.TRADE_RETCODE_DONE:
            return code
    spec = sim.scenario.symbols.get(req.symbol)
    if req.action != c.TRADE_ACTION_DEAL or spec is None:
        return c.TRADE_RETCODE_INVALID
    steps = req.volume / spec.volume_step
    if req.volume < spec.volume_min or req.volume > spec.volume_max or abs(steps - round(steps)) > 1e-9:
        return c.TRADE_RETCODE_INVALID_VOLUME
    flag = FILLING_FLAG.get(req.type_filling)
    if flag is not None and not spec.filling_mode & flag:
        return c.TRADE_RETCODE_INVALID_FILL
    if req.position and req.position not in {p.ticket for p in account.open_positions()}:
        return c.TRADE_RETCODE_POSITION_CLOSED
    return None


def _close(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest, price: float, deal: int) -> None:
    position = next(p for p in account.open_positions() if p.ticket == req.position)
    account.positions.remove(position)
    left = round(position.volume - req.volume, 8)
    if left > 0:
        account.positions.append(position.model_copy(update={"volume": left}))
    account.deals.append(DealSpec(ticket=deal, position_id=position.ticket, symbol=position.symbol, type=req.type,
                                  entry=c.DEAL_ENTRY_OUT, reason=c.DEAL_REASON_EXPERT, volume=req.volume,
                                  price=price, magic=req.magic, time=sim.now(), from_step=max(account.step, 0)))


def _result(code: int, req: TradeRequest, bid: float, ask: float, deal: int, order: int,
            price: float) -> OrderSendResult:
    comment = "Request executed" if code == c.TRADE_RETCODE_DONE else c.TRADE_RETCODES.get(code, str(code))
    volume = req.volume if code == c.TRADE_RETCODE_DONE else 0.0
    return OrderSendResult(code, deal, order, volume, price, bid, ask, comment, 1, 0, req)
