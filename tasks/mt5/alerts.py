"""The drawdown guard's alerts: a `drawdown_alerts` row (seed 001's DrawdownAlert, through
the write path) and a queued notification for each warning, execution, would-close and
unknown day start; and the delivery of queued notifications (after the closes: a failing or
slow notifier never delays one, and what it did not deliver is tried again next time)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core import keys
from core.mt5.close_intents import ExecutionOutcome, IntentStatus, execution_outcome
from core.mt5.guard import GuardDecision, GuardEvent
from core.mt5.guard_policy import GuardPolicy
from core.mt5.guard_state import anchor_as_dict
from core.mt5.values import Account
from core.ports import Notifier
from db.audit import record_event
from db.mt5 import guard as rows
from db.mt5.guard_models import Notification
from tasks.ports import Ports

log = structlog.get_logger(__name__)
ANCHOR_EVENTS = (GuardEvent.ANCHORED, GuardEvent.ANCHOR_MOVED)


def write_event_alerts(
    p: Ports, s: Session, account: Account, policy: GuardPolicy, decision: GuardDecision, run_id: int
) -> None:
    """A warning once per breach episode; a day whose start is unknown once per day; an
    audit event each time the day is anchored or its anchor moved by money paid in or out."""
    state, now = decision.state, p.clock()
    for event in (e for e in decision.events if e in ANCHOR_EVENTS and state.anchor is not None):
        assert state.anchor is not None
        record_event(
            s,
            f"guard_{event.value}",
            entity_type="mt5_account",
            entity_id=account.id,
            now=now,
            batch_run_id=run_id,
            details={"login": account.login, **anchor_as_dict(state.anchor)},
        )
    if GuardEvent.WARNING in decision.events:
        _alert(
            p,
            s,
            account,
            keys.drawdown_alert_key(account.login, "warning", f"s{run_id}"),
            "warning",
            decision,
            policy.warning_pct,
            "warning_sent",
            run_id,
            f"MT5 {account.login}: drawdown {decision.drawdown_pct}% reached the warning level {policy.warning_pct}%",
        )
    if GuardEvent.UNLOCKED in decision.events:
        unlock_alert(p, s, account, decision, run_id)
    if GuardEvent.DAY_START_UNKNOWN in decision.events:
        day = state.trading_day.isoformat() if state.trading_day else now.date().isoformat()
        _alert(
            p,
            s,
            account,
            keys.drawdown_alert_key(account.login, "day_start_unknown", day),
            "day_start_unknown",
            decision,
            policy.daily_loss_pct,
            "drawdown_only",
            run_id,
            f"MT5 {account.login}: the start of trading day {day} is unknown: the daily loss limit "
            "is not applied today, the drawdown rule is",
        )


def unlock_alert(p: Ports, s: Session, account: Account, decision: GuardDecision, run_id: int) -> None:
    """A latch cleared by itself at a trading-day boundary (every limit that tripped it
    unlocks `auto`): audited as a reset is (actor `guard`), and alerted once per episode."""
    state, limits = decision.state, sorted(limit.value for limit in decision.unlocked)
    day = state.trading_day.isoformat() if state.trading_day else None
    details = {"login": account.login, "episode": state.episode, "limits": limits, "trading_day": day, "rule": "auto"}
    record_event(
        s,
        "guard_unlocked",
        entity_type="mt5_account",
        entity_id=account.id,
        now=p.clock(),
        actor="guard",
        batch_run_id=run_id,
        details=details,
    )
    _alert(
        p,
        s,
        account,
        keys.drawdown_alert_key(account.login, "unlocked", f"ep{state.episode}"),
        "unlocked",
        decision,
        None,
        "auto_unlocked",
        run_id,
        f"MT5 {account.login}: the latch of episode {state.episode} ({', '.join(limits)}) cleared by itself "
        f"at the start of trading day {day}: the account is guarded again",
        extra=details,
    )


def execution_alert(
    p: Ports, s: Session, account: Account, policy: GuardPolicy, decision: GuardDecision, run_id: int | None
) -> None:
    """The execution of an episode, once its intents have been worked: one alert per
    outcome it reaches (core.mt5.close_intents.execution_outcome), keyed by it, each in
    its first version. While closes go on that is `partially_closed` (what the first pass
    closed; later syncs still partial tell nothing new), then the final `positions_closed`
    or `failed` once none is open: ops hear at once that the guard acted, and once how it
    ended. An alert is an event, not a live view (`hedgeops guard status` is that)."""
    episode = decision.state.episode
    intents = rows.intents_of_episode(s, account.id, episode)
    if not intents:
        return
    shadow = intents[0].mode == "shadow"
    outcome = execution_outcome([IntentStatus(i.status) for i in intents], shadow=shadow)
    key = keys.execution_alert_key(account.login, episode, outcome.value)
    if rows.alert_stored(s, key):  # told already; the caller holds the guard state's row lock
        return
    statuses = Counter(i.status for i in intents)
    closed = statuses[IntentStatus.CONFIRMED.value]
    realised = [i.realised_profit for i in intents if i.realised_profit is not None]
    loss = -sum(realised, Decimal(0)) if realised else None
    done = f"would close {len(intents)}" if shadow else f"closed {closed}"
    _alert(
        p,
        s,
        account,
        key,
        "execution",
        decision,
        policy.execution_pct,
        outcome.value,
        run_id,
        f"MT5 {account.login}: drawdown guard {done} of {len(intents)} position(s) (episode {episode})"
        + _left_to_do(
            outcome, len(intents) - closed - statuses[IntentStatus.FAILED.value], statuses[IntentStatus.FAILED.value]
        ),
        positions_closed=0 if shadow else closed,
        realised_loss=loss,
        extra={
            "intents": {i.idempotency_key: i.status for i in intents},
            "limits": sorted(limit.value for limit in decision.state.tripped_by),  # what tripped the latch
        },
    )


def _left_to_do(outcome: ExecutionOutcome, still_open: int, failed: int) -> str:
    if outcome is ExecutionOutcome.PARTIALLY_CLOSED:
        return f": {still_open} still open, closing goes on" + (f", {failed} failed" if failed else "")
    if outcome is ExecutionOutcome.FAILED:
        return f": {failed} failed, a person is needed at the terminal"
    return ""


def _alert(
    p: Ports,
    s: Session,
    account: Account,
    key: str,
    kind: str,
    decision: GuardDecision,
    threshold: Decimal | None,
    action: str,
    run_id: int | None,
    message: str,
    *,
    positions_closed: int = 0,
    realised_loss: Decimal | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    now = p.clock()
    state = decision.state
    columns = {
        "account_id": account.id,
        "login": account.login,
        "alert_type": kind,
        "episode": state.episode,
        "mode": state.tripped_in.value if state.tripped_in else "enforce",
        "current_pct": decision.drawdown_pct,
        "day_loss_pct": decision.day_loss_pct,
        "threshold_pct": threshold,
        "equity": state.last_equity,
        "action": action,
        "positions_closed": positions_closed,
        "realised_loss": realised_loss,
        "details": extra or {},
    }
    if rows.write_alert(s, key, columns, batch_run_id=run_id, now=now) == "created":
        rows.add_notification(s, key, kind, account.login, message, {"action": action, "key": key}, now=now)
        log.warning("drawdown_alert_raised", login=account.login, kind=kind, action=action)


def deliver_notifications(p: Ports, notifier: Notifier, limit: int = 100) -> int:
    """Send what is queued; a failure leaves it queued (attempts + 1). The number delivered."""
    delivered = 0
    with p.uow() as uow:
        queued = [(n.id, n.kind, n.message, dict(n.details)) for n in rows.undelivered(uow.session, limit)]
    for note_id, kind, message, details in queued:
        error: str | None = None
        try:
            notifier.notify(kind, message, details)
        except Exception as exc:  # noqa: BLE001 - any notifier failure: keep it queued, never raise
            error = f"{type(exc).__name__}: {exc}"[:1000]
        with p.uow() as uow:
            note = uow.session.get(Notification, note_id)
            if note is not None:
                note.attempts += 1
                note.status, note.last_error = ("pending", error) if error else ("delivered", None)
                note.delivered_at = None if error else p.clock()
                uow.commit()
        delivered += error is None
        if error:
            log.warning("notification_not_delivered", kind=kind, error=error)
    return delivered
