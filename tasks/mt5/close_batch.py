"""The first attempt of every intent of an execution waiting to be sent, as one batch:
every request (a fresh tick each) claimed in one commit, the orders sent one after the
other (through the terminal's throttle), their answers recorded in one commit (two commits
per execution, not two per close: the last of twenty closes leaves about as soon as the
first). What an answer leaves to do (a requote, a back-off, an unknown outcome) goes on
intent by intent (tasks.mt5.closes.work_intent)."""

from __future__ import annotations

from dataclasses import replace

from core.mt5.close_intents import NextAction, classify, mark_sent, resume_action
from core.mt5.types import OrderSendResult
from tasks.mt5.close_attempts import Request, claim_attempt, prepare, record_in, send_order
from tasks.mt5.close_run import CloseRun, Held

Answered = tuple[Held, OrderSendResult | None, int]


def first_attempts(run: CloseRun, held: list[Held]) -> set[int]:
    """The first attempts of `held` (those waiting to be sent) as one batch; the ids of the
    intents their answers rest (confirmed, failed, waiting for the market)."""
    ready: list[tuple[Held, Request, int]] = []
    for intent in held:
        if resume_action(intent.value) is NextAction.SEND:
            prepared = prepare(run, intent)
            if prepared is not None:
                ready.append((intent, *prepared))
    if not ready:
        return set()
    now = run.p.clock()
    with run.p.uow() as uow:
        claimed = [
            (i, request, fillings)
            for i, request, fillings in ready
            if claim_attempt(uow.session, i, request, now, run.cycle_id)
        ]
        uow.commit()
    answers: list[Answered] = []
    for intent, request, fillings in claimed:
        run.mt5.fault("after_intent_commit")
        result = send_order(run, request)
        run.mt5.fault("before_answer_recorded")
        run.mt5.guard_observer.close_order_attempt(None if result is None else int(result.retcode))
        answers.append((replace(intent, value=mark_sent(intent.value), updated_at=now), result, fillings))
    return _record_all(run, answers)


def _record_all(run: CloseRun, answers: list[Answered]) -> set[int]:
    """The answers of a batch of attempts, in one commit; the ids of the intents they rest."""
    resting = (NextAction.NONE, NextAction.WAIT_MARKET)
    rested: set[int] = set()
    with run.p.uow() as uow:
        for intent, result, fillings in answers:
            retcode = None if result is None else int(result.retcode)
            outcome = record_in(run, uow.session, intent, classify(retcode), result, fillings=fillings)
            if outcome is not None and outcome[0].action in resting:
                rested.add(intent.id)
        uow.commit()
    return rested
