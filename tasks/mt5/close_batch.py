"""The first attempt of every intent of an execution waiting to be sent, as one batch:
every request (a fresh tick each) claimed in one commit, the orders sent one after the
other, their answers recorded in one commit (two commits per execution, not two per close:
the last of twenty closes leaves about as soon as the first). What an answer leaves to do
(a requote, a back-off, an unknown outcome) goes on intent by intent (tasks.mt5.closes.work_intent)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.mt5.close_intents import NextAction, classify, mark_sent, resume_action
from core.mt5.guard_policy import GuardPolicy
from core.mt5.types import OrderSendResult, SymbolInfo
from core.mt5.values import Account
from tasks.mt5.close_attempts import Held, claim_attempt, order_send, prepare, record_in
from tasks.mt5.ports import Mt5Ports
from tasks.ports import Ports


def first_attempts(
    p: Ports,
    mt5: Mt5Ports,
    gateway: Any,
    account: Account,
    policy: GuardPolicy,
    held: list[Held],
    symbols: dict[str, SymbolInfo],
) -> set[int]:
    """The first attempts of `held` (those waiting to be sent) as one batch; the ids of the
    intents their answers rest (confirmed, failed, waiting for the market)."""
    ready: list[tuple[Held, dict[str, Any], int]] = []
    for intent in held:
        if resume_action(intent.value) is NextAction.SEND:
            prepared = prepare(p, mt5, gateway, account, intent, policy, symbols)
            if prepared is not None:
                ready.append((intent, *prepared))
    if not ready:
        return set()
    now = p.clock()
    with p.uow() as uow:
        claimed = [
            (intent, request, fillings)
            for intent, request, fillings in ready
            if claim_attempt(uow.session, intent, request, now)
        ]
        uow.commit()
    answers = []
    for intent, request, fillings in claimed:
        mt5.fault("after_intent_commit")
        result = order_send(gateway, request)
        mt5.fault("before_answer_recorded")
        mt5.guard_observer.close_order_attempt(None if result is None else int(result.retcode))
        answers.append((replace(intent, value=mark_sent(intent.value), updated_at=now), result, fillings))
    return _record_all(p, mt5, answers, policy)


def _record_all(
    p: Ports, mt5: Mt5Ports, answers: list[tuple[Held, OrderSendResult | None, int]], policy: GuardPolicy
) -> set[int]:
    """The answers of a batch of attempts, in one commit; the ids of the intents they rest."""
    resting = (NextAction.NONE, NextAction.WAIT_MARKET)
    rested: set[int] = set()
    with p.uow() as uow:
        for intent, result, fillings in answers:
            retcode = None if result is None else int(result.retcode)
            outcome = record_in(p, mt5, uow.session, intent, classify(retcode), result, policy, fillings=fillings)
            if outcome is not None and outcome[0].action in resting:
                rested.add(intent.id)
        uow.commit()
    return rested
