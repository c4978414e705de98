"""Closing positions (and deleting pending orders) through the close-intent outbox, one
order at a time, by the account's close executor (tasks.mt5.close_run.CloseRun).

Each attempt is claimed in the database (the intent `sent`, attempts + 1, the request
kept) and committed before `order_send`; its answer is recorded in a second commit. A
process that finds an intent `sent` without an answer (its sender died, timed out, lost the
terminal) resolves it from `positions_get(ticket=)` and `history_deals_get(position=)`
(a removal: `orders_get(ticket=)`) before anything is sent again: a close is never sent
twice for one attempt, and the guard never opens a position (core.mt5.latch
.refuse_unguarded refuses any other request).

The first attempts of an execution go out as one batch (tasks.mt5.close_batch); the
steps of one attempt are tasks.mt5.close_attempts; here, what an answer leaves to do,
intent by intent, and the realised P&L once the closes are out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import structlog

from core.mt5.close_intents import (
    Answer,
    NextAction,
    Step,
    classify,
    mark_sent,
    resolve_unknown,
    resume_action,
)
from core.mt5.closing import intent_comment
from core.mt5.convert import decimal_of
from core.mt5.gateway import Mt5Error
from core.mt5.types import TradeDeal
from db.mt5 import guard as rows
from db.mt5.guard_models import CloseIntent
from tasks.mt5.close_attempts import claim_attempt, prepare, record, send_order
from tasks.mt5.close_batch import first_attempts
from tasks.mt5.close_run import CloseRun, Held
from tasks.mt5.market import not_held
from tasks.mt5.reading import checked

log = structlog.get_logger(__name__)
MONEY = Decimal("0.01")
Outcome = tuple[Step, Held] | None


def close_all(run: CloseRun) -> int:
    """Work every open enforce-mode intent of the account (oldest position first) until it
    is confirmed, failed or waits for the market; then the realised P&L of what closed.
    How many intents are still open."""
    with run.p.uow() as uow:
        held = [Held.of(r) for r in rows.open_intents(uow.session, [run.account.id], mode="enforce")]
    held = not_held(run, held)  # a wide spread may hold drawdown closes (market guard), bounded
    try:
        rested = first_attempts(run, held)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("closes_deferred", login=run.account.login, error=str(exc))
        run.conn.forget()
        return _still_open(run)
    going = [h for h in held if h.id not in rested]  # what the first answers left to do
    later = [h for h in going if work_intent(run, _reread(run, h.id) or h) is NextAction.CLOSE_OLDER_FIRST]
    for intent in later:  # a FIFO rule made these wait for the older ones, now closed
        work_intent(run, _reread(run, intent.id) or intent)
    _realise(run)
    return _still_open(run)


def _still_open(run: CloseRun) -> int:
    with run.p.uow() as uow:
        return rows.open_intent_counts(uow.session, [run.account.id], mode="enforce").get(run.account.id, 0)


def work_intent(run: CloseRun, intent: Held) -> NextAction | None:
    """Send and resolve until the intent rests; the action it rests on."""
    bound = run.policy.max_attempts * 3 + 4  # every step moves the intent on; this only bounds a loop
    current: Held | None = intent
    for _ in range(bound):
        if current is None:
            return None
        outcome = _one_step(run, current)
        if outcome is None:
            return None
        step, current = outcome
        if step.action in (NextAction.NONE, NextAction.WAIT_MARKET, NextAction.CLOSE_OLDER_FIRST):
            return step.action
        if step.delay_ms:
            time.sleep(step.delay_ms / 1000)
    return None


def _reread(run: CloseRun, intent_id: int) -> Held | None:
    with run.p.uow() as uow:
        row = uow.session.get(CloseIntent, intent_id)
        return None if row is None else Held.of(row)


def _one_step(run: CloseRun, intent: Held) -> Outcome:
    action = resume_action(intent.value)
    if action is NextAction.NONE:
        return None
    if action is NextAction.RESOLVE and run.p.clock() - intent.updated_at < run.mt5.unknown_after:
        return None  # its sender may still be waiting for the answer
    try:
        if action is NextAction.RESOLVE:
            return _resolve(run, intent)
        return _send(run, intent)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("close_deferred", key=intent.key, error=str(exc))
        run.conn.forget()
        return None


def _resolve(run: CloseRun, intent: Held) -> Outcome:
    """An attempt without a recorded answer: what the broker says happened."""
    gateway = run.gateway
    if intent.kind.removes:  # still listed: not deleted, send again; gone: nothing more to do
        still = checked("orders_get", gateway.orders_get(ticket=intent.ticket), gateway)
        listed = any(o.ticket == intent.ticket for o in still)
        answer = Answer.RETRY_PRICE if listed else Answer.CLOSED
        return record(run, intent, answer, None, fillings=1, resolved="listed" if listed else "removed")
    open_now = checked("positions_get", gateway.positions_get(ticket=intent.ticket), gateway)
    deals = checked("history_deals_get", gateway.history_deals_get(position=intent.ticket), gateway)
    position = next((p for p in open_now if p.ticket == intent.ticket), None)
    resolution = resolve_unknown(intent.key, intent.ticket, position, deals)
    return record(run, intent, resolution.answer, None, fillings=1, resolved=resolution.outcome.value)


def _send(run: CloseRun, intent: Held) -> Outcome:
    """One attempt: the request prepared, claimed and committed, order_send, its answer recorded."""
    prepared = prepare(run, intent)
    if prepared is None:
        return None
    request, fillings = prepared
    now = run.p.clock()
    with run.p.uow() as uow:
        if not claim_attempt(uow.session, intent, request, now, run.cycle_id):
            return None  # another process moved this intent meanwhile
        uow.commit()
    run.mt5.fault("after_intent_commit")
    result = send_order(run, request)
    run.mt5.fault("before_answer_recorded")
    retcode = None if result is None else int(result.retcode)
    run.mt5.guard_observer.close_order_attempt(retcode)
    sent = replace(intent, value=mark_sent(intent.value), updated_at=now)
    return record(run, sent, classify(retcode), result, fillings=fillings)


def _realise(run: CloseRun) -> None:
    """The realised P&L of every position the guard closed, from its closing deals, once
    the closes are all out (reading deals never delays a close)."""
    with run.p.uow() as uow:
        todo = [(r.id, r.ticket, r.idempotency_key) for r in rows.unrealised(uow.session, run.account.id)]
    found = {}
    for intent_id, ticket, key in todo:
        deals = run.gateway.history_deals_get(position=ticket)
        profit = None if deals is None else _realised(deals, key)
        if profit is not None:
            found[intent_id] = profit
    if found:
        with run.p.uow() as uow:
            rows.set_realised(uow.session, found)
            uow.commit()


def _realised(deals: Sequence[TradeDeal], key: str) -> Decimal | None:
    """The realised P&L of our closing deals of the position: profit + swap + commission + fee, 2 dp."""
    comment = intent_comment(key)
    ours = [d for d in deals if d.comment == comment]
    if not ours:
        return None
    return sum((decimal_of(v, MONEY) for d in ours for v in (d.profit, d.swap, d.commission, d.fee)), Decimal(0))
