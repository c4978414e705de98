"""One attempt to close a position through the close-intent outbox, in three steps that
the batch of first attempts (tasks.mt5.close_batch) and the intent-by-intent loop
(tasks.mt5.closes) share: the request prepared from the broker's position and a fresh
tick (`prepare`), the attempt claimed by a compare-and-set and audited (`claim_attempt`,
committed by the caller before `order_send`), and its answer recorded (`record_in`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from core.mt5.close_intents import Answer, IntentStatus, Step, mark_sent, next_step
from core.mt5.close_intents import CloseIntent as IntentValue
from core.mt5.closing import allowed_fillings, close_request, refuse_opening
from core.mt5.gateway import Mt5Error
from core.mt5.guard_policy import GuardPolicy
from core.mt5.types import OrderSendResult, SymbolInfo
from core.mt5.values import Account
from db.audit import record_event
from db.mt5 import guard as rows
from db.mt5.guard_models import CloseIntent
from tasks.mt5.ports import Mt5Ports
from tasks.mt5.reading import checked
from tasks.ports import Ports

log = structlog.get_logger(__name__)


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
        return cls(
            row.id, row.idempotency_key, row.login, row.ticket, row.symbol, rows.intent_value(row), row.updated_at
        )


def prepare(
    p: Ports,
    mt5: Mt5Ports,
    gateway: Any,
    account: Account,
    intent: Held,
    policy: GuardPolicy,
    symbols: dict[str, SymbolInfo],
) -> tuple[dict[str, Any], int] | None:
    """The request closing the position as the broker shows it now, at a fresh tick, and
    how many filling modes the symbol allows; None when the position is gone (recorded)."""
    found = checked("positions_get", gateway.positions_get(ticket=intent.ticket), gateway)
    position = next((p for p in found if p.ticket == intent.ticket), None)
    if position is None:  # gone before we sent anything more: nothing to close
        record(p, mt5, intent, Answer.CLOSED, None, policy, fillings=1, resolved="position_gone")
        return None
    if intent.symbol not in symbols:
        symbols[intent.symbol] = checked("symbol_info", gateway.symbol_info(intent.symbol), gateway)
    spec = symbols[intent.symbol]
    tick = checked("symbol_info_tick", gateway.symbol_info_tick(intent.symbol), gateway)
    magic = account.magic_numbers[0] if account.magic_numbers else 0
    request = close_request(
        position, tick, spec.filling_mode, magic, policy.deviation_points, intent.key, intent.value.filling_index
    )
    refuse_opening(request)  # ours, again, at the last moment before the gateway
    return request, len(allowed_fillings(spec.filling_mode))


def claim_attempt(session: Any, intent: Held, request: dict[str, Any], now: datetime) -> bool:
    """The attempt, claimed (compare-and-set) with its request and audited; False when
    another process moved the intent meanwhile."""
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
    )
    return True


def order_send(gateway: Any, request: dict[str, Any]) -> OrderSendResult | None:
    try:
        result: OrderSendResult | None = gateway.order_send(request)
    except (OSError, EOFError, Mt5Error) as exc:  # a bridge that lost its link: the outcome is unknown
        log.warning("close_order_send_broke", error=f"{type(exc).__name__}: {exc}")
        return None
    return result


def record(
    p: Ports,
    mt5: Mt5Ports,
    intent: Held,
    answer: Answer,
    result: OrderSendResult | None,
    policy: GuardPolicy,
    *,
    fillings: int,
    resolved: str | None = None,
) -> tuple[Step, Held] | None:
    """The answer of the intent's latest attempt, committed."""
    with p.uow() as uow:
        outcome = record_in(p, mt5, uow.session, intent, answer, result, policy, fillings=fillings, resolved=resolved)
        uow.commit()
    return outcome


def record_in(
    p: Ports,
    mt5: Mt5Ports,
    session: Any,
    intent: Held,
    answer: Answer,
    result: OrderSendResult | None,
    policy: GuardPolicy,
    *,
    fillings: int,
    resolved: str | None = None,
) -> tuple[Step, Held] | None:
    """Record the answer in this unit of work (compare-and-set from the attempt's state);
    alerts of a failure or a closed market queued with it."""
    step = next_step(intent.value, answer, policy.max_attempts, fillings)
    now = p.clock()
    columns: dict[str, Any] = {
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
        kind = "market_closed" if step.intent.status is IntentStatus.WAITING_MARKET else "close_failed"
        rows.add_notification(
            session,
            f"{intent.key}:{kind}",
            kind,
            intent.login,
            f"MT5 {intent.login}: close of position {intent.ticket} {kind.replace('_', ' ')}",
            {"key": intent.key, "answer": answer.value},
            now=now,
        )
    if step.intent.status is IntentStatus.CONFIRMED:
        mt5.guard_observer.position_autoclosed("drawdown_guard")
    log.info("close_answer_recorded", key=intent.key, answer=answer.value, status=step.intent.status.value)
    return step, replace(intent, value=step.intent, updated_at=now)


def _as_text(wire: dict[str, Any]) -> dict[str, Any]:
    """The broker's floats as their text, for the audit log (whose values are exact)."""
    return {k: str(v) if isinstance(v, float) else v for k, v in wire.items()}


def _result_json(result: OrderSendResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    fields = result._asdict()
    fields.pop("request", None)
    return {k: v for k, v in fields.items() if isinstance(v, int | float | str)}
