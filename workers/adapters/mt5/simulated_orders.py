"""order_send in the simulator. The next scripted answer (the ticket's `close_answers`,
else the account's `order_send`) decides what the broker does; a filling answer, or none
left, goes through the checks a server makes (volume step, filling mode, the position),
then the deal: opening a position, or closing (part of) one with a DEAL_ENTRY_OUT deal of
reason EXPERT carrying the request's comment and magic, its P&L realised into the balance.

Each request and its answer go into the journal in the same locked write as the deal, with
the hidden truth (`filled`, `deal`) next to what the client was told. Kill points
(`kill_at`) let crash tests die just before the broker executes or just after it has."""

from __future__ import annotations

import math
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.mt5 import constants as c
from core.mt5.types import OrderSendResult, TradeRequest
from workers.adapters.mt5.scenario import DealSpec, PositionSpec
from workers.adapters.mt5.simulated_answers import DONE, Answer, answer_for
from workers.adapters.mt5.simulated_pending import removal_refused, remove
from workers.adapters.mt5.simulated_world import profit_at

if TYPE_CHECKING:
    from workers.adapters.mt5.simulated_state import AccountState, Json
    from workers.adapters.mt5.simulator import SimulatedMt5Gateway

#: Request filling policy -> the symbol filling flag that allows it (RETURN: always).
FILLING_FLAG = {c.ORDER_FILLING_FOK: c.SYMBOL_FILLING_FOK, c.ORDER_FILLING_IOC: c.SYMBOL_FILLING_IOC}
#: last_error() after an answer of None: the reply was lost, or the link with it.
LOST_REPLY = (c.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
LOST_LINK = (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")


@dataclass(frozen=True)
class Fill:
    deal: int
    volume: float
    price: float


def place_order(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest) -> OrderSendResult | None:
    """The broker's side of one order_send, kill points included."""
    if _kill_due(sim, account, req.position, "before_order_send"):
        _die()
    with sim.transaction(account) as journal:
        item, answer = _next_answer(account, req)
        result, fill = _execute(sim, account, req, answer, request_id=len(journal) + 1)
        journal.append(_entry(sim, account, req, item, answer, result, fill))
        kill = _fire(account, req.position, "after_order_send")
    if kill:
        _die()
    if result is None and answer.disconnect:
        sim.lose_link(LOST_LINK)
    elif result is None:
        sim.set_last_error(LOST_REPLY)
    return result


def _next_answer(account: AccountState, req: TradeRequest) -> tuple[int | str | None, Answer]:
    """The scripted answer to spend on this request (the ticket's first), or None: DONE."""
    subject = req.order if req.action == c.TRADE_ACTION_REMOVE else req.position
    scripted = account.close_answers.get(subject) if subject else None
    queue = scripted if scripted else account.answers
    item = queue.pop(0) if queue else None
    return item, (answer_for(item) if item is not None else DONE)


def _execute(
    sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest, answer: Answer, *, request_id: int
) -> tuple[OrderSendResult | None, Fill | None]:
    """The result the client gets (None: order_send returns None) and the fill, if any."""
    bid, ask = sim.quote(req.symbol) if req.symbol in sim.scenario.symbols else (0.0, 0.0)
    refused = _refusal(sim, account, req) if answer.fill else answer.retcode
    if refused is not None:
        return _result(refused, req, bid, ask, None, request_id), None
    if req.action == c.TRADE_ACTION_REMOVE:  # deleted: no deal, no volume
        remove(account, req)
        return _told(answer, req, bid, ask, request_id, None)
    step = sim.scenario.symbols[req.symbol].volume_step
    volume = _half(req.volume, step) if answer.half else req.volume
    fill = _fill(sim, account, req, volume, ask if req.type == c.ORDER_TYPE_BUY else bid)
    return _told(answer, req, bid, ask, request_id, fill)


def _told(
    answer: Answer, req: TradeRequest, bid: float, ask: float, request_id: int, fill: Fill | None
) -> tuple[OrderSendResult | None, Fill | None]:
    """What the client is told of a request the broker executed (`fill`: its deal, None for a removal)."""
    done = fill or Fill(0, 0.0, 0.0)
    if answer.retcode is None:
        return None, done
    return _result(answer.retcode, req, bid, ask, fill if answer.truthful else None, request_id), done


def _refusal(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest) -> int | None:
    """The retcode a server refuses the request with, or None when it goes through."""
    if req.action == c.TRADE_ACTION_REMOVE:
        return removal_refused(account, req)
    spec = sim.scenario.symbols.get(req.symbol)
    if req.action != c.TRADE_ACTION_DEAL or spec is None:
        return c.TRADE_RETCODE_INVALID
    steps = req.volume / spec.volume_step
    if req.volume < spec.volume_min or req.volume > spec.volume_max or abs(steps - round(steps)) > 1e-9:
        return c.TRADE_RETCODE_INVALID_VOLUME
    flag = FILLING_FLAG.get(req.type_filling)
    if flag is not None and not spec.filling_mode & flag:
        return c.TRADE_RETCODE_INVALID_FILL
    if not req.position:
        return None
    position = next((p for p in account.open_positions() if p.ticket == req.position), None)
    if position is None:
        return c.TRADE_RETCODE_POSITION_CLOSED
    if position.symbol != req.symbol or position.type == req.type:  # a close is the opposite deal
        return c.TRADE_RETCODE_INVALID
    if req.volume > position.volume + 1e-9:
        return c.TRADE_RETCODE_INVALID_CLOSE_VOLUME
    return None


def _half(volume: float, step: float) -> float:
    """Half the volume, rounded down to the volume step, at least one step."""
    return round(max(math.floor(volume / 2 / step + 1e-9), 1) * step, 8)


def _fill(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest, volume: float, price: float) -> Fill:
    account.shown = None
    deal = account.next_ticket()
    if req.position:
        _close(sim, account, req, Fill(deal, volume, price))
    else:
        account.positions.append(
            PositionSpec(
                ticket=deal,
                symbol=req.symbol,
                type=req.type,
                volume=volume,
                price_open=price,
                sl=req.sl,
                tp=req.tp,
                magic=req.magic,
                comment=req.comment,
                from_step=max(account.step, 0),
            )
        )
    return Fill(deal, volume, price)


def _close(sim: SimulatedMt5Gateway, account: AccountState, req: TradeRequest, fill: Fill) -> None:
    """Closes `fill.volume` of the position: the closed share of its P&L and swap is realised
    into the balance, the rest stays open."""
    position = next(p for p in account.open_positions() if p.ticket == req.position)
    profit = profit_at(sim, position, fill.price, fill.volume)
    swap = round(position.swap * fill.volume / position.volume, 2)
    account.positions.remove(position)
    left = round(position.volume - fill.volume, 8)
    if left > 0:
        rest_profit = None if position.profit is None else round(position.profit - profit, 2)
        account.positions.append(
            position.model_copy(update={"volume": left, "swap": round(position.swap - swap, 2), "profit": rest_profit})
        )
    account.realised = round(account.realised + profit + swap, 2)
    account.deals.append(
        DealSpec(
            ticket=fill.deal,
            position_id=position.ticket,
            symbol=position.symbol,
            type=req.type,
            entry=c.DEAL_ENTRY_OUT,
            reason=c.DEAL_REASON_EXPERT,
            volume=fill.volume,
            price=fill.price,
            profit=profit,
            swap=swap,
            magic=req.magic,
            comment=req.comment,
            time=sim.now(),
            from_step=max(account.step, 0),
        )
    )


def _result(
    code: int, req: TradeRequest, bid: float, ask: float, fill: Fill | None, request_id: int
) -> OrderSendResult:
    """What the client is told: the fill only when told DONE or DONE_PARTIAL."""
    comment = {c.TRADE_RETCODE_DONE: "Request executed", c.TRADE_RETCODE_DONE_PARTIAL: "Request executed partially"}
    deal, volume, price = (fill.deal, fill.volume, fill.price) if fill else (0, 0.0, 0.0)
    return OrderSendResult(
        code,
        deal,
        deal,
        volume,
        price,
        bid,
        ask,
        comment.get(code, c.TRADE_RETCODES.get(code, str(code))),
        request_id,
        0,
        req,
    )


def _entry(
    sim: SimulatedMt5Gateway,
    account: AccountState,
    req: TradeRequest,
    item: int | str | None,
    answer: Answer,
    result: OrderSendResult | None,
    fill: Fill | None,
) -> Json:
    told: dict[str, Any] | None = None
    if result is not None:
        told = {k: v for k, v in result._asdict().items() if k != "request"}
    lost = None if result is not None else (LOST_LINK if answer.disconnect else LOST_REPLY)
    return {
        "login": account.spec.login,
        "terminal": sim.terminal,
        "step": account.step,
        "at": sim.now().isoformat(),
        "request": req._asdict(),
        "answer": item,
        "result": told,
        "last_error": list(lost) if lost else None,
        "filled": fill is not None,
        "deal": fill.deal if fill and fill.deal else None,
        "volume_filled": fill.volume if fill else 0.0,
    }


# -- kill points (crash tests) -------------------------------------------------------------


def _kill_due(sim: SimulatedMt5Gateway, account: AccountState, ticket: int, point: str) -> bool:
    """Whether `point` fires now for the ticket; recorded as fired (in the state file) first,
    so that the restarted process goes on."""
    if account.spec.kill_at.get(ticket) != point or f"{ticket}:{point}" in account.kills_fired:
        return False
    with sim.transaction(account):
        return _fire(account, ticket, point)


def _fire(account: AccountState, ticket: int, point: str) -> bool:
    """Marks the kill point fired, in the caller's transaction; False when not due."""
    key = f"{ticket}:{point}"
    if not ticket or account.spec.kill_at.get(ticket) != point or key in account.kills_fired:
        return False
    account.kills_fired.append(key)
    return True


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
