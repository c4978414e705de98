"""Closing positions through the close-intent outbox, one order at a time.

Each attempt is claimed in the database (the intent `sent`, attempts + 1, the request
kept) and committed before `order_send`; its answer is recorded in a second commit. A
process that finds an intent `sent` without an answer (its sender died, timed out, lost the
terminal) resolves it from `positions_get(ticket=)` and `history_deals_get(position=)`
before anything is sent again: a close is never sent twice for one attempt, and the
guard never opens a position (core.mt5.closing refuses a request without `position`).

The first attempts of an execution go out as one batch (tasks.mt5.close_batch); the
steps of one attempt are tasks.mt5.close_attempts; here, what an answer leaves to do,
intent by intent, and the realised P&L once the closes are out."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

import structlog

from core.mt5.close_intents import NextAction, Step, classify, mark_sent, resolve_unknown, resume_action
from core.mt5.closing import intent_comment
from core.mt5.convert import decimal_of
from core.mt5.gateway import Mt5Error
from core.mt5.guard_policy import GuardPolicy
from core.mt5.types import SymbolInfo
from core.mt5.values import Account
from db.mt5 import guard as rows
from db.mt5.guard_models import CloseIntent
from tasks.mt5.close_attempts import Held, claim_attempt, order_send, prepare, record
from tasks.mt5.close_batch import first_attempts
from tasks.mt5.ports import Mt5Ports
from tasks.mt5.reading import Connection, checked
from tasks.ports import Ports

log = structlog.get_logger(__name__)
MONEY = Decimal("0.01")


def close_all(p: Ports, mt5: Mt5Ports, conn: Connection, account: Account, policy: GuardPolicy) -> list[CloseIntent]:
    """Work every open enforce-mode intent of the account (oldest position first) until it
    is confirmed, failed or waits for the market; then the realised P&L of what closed.
    The intents still open."""
    with p.uow() as uow:
        held = [Held.of(r) for r in rows.open_intents(uow.session, [account.id], mode="enforce")]
    symbols: dict[str, SymbolInfo] = {}
    try:
        rested = first_attempts(p, mt5, conn.gateway, account, policy, held, symbols)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("closes_deferred", login=account.login, error=str(exc))
        conn.forget()
        return held_rows(p, account)
    going = [h for h in held if h.id not in rested]  # what the first answers left to do
    later = [
        h
        for h in going
        if work_intent(p, mt5, conn, account, policy, _reread(p, h.id) or h, symbols) is NextAction.CLOSE_OLDER_FIRST
    ]
    for intent in later:  # a FIFO rule made these wait for the older ones, now closed
        work_intent(p, mt5, conn, account, policy, _reread(p, intent.id) or intent, symbols)
    _realise(p, conn, account)
    return held_rows(p, account)


def held_rows(p: Ports, account: Account) -> list[CloseIntent]:
    with p.uow() as uow:
        return rows.open_intents(uow.session, [account.id], mode="enforce")


def work_intent(
    p: Ports,
    mt5: Mt5Ports,
    conn: Connection,
    account: Account,
    policy: GuardPolicy,
    intent: Held,
    symbols: dict[str, SymbolInfo],
) -> NextAction | None:
    """Send and resolve until the intent rests; the action it rests on."""
    bound = policy.max_attempts * 3 + 4  # every step moves the intent on; this only bounds a loop
    current: Held | None = intent
    for _ in range(bound):
        if current is None:
            return None
        outcome = _one_step(p, mt5, conn, account, policy, current, symbols)
        if outcome is None:
            return None
        step, current = outcome
        if step.action in (NextAction.NONE, NextAction.WAIT_MARKET, NextAction.CLOSE_OLDER_FIRST):
            return step.action
        if step.delay_ms:
            time.sleep(step.delay_ms / 1000)
    return None


def _reread(p: Ports, intent_id: int) -> Held | None:
    with p.uow() as uow:
        row = uow.session.get(CloseIntent, intent_id)
        return None if row is None else Held.of(row)


def _one_step(
    p: Ports,
    mt5: Mt5Ports,
    conn: Connection,
    account: Account,
    policy: GuardPolicy,
    intent: Held,
    symbols: dict[str, SymbolInfo],
) -> tuple[Step, Held] | None:
    action = resume_action(intent.value)
    if action is NextAction.NONE:
        return None
    if action is NextAction.RESOLVE and p.clock() - intent.updated_at < mt5.unknown_after:
        return None  # its sender may still be waiting for the answer
    try:
        if action is NextAction.RESOLVE:
            return _resolve(p, mt5, conn.gateway, intent, policy)
        return _send(p, mt5, conn.gateway, account, intent, policy, symbols)
    except Mt5Error as exc:  # the terminal failed us: the next sync logs in afresh and goes on
        log.warning("close_deferred", key=intent.key, error=str(exc))
        conn.forget()
        return None


def _resolve(p: Ports, mt5: Mt5Ports, gateway: Any, intent: Held, policy: GuardPolicy) -> tuple[Step, Held] | None:
    """An attempt without a recorded answer: what the broker says happened."""
    still = checked("positions_get", gateway.positions_get(ticket=intent.ticket), gateway)
    deals = checked("history_deals_get", gateway.history_deals_get(position=intent.ticket), gateway)
    open_now = next((p for p in still if p.ticket == intent.ticket), None)
    resolution = resolve_unknown(intent.key, intent.ticket, open_now, deals)
    return record(p, mt5, intent, resolution.answer, None, policy, fillings=1, resolved=resolution.outcome.value)


def _send(
    p: Ports,
    mt5: Mt5Ports,
    gateway: Any,
    account: Account,
    intent: Held,
    policy: GuardPolicy,
    symbols: dict[str, SymbolInfo],
) -> tuple[Step, Held] | None:
    """One attempt: the request prepared, claimed and committed, order_send, its answer recorded."""
    prepared = prepare(p, mt5, gateway, account, intent, policy, symbols)
    if prepared is None:
        return None
    request, fillings = prepared
    now = p.clock()
    with p.uow() as uow:
        if not claim_attempt(uow.session, intent, request, now):
            return None  # another process moved this intent meanwhile
        uow.commit()
    mt5.fault("after_intent_commit")
    result = order_send(gateway, request)
    mt5.fault("before_answer_recorded")
    retcode = None if result is None else int(result.retcode)
    mt5.guard_observer.close_order_attempt(retcode)
    return record(
        p,
        mt5,
        replace(intent, value=mark_sent(intent.value), updated_at=now),
        classify(retcode),
        result,
        policy,
        fillings=fillings,
    )


def _realise(p: Ports, conn: Connection, account: Account) -> None:
    """The realised P&L of every position the guard closed, from its closing deals, once
    the closes are all out (reading deals never delays a close)."""
    with p.uow() as uow:
        todo = [(r.id, r.ticket, r.idempotency_key) for r in rows.unrealised(uow.session, account.id)]
    gateway = conn.gateway
    found = {}
    for intent_id, ticket, key in todo:
        deals = gateway.history_deals_get(position=ticket)
        profit = None if deals is None else _realised(deals, key)
        if profit is not None:
            found[intent_id] = profit
    if found:
        with p.uow() as uow:
            rows.set_realised(uow.session, found)
            uow.commit()


def _realised(deals: Any, key: str) -> Decimal | None:
    """The realised P&L of our closing deals of the position: profit + swap + commission + fee, 2 dp."""
    comment = intent_comment(key)
    ours = [d for d in deals if d.comment == comment]
    if not ours:
        return None
    return sum((decimal_of(v, MONEY) for d in ours for v in (d.profit, d.swap, d.commission, d.fee)), Decimal(0))
