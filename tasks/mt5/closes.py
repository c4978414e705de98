"""Closing positions through the close-intent outbox, one order at a time.

Each attempt is claimed in the database (the intent `sent`, attempts + 1, the request
kept) and committed before `order_send`; its answer is recorded in a second commit. A
process that finds an intent `sent` without an answer (its sender died, timed out, lost the
terminal) resolves it from `positions_get(ticket=)` and `history_deals_get(position=)`
before anything is sent again: a close is never sent twice for one attempt, and the
guard never opens a position (core.mt5.closing refuses a request without `position`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from core.mt5.close_intents import CloseIntent as IntentValue
from core.mt5.close_intents import (Answer, IntentStatus, NextAction, Step, classify, mark_sent, next_step,
                                    resolve_unknown, resume_action)
from core.mt5.convert import decimal_of
from core.mt5.closing import allowed_fillings, close_request, intent_comment, refuse_opening
from core.mt5.gateway import Mt5Error
from core.mt5.guard_policy import GuardPolicy
from core.mt5.types import OrderSendResult, SymbolInfo
from core.mt5.values import Account
from db.audit import record_event
from db.mt5 import guard as rows
from db.mt5.guard_models import CloseIntent
from tasks.mt5.reading import Connection, checked
from tasks.runtime import runtime

log = structlog.get_logger(__name__)
MONEY = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Held:
    """An intent as this process last knew it: its row, and the state a compare-and-set
    moves it from."""

    id: int
    key: str
    login: int
    ticket: int
    symbol: str
    value: IntentValue
    updated_at: datetime

    @classmethod
    def of(cls, row: CloseIntent) -> Held:
        return cls(row.id, row.idempotency_key, row.login, row.ticket, row.symbol, rows.intent_value(row),
                   row.updated_at)


def close_all(conn: Connection, account: Account, policy: GuardPolicy) -> list[CloseIntent]:
    """Work every open enforce-mode intent of the account (oldest position first) until it
    is confirmed, failed or waits for the market; then the realised P&L of what closed.
    The intents still open."""
    rt = runtime()
    with rt.uow() as uow:
        held = [Held.of(r) for r in rows.open_intents(uow.session, [account.id], mode="enforce")]
    symbols: dict[str, SymbolInfo] = {}
    try:
        rested = _first_attempts(conn.gateway, account, policy, held, symbols)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("closes_deferred", login=account.login, error=str(exc))
        conn.forget()
        return held_rows(account)
    going = [h for h in held if h.id not in rested]  # what the first answers left to do
    later = [h for h in going if work_intent(conn, account, policy, _reread(h.id) or h, symbols)
             is NextAction.CLOSE_OLDER_FIRST]
    for intent in later:  # a FIFO rule made these wait for the older ones, now closed
        work_intent(conn, account, policy, _reread(intent.id) or intent, symbols)
    _realise(conn, account)
    return held_rows(account)


def held_rows(account: Account) -> list[CloseIntent]:
    with runtime().uow() as uow:
        return rows.open_intents(uow.session, [account.id], mode="enforce")


def _first_attempts(gateway: Any, account: Account, policy: GuardPolicy, held: list[Held],
                    symbols: dict[str, SymbolInfo]) -> set[int]:
    """The first attempt of every intent waiting to be sent, as one batch: every request
    (a fresh tick each) claimed in one commit, the orders sent, their answers recorded in
    one commit. What an answer leaves to do goes on intent by intent (work_intent); the ids
    of the intents that rest (confirmed, failed, waiting for the market)."""
    rt = runtime()
    ready: list[tuple[Held, dict[str, Any], int]] = []
    for intent in held:
        if resume_action(intent.value) is NextAction.SEND:
            prepared = _prepare(gateway, account, intent, policy, symbols)
            if prepared is not None:
                ready.append((intent, *prepared))
    if not ready:
        return set()
    now = rt.clock()
    with rt.uow() as uow:
        claimed = [(intent, request, fillings) for intent, request, fillings in ready
                   if _claim_attempt(uow.session, intent, request, now)]
        uow.commit()
    answers = []
    for intent, request, fillings in claimed:
        rt.fault("after_intent_commit")
        result = _order_send(gateway, request)
        rt.fault("before_answer_recorded")
        rt.guard_observer.close_order_attempt(None if result is None else int(result.retcode))
        answers.append((replace(intent, value=mark_sent(intent.value), updated_at=now), result, fillings))
    return _record_all(answers, policy)


def _prepare(gateway: Any, account: Account, intent: Held, policy: GuardPolicy,
             symbols: dict[str, SymbolInfo]) -> tuple[dict[str, Any], int] | None:
    """The request closing the position as the broker shows it now, at a fresh tick, and
    how many filling modes the symbol allows; None when the position is gone (recorded)."""
    found = checked("positions_get", gateway.positions_get(ticket=intent.ticket), gateway)
    position = next((p for p in found if p.ticket == intent.ticket), None)
    if position is None:  # gone before we sent anything more: nothing to close
        _record(intent, Answer.CLOSED, None, policy, fillings=1, resolved="position_gone")
        return None
    if intent.symbol not in symbols:
        symbols[intent.symbol] = checked("symbol_info", gateway.symbol_info(intent.symbol), gateway)
    spec = symbols[intent.symbol]
    tick = checked("symbol_info_tick", gateway.symbol_info_tick(intent.symbol), gateway)
    magic = account.magic_numbers[0] if account.magic_numbers else 0
    request = close_request(position, tick, spec.filling_mode, magic, policy.deviation_points, intent.key,
                            intent.value.filling_index)
    refuse_opening(request)  # ours, again, at the last moment before the gateway
    return request, len(allowed_fillings(spec.filling_mode))


def _claim_attempt(session: Any, intent: Held, request: dict[str, Any], now: datetime) -> bool:
    """The attempt, claimed (compare-and-set) with its request and audited; False when
    another process moved the intent meanwhile."""
    sent = mark_sent(intent.value)
    if not rows.claim(session, intent.id, intent.value, sent, now=now, last_request=dict(request)):
        return False
    record_event(session, "close_order_sent", entity_type="close_intent", entity_id=intent.key, now=now,
                 details={"attempt": sent.attempts, "request": _as_text(request)})
    return True


def work_intent(conn: Connection, account: Account, policy: GuardPolicy, intent: Held,
                symbols: dict[str, SymbolInfo]) -> NextAction | None:
    """Send and resolve until the intent rests; the action it rests on."""
    bound = policy.max_attempts * 3 + 4  # every step moves the intent on; this only bounds a loop
    current: Held | None = intent
    for _ in range(bound):
        if current is None:
            return None
        outcome = _one_step(conn, account, policy, current, symbols)
        if outcome is None:
            return None
        step, current = outcome
        if step.action in (NextAction.NONE, NextAction.WAIT_MARKET, NextAction.CLOSE_OLDER_FIRST):
            return step.action
        if step.delay_ms:
            time.sleep(step.delay_ms / 1000)
    return None


def _reread(intent_id: int) -> Held | None:
    with runtime().uow() as uow:
        row = uow.session.get(CloseIntent, intent_id)
        return None if row is None else Held.of(row)


def _one_step(conn: Connection, account: Account, policy: GuardPolicy, intent: Held,
              symbols: dict[str, SymbolInfo]) -> tuple[Step, Held] | None:
    rt = runtime()
    action = resume_action(intent.value)
    if action is NextAction.NONE:
        return None
    if action is NextAction.RESOLVE and rt.clock() - intent.updated_at < rt.unknown_after:
        return None  # its sender may still be waiting for the answer
    try:
        if action is NextAction.RESOLVE:
            return _resolve(conn.gateway, intent, policy)
        return _send(conn.gateway, account, intent, policy, symbols)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("close_deferred", key=intent.key, error=str(exc))
        conn.forget()
        return None


def _resolve(gateway: Any, intent: Held, policy: GuardPolicy) -> tuple[Step, Held] | None:
    """An attempt without a recorded answer: what the broker says happened."""
    still = checked("positions_get", gateway.positions_get(ticket=intent.ticket), gateway)
    deals = checked("history_deals_get", gateway.history_deals_get(position=intent.ticket), gateway)
    open_now = next((p for p in still if p.ticket == intent.ticket), None)
    resolution = resolve_unknown(intent.key, intent.ticket, open_now, deals)
    return _record(intent, resolution.answer, None, policy, fillings=1, resolved=resolution.outcome.value)


def _send(gateway: Any, account: Account, intent: Held, policy: GuardPolicy,
          symbols: dict[str, SymbolInfo]) -> tuple[Step, Held] | None:
    """One attempt: the request prepared, claimed and committed, order_send, its answer recorded."""
    rt = runtime()
    prepared = _prepare(gateway, account, intent, policy, symbols)
    if prepared is None:
        return None
    request, fillings = prepared
    now = rt.clock()
    with rt.uow() as uow:
        if not _claim_attempt(uow.session, intent, request, now):
            return None  # another process moved this intent meanwhile
        uow.commit()
    rt.fault("after_intent_commit")
    result = _order_send(gateway, request)
    rt.fault("before_answer_recorded")
    retcode = None if result is None else int(result.retcode)
    rt.guard_observer.close_order_attempt(retcode)
    return _record(replace(intent, value=mark_sent(intent.value), updated_at=now), classify(retcode), result, policy,
                   fillings=fillings)


def _order_send(gateway: Any, request: dict[str, Any]) -> OrderSendResult | None:
    try:
        result: OrderSendResult | None = gateway.order_send(request)
    except (OSError, EOFError, Mt5Error) as exc:  # a bridge that lost its link: the outcome is unknown
        log.warning("close_order_send_broke", error=f"{type(exc).__name__}: {exc}")
        return None
    return result


def _record(intent: Held, answer: Answer, result: OrderSendResult | None, policy: GuardPolicy, *,
            fillings: int, resolved: str | None = None) -> tuple[Step, Held] | None:
    """The answer of the intent's latest attempt, committed."""
    with runtime().uow() as uow:
        outcome = _record_in(uow.session, intent, answer, result, policy, fillings=fillings, resolved=resolved)
        uow.commit()
    return outcome


def _record_all(answers: list[tuple[Held, OrderSendResult | None, int]], policy: GuardPolicy) -> set[int]:
    """The answers of a batch of attempts, in one commit; the ids of the intents they rest."""
    resting = (NextAction.NONE, NextAction.WAIT_MARKET)
    rested: set[int] = set()
    with runtime().uow() as uow:
        for intent, result, fillings in answers:
            retcode = None if result is None else int(result.retcode)
            outcome = _record_in(uow.session, intent, classify(retcode), result, policy, fillings=fillings)
            if outcome is not None and outcome[0].action in resting:
                rested.add(intent.id)
        uow.commit()
    return rested


def _record_in(session: Any, intent: Held, answer: Answer, result: OrderSendResult | None, policy: GuardPolicy, *,
               fillings: int, resolved: str | None = None) -> tuple[Step, Held] | None:
    """Record the answer in this unit of work (compare-and-set from the attempt's state);
    alerts of a failure or a closed market queued with it."""
    rt = runtime()
    step = next_step(intent.value, answer, policy.max_attempts, fillings)
    now = rt.clock()
    columns: dict[str, Any] = {"last_retcode": None if result is None else int(result.retcode),
                               "last_result": _result_json(result)}
    if step.intent.status in (IntentStatus.CONFIRMED, IntentStatus.FAILED):
        columns["resolved_at"] = now
        if step.intent.status is IntentStatus.FAILED:
            columns["error"] = f"gave up after {intent.value.attempts} attempt(s), last answer {answer.value}"
    if not rows.claim(session, intent.id, intent.value, step.intent, now=now, **columns):
        return None
    record_event(session, "close_answer_recorded", entity_type="close_intent", entity_id=intent.key,
                 now=now, details={"answer": answer.value, "retcode": columns["last_retcode"],
                                   "status": step.intent.status.value, "resolved": resolved})
    if step.alert:
        kind = "market_closed" if step.intent.status is IntentStatus.WAITING_MARKET else "close_failed"
        rows.add_notification(session, f"{intent.key}:{kind}", kind, intent.login,
                              f"MT5 {intent.login}: close of position {intent.ticket} {kind.replace('_', ' ')}",
                              {"key": intent.key, "answer": answer.value}, now=now)
    if step.intent.status is IntentStatus.CONFIRMED:
        rt.guard_observer.position_autoclosed("drawdown_guard")
    log.info("close_answer_recorded", key=intent.key, answer=answer.value, status=step.intent.status.value)
    return step, replace(intent, value=step.intent, updated_at=now)


def _realise(conn: Connection, account: Account) -> None:
    """The realised P&L of every position the guard closed, from its closing deals, once
    the closes are all out (reading deals never delays a close)."""
    rt = runtime()
    with rt.uow() as uow:
        todo = [(r.id, r.ticket, r.idempotency_key) for r in rows.unrealised(uow.session, account.id)]
    gateway = conn.gateway
    found = {}
    for intent_id, ticket, key in todo:
        deals = gateway.history_deals_get(position=ticket)
        profit = None if deals is None else _realised(deals, key)
        if profit is not None:
            found[intent_id] = profit
    if found:
        with rt.uow() as uow:
            rows.set_realised(uow.session, found)
            uow.commit()


def _realised(deals: Any, key: str) -> Decimal | None:
    """The realised P&L of our closing deals of the position: profit + swap + commission + fee, 2 dp."""
    comment = intent_comment(key)
    ours = [d for d in deals if d.comment == comment]
    if not ours:
        return None
    return sum((decimal_of(v, MONEY) for d in ours for v in (d.profit, d.swap, d.commission, d.fee)), Decimal(0))


def _as_text(wire: dict[str, Any]) -> dict[str, Any]:
    """The broker's floats as their text, for the audit log (whose values are exact)."""
    return {k: str(v) if isinstance(v, float) else v for k, v in wire.items()}


def _result_json(result: OrderSendResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    fields = result._asdict()
    fields.pop("request", None)
    return {k: v for k, v in fields.items() if isinstance(v, int | float | str)}
