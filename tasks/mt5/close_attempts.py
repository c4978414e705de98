"""One attempt to close a position (or delete a pending order) through the close-intent
outbox, in the steps that the batch of first attempts (tasks.mt5.close_batch) and the
intent-by-intent loop (tasks.mt5.closes) share: the request prepared from what the broker
shows now (`prepare`), the attempt claimed by a compare-and-set and audited
(`claim_attempt`, committed by the caller before `send_order`), the order sent through the
terminal's throttle (`send_order`), and its answer recorded (`record_in`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from core.mt5.close_intents import Answer, IntentStatus, Step, mark_sent, next_step
from core.mt5.closing import allowed_fillings, close_request
from core.mt5.gateway import Mt5Error, RequestValue
from core.mt5.latch import refuse_unguarded, remove_request
from core.mt5.types import OrderSendResult
from db.audit import record_event
from db.mt5 import guard as rows
from tasks.mt5.close_run import CloseRun, Held
from tasks.mt5.reading import checked

log = structlog.get_logger(__name__)
Request = dict[str, RequestValue]


def prepare(run: CloseRun, intent: Held) -> tuple[Request, int] | None:
    """The request closing the position as the broker shows it now, at a fresh tick (or
    deleting the pending order), and how many filling modes it may try; None when the
    position or order is gone (recorded as done)."""
    gateway = run.gateway
    if intent.kind.removes:
        orders = checked("orders_get", gateway.orders_get(ticket=intent.ticket), gateway)
        order = next((o for o in orders if o.ticket == intent.ticket), None)
        if order is None:  # filled, cancelled or expired meanwhile: nothing to delete
            record(run, intent, Answer.CLOSED, None, fillings=1, resolved="order_gone")
            return None
        return remove_request(order, run.magic, intent.key), 1
    found = checked("positions_get", gateway.positions_get(ticket=intent.ticket), gateway)
    position = next((p for p in found if p.ticket == intent.ticket), None)
    if position is None:  # gone before we sent anything more: nothing to close
        record(run, intent, Answer.CLOSED, None, fillings=1, resolved="position_gone")
        return None
    if intent.symbol not in run.symbols:
        run.symbols[intent.symbol] = checked("symbol_info", gateway.symbol_info(intent.symbol), gateway)
    spec = run.symbols[intent.symbol]
    tick = checked("symbol_info_tick", gateway.symbol_info_tick(intent.symbol), gateway)
    request = close_request(
        position,
        tick,
        spec.filling_mode,
        run.magic,
        run.policy.deviation_points,
        intent.key,
        intent.value.filling_index,
    )
    return request, len(allowed_fillings(spec.filling_mode))


def claim_attempt(session: Session, intent: Held, request: Request, now: datetime, cycle_id: int | None = None) -> bool:
    """The attempt, claimed (compare-and-set) with its request and audited (with the sync
    cycle it is sent in); False when another process moved the intent meanwhile."""
    sent = mark_sent(intent.value)
    if not rows.claim(session, intent.id, intent.value, sent, now=now, last_request=dict(request)):
        return False
    record_event(
        session,
        "close_order_sent",
        entity_type="close_intent",
        entity_id=intent.key,
        now=now,
        details={"attempt": sent.attempts, "request": _as_text(request)},
        batch_run_id=cycle_id,
    )
    return True


def send_order(run: CloseRun, request: Request) -> OrderSendResult | None:
    """order_send, once the terminal's throttle lets it leave; None when the outcome is unknown."""
    refuse_unguarded(request)  # ours, again, at the last moment before the gateway
    run.throttle.wait()
    try:
        return run.gateway.order_send(request)
    except (OSError, EOFError, Mt5Error) as exc:  # a bridge that lost its link: the outcome is unknown
        log.warning("close_order_send_broke", error=f"{type(exc).__name__}: {exc}")
        return None


def record(
    run: CloseRun,
    intent: Held,
    answer: Answer,
    result: OrderSendResult | None,
    *,
    fillings: int,
    resolved: str | None = None,
) -> tuple[Step, Held] | None:
    """The answer of the intent's latest attempt, committed."""
    with run.p.uow() as uow:
        outcome = record_in(run, uow.session, intent, answer, result, fillings=fillings, resolved=resolved)
        uow.commit()
    return outcome


def record_in(
    run: CloseRun,
    session: Session,
    intent: Held,
    answer: Answer,
    result: OrderSendResult | None,
    *,
    fillings: int,
    resolved: str | None = None,
) -> tuple[Step, Held] | None:
    """Record the answer in this unit of work (compare-and-set from the attempt's state);
    alerts of a failure or a closed market queued with it."""
    step = next_step(intent.value, answer, run.policy.max_attempts, fillings)
    now = run.p.clock()
    columns: dict[str, object] = {
        "last_retcode": None if result is None else int(result.retcode),
        "last_result": _result_json(result),
    }
    if step.intent.status in (IntentStatus.CONFIRMED, IntentStatus.FAILED):
        columns["resolved_at"] = now
        if step.intent.status is IntentStatus.FAILED:
            columns["error"] = f"gave up after {intent.value.attempts} attempt(s), last answer {answer.value}"
    if not rows.claim(session, intent.id, intent.value, step.intent, now=now, **columns):
        return None
    record_event(
        session,
        "close_answer_recorded",
        entity_type="close_intent",
        entity_id=intent.key,
        now=now,
        details={
            "answer": answer.value,
            "retcode": columns["last_retcode"],
            "status": step.intent.status.value,
            "resolved": resolved,
        },
    )
    if step.alert:
        _alert_step(session, intent, step, answer, now)
    if step.intent.status is IntentStatus.CONFIRMED and not intent.kind.removes:
        run.mt5.guard_observer.position_autoclosed("drawdown_guard")
    log.info("close_answer_recorded", key=intent.key, answer=answer.value, status=step.intent.status.value)
    return step, replace(intent, value=step.intent, updated_at=now)


def _alert_step(session: Session, intent: Held, step: Step, answer: Answer, now: datetime) -> None:
    kind = "market_closed" if step.intent.status is IntentStatus.WAITING_MARKET else "close_failed"
    what = "removal" if intent.kind.removes else "close"
    rows.add_notification(
        session,
        f"{intent.key}:{kind}",
        kind,
        intent.login,
        f"MT5 {intent.login}: {what} of {intent.subject} {kind.replace('_', ' ')}",
        {"key": intent.key, "answer": answer.value},
        now=now,
    )


def _as_text(wire: Request) -> dict[str, int | str]:
    """The broker's floats as their text, for the audit log (whose values are exact)."""
    return {k: str(v) if isinstance(v, float) else v for k, v in wire.items()}


def _result_json(result: OrderSendResult | None) -> dict[str, int | float | str] | None:
    if result is None:
        return None
    fields = result._asdict()
    fields.pop("request", None)
    return {k: v for k, v in fields.items() if isinstance(v, int | float | str)}
