"""Closing positions through the close-intent outbox, one order at a time.

Each attempt is claimed in the database (the intent `sent`, attempts + 1, the request
kept) and committed before `order_send`; its answer is recorded in a second commit. A
process that finds an intent `sent` without an answer (its sender died, timed out, lost the
terminal) resolves it from `positions_get(ticket=)` and `history_deals_get(position=)`
before anything is sent again: a close is never sent twice for one attempt, and the
guard never opens a position (core.mt5.closing refuses a request without `position`)."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import structlog

from core.mt5.close_intents import (Answer, IntentStatus, NextAction, Step, classify, mark_sent, next_step,
                                    resolve_unknown, resume_action)
from core.mt5.convert import decimal_of
from core.mt5.closing import allowed_fillings, close_request, intent_comment, refuse_opening
from core.mt5.gateway import Mt5Error
from core.mt5.guard_policy import GuardPolicy
from core.mt5.types import OrderSendResult
from core.mt5.values import Account
from db.audit import record_event
from db.mt5 import guard as rows
from db.mt5.guard_models import CloseIntent
from tasks.mt5.reading import Connection, checked
from tasks.runtime import runtime

log = structlog.get_logger(__name__)
MONEY = Decimal("0.01")


def close_all(conn: Connection, account: Account, policy: GuardPolicy) -> list[CloseIntent]:
    """Work every open enforce-mode intent of the account (oldest position first) until it
    is confirmed, failed or waits for the market; the intents as they end."""
    rt = runtime()
    with rt.uow() as uow:
        ids = [r.id for r in rows.open_intents(uow.session, [account.id], mode="enforce")]
    later = [i for i in ids if work_intent(conn, account, policy, i) is NextAction.CLOSE_OLDER_FIRST]
    for intent_id in later:  # a FIFO rule made these wait for the older ones, now closed
        work_intent(conn, account, policy, intent_id)
    with rt.uow() as uow:
        return rows.open_intents(uow.session, [account.id], mode="enforce")


def work_intent(conn: Connection, account: Account, policy: GuardPolicy, intent_id: int) -> NextAction | None:
    """Send and resolve until the intent rests; the action it rests on."""
    bound = policy.max_attempts * 3 + 4  # every step moves the intent on; this only bounds a loop
    for _ in range(bound):
        step = _one_step(conn, account, policy, intent_id)
        if step is None or step.action in (NextAction.NONE, NextAction.WAIT_MARKET, NextAction.CLOSE_OLDER_FIRST):
            return None if step is None else step.action
        if step.delay_ms:
            time.sleep(step.delay_ms / 1000)
    return None


def _one_step(conn: Connection, account: Account, policy: GuardPolicy, intent_id: int) -> Step | None:
    rt = runtime()
    with rt.uow() as uow:
        row = rows.detached_intent(uow.session, intent_id)
        if row is None:
            return None
        value = rows.intent_value(row)
        action = resume_action(value)
        if action is NextAction.NONE:
            return None
        if action is NextAction.RESOLVE and rt.clock() - row.updated_at < rt.unknown_after:
            return None  # its sender may still be waiting for the answer
    try:
        if action is NextAction.RESOLVE:
            return _resolve(conn.gateway, row, policy)
        return _send(conn.gateway, account, row, policy)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("close_deferred", key=row.idempotency_key, error=str(exc))
        conn.forget()
        return None


def _resolve(gateway: Any, row: CloseIntent, policy: GuardPolicy) -> Step | None:
    """An attempt without a recorded answer: what the broker says happened."""
    still = checked("positions_get", gateway.positions_get(ticket=row.ticket), gateway)
    deals = checked("history_deals_get", gateway.history_deals_get(position=row.ticket), gateway)
    open_now = next((p for p in still if p.ticket == row.ticket), None)
    resolution = resolve_unknown(row.idempotency_key, row.ticket, open_now, deals)
    return _record(row, resolution.answer, None, policy, fillings=1, resolved=resolution.outcome.value,
                   profit=_realised(deals, row.idempotency_key))


def _send(gateway: Any, account: Account, row: CloseIntent, policy: GuardPolicy) -> Step | None:
    rt = runtime()
    found = checked("positions_get", gateway.positions_get(ticket=row.ticket), gateway)
    position = next((p for p in found if p.ticket == row.ticket), None)
    if position is None:  # gone before we sent anything more: nothing to close
        return _record(row, Answer.CLOSED, None, policy, fillings=1, resolved="position_gone")
    spec = checked("symbol_info", gateway.symbol_info(row.symbol), gateway)
    tick = checked("symbol_info_tick", gateway.symbol_info_tick(row.symbol), gateway)
    magic = account.magic_numbers[0] if account.magic_numbers else 0
    request = close_request(position, tick, spec.filling_mode, magic, policy.deviation_points, row.idempotency_key,
                            row.filling_index)
    refuse_opening(request)  # ours, again, at the last moment before the gateway
    sent = mark_sent(rows.intent_value(row))
    with rt.uow() as uow:
        fresh = uow.session.get(CloseIntent, row.id)
        if fresh is None or not rows.claim(uow.session, fresh, sent, now=rt.clock(), last_request=dict(request)):
            return None  # another process moved this intent meanwhile
        record_event(uow.session, "close_order_sent", entity_type="close_intent", entity_id=row.idempotency_key,
                     now=rt.clock(), details={"attempt": sent.attempts, "request": _as_text(request)})
        uow.commit()
    rt.fault("after_intent_commit")
    result = _order_send(gateway, request)
    rt.fault("before_answer_recorded")
    retcode = None if result is None else int(result.retcode)
    rt.guard_observer.close_order_attempt(retcode)
    with rt.uow() as uow:
        sent_row = rows.detached_intent(uow.session, row.id)
        assert sent_row is not None
    profit = None
    if classify(retcode) in (Answer.DONE, Answer.CLOSED):
        profit = _profit_of(gateway, row)
    return _record(sent_row, classify(retcode), result, policy, fillings=len(allowed_fillings(spec.filling_mode)),
                   profit=profit)


def _order_send(gateway: Any, request: dict[str, Any]) -> OrderSendResult | None:
    try:
        result: OrderSendResult | None = gateway.order_send(request)
    except (OSError, EOFError, Mt5Error) as exc:  # a bridge that lost its link: the outcome is unknown
        log.warning("close_order_send_broke", error=f"{type(exc).__name__}: {exc}")
        return None
    return result


def _record(row: CloseIntent, answer: Answer, result: OrderSendResult | None, policy: GuardPolicy, *,
            fillings: int, resolved: str | None = None, profit: Decimal | None = None) -> Step | None:
    """The answer of the intent's latest attempt, committed; alerts of a failure or a
    closed market queued with it."""
    rt = runtime()
    value = rows.intent_value(row)
    step = next_step(value, answer, policy.max_attempts, fillings)
    now = rt.clock()
    columns: dict[str, Any] = {"last_retcode": None if result is None else int(result.retcode),
                               "last_result": _result_json(result)}
    if step.intent.status in (IntentStatus.CONFIRMED, IntentStatus.FAILED):
        columns["resolved_at"] = now
        columns["realised_profit"] = profit
        if step.intent.status is IntentStatus.FAILED:
            columns["error"] = f"gave up after {value.attempts} attempt(s), last answer {answer.value}"
    with rt.uow() as uow:
        fresh = uow.session.get(CloseIntent, row.id)
        if fresh is None or not rows.claim(uow.session, fresh, step.intent, now=now, **columns):
            return None
        record_event(uow.session, "close_answer_recorded", entity_type="close_intent", entity_id=row.idempotency_key,
                     now=now, details={"answer": answer.value, "retcode": columns["last_retcode"],
                                       "status": step.intent.status.value, "resolved": resolved})
        if step.alert:
            kind = "market_closed" if step.intent.status is IntentStatus.WAITING_MARKET else "close_failed"
            rows.add_notification(uow.session, f"{row.idempotency_key}:{kind}", kind, row.login,
                                  f"MT5 {row.login}: close of position {row.ticket} {kind.replace('_', ' ')}",
                                  {"key": row.idempotency_key, "answer": answer.value}, now=now)
        uow.commit()
    if step.intent.status is IntentStatus.CONFIRMED:
        rt.guard_observer.position_autoclosed("drawdown_guard")
    log.info("close_answer_recorded", key=row.idempotency_key, answer=answer.value, status=step.intent.status.value)
    return step


def _profit_of(gateway: Any, row: CloseIntent) -> Decimal | None:
    deals = gateway.history_deals_get(position=row.ticket)
    return None if deals is None else _realised(deals, row.idempotency_key)


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
