"""The drawdown guard, right after each account's sync, in the same task on the terminal's
queue (its one process). Per account: the day's deals from the terminal, the decision of
core.mt5.guard on the persisted state (a stale or jumping reading is confirmed by a fresh
account_info first), the state saved with its alerts and notifications and, on execution,
one close intent per open position in scope, all committed before any order is sent; then
the closes (tasks.mt5.closes). Notifications go out last: a slow notifier never delays a
close, and one not delivered is retried at the next sync."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from core import keys
from core.mt5.convert import decimal_of
from core.mt5.gateway import Mt5Error, Mt5Gateway
from core.mt5.guard import GuardDecision, GuardEvent, evaluate
from core.mt5.guard_day import GuardReading, day_deal
from core.mt5.guard_policy import GuardMode, GuardPolicy, in_scope, policy_for
from core.mt5.snapshot import SnapshotFigures
from core.mt5.values import Account
from db.mt5 import guard as rows
from db.uow import SqlAlchemyUnitOfWork
from tasks.mt5.alerts import execution_alert, write_event_alerts
from tasks.mt5.closes import close_all
from tasks.mt5.ports import Mt5Ports
from tasks.mt5.reading import Connection, checked
from tasks.ports import Ports

log = structlog.get_logger(__name__)
MONEY = Decimal("0.01")
VOLUME = Decimal("0.000001")
DEALS_LOOKBACK = timedelta(hours=36)  # more than a trading day: the core keeps what it needs


def account_policy(mt5: Mt5Ports, account: Account) -> GuardPolicy | None:
    """The account's policy: the defaults, with the named override of mt5_accounts.policy,
    its day in the account's server time when it says `server`."""
    if mt5.guard_policy is None:
        return None
    policy = policy_for(mt5.guard_policy, mt5.guard_policies.get(account.policy))
    return policy.on_server(mt5.server_times.get(account.server))


def guard_read(
    p: Ports,
    mt5: Mt5Ports,
    conn: Connection,
    account: Account,
    figures: SnapshotFigures,
    synced_at: datetime,
    run_id: int,
) -> GuardDecision | None:
    """The guard of an account just read, while the terminal is still logged into it."""
    policy = account_policy(mt5, account)
    if policy is None:
        return None
    try:
        return guard_account(p, mt5, conn, account, policy, figures, synced_at, run_id)
    except Mt5Error as exc:  # the next sync tries again; the state is unchanged
        log.warning("guard_terminal_failed", login=account.login, error=str(exc))
        return None


def resume_account(p: Ports, mt5: Mt5Ports, conn: Connection, account: Account) -> None:
    """Right after the login of a sync, before the account is read: the closes it still
    has open (a worker killed mid-close, a closed market) are finished first."""
    policy = account_policy(mt5, account)
    if policy is None:
        return
    with p.uow() as uow:
        pending = rows.open_intents(uow.session, [account.id], mode="enforce")
    if pending:
        _closes(p, mt5, conn, account, policy)


def guard_account(
    p: Ports,
    mt5: Mt5Ports,
    conn: Connection,
    account: Account,
    policy: GuardPolicy,
    figures: SnapshotFigures,
    synced_at: datetime,
    run_id: int,
) -> GuardDecision:
    gateway = conn.gateway
    now = p.clock()
    raw = gateway.history_deals_get(now - DEALS_LOOKBACK, now)
    deals = None if raw is None else [day_deal(d) for d in raw]
    reading = GuardReading(account.login, figures.equity, figures.balance, synced_at, confirmed=False)
    with p.uow() as uow:
        state = rows.load_state(uow.session, account.id)
        decision = evaluate(state, reading, policy, now, deals)
        if GuardEvent.CONFIRM in decision.events:
            decision = evaluate(state, _fresh(gateway, account, now), policy, now, deals)
        _store(p, mt5, uow, gateway, account, policy, decision, run_id)
        uow.commit()
    log.info(
        "guard_evaluated",
        login=account.login,
        events=[e.value for e in decision.events],
        drawdown_pct=str(decision.drawdown_pct),
        day_loss_pct=str(decision.day_loss_pct),
    )
    if decision.executes:
        _closes(p, mt5, conn, account, policy, decision)
    return decision


def _fresh(gateway: Any, account: Account, now: datetime) -> GuardReading:
    info = checked("account_info", gateway.account_info(), gateway)
    return GuardReading(
        account.login, decimal_of(info.equity, MONEY), decimal_of(info.balance, MONEY), now, confirmed=True
    )


def _store(
    p: Ports,
    mt5: Mt5Ports,
    uow: SqlAlchemyUnitOfWork,
    gateway: Mt5Gateway,
    account: Account,
    policy: GuardPolicy,
    decision: GuardDecision,
    run_id: int,
) -> None:
    """The state, the alerts of its events and, on execution, the intents: one commit."""
    s, now = uow.session, p.clock()
    rows.save_state(s, account.id, account.login, decision.state, now=now)
    write_event_alerts(p, s, account, policy, decision, run_id)
    executes = decision.executes or GuardEvent.SHADOW_EXECUTE in decision.events
    if executes:
        mode = GuardMode.ENFORCE if decision.executes else GuardMode.SHADOW
        mt5.guard_observer.guard_triggered("execution" if decision.executes else "would_close")
        _intents(s, gateway, account, policy, decision.state.episode, mode, now)
    if GuardEvent.WARNING in decision.events:
        mt5.guard_observer.guard_triggered("warning")
    if GuardEvent.SHADOW_EXECUTE in decision.events:
        execution_alert(p, s, account, policy, decision, run_id)  # would_close: nothing is sent
    elif decision.state.latched and not decision.executes:
        # The outcome its closes reached, if not told yet: the process that recorded the
        # last close may have died before writing its alert (stored: nothing is written).
        execution_alert(p, s, account, policy, decision, run_id)


def _intents(
    s: Any, gateway: Mt5Gateway, account: Account, policy: GuardPolicy, episode: int, mode: GuardMode, now: datetime
) -> None:
    """One intent per open position in scope, from a fresh positions_get of the terminal
    the account is logged into (the sync's gateway, handed down)."""
    positions = checked("positions_get", gateway.positions_get(), gateway)
    specs = [
        rows.IntentSpec(
            keys.close_intent_key(account.login, p.ticket, episode),
            account.id,
            account.login,
            account.terminal,
            p.ticket,
            p.symbol,
            p.type,
            decimal_of(p.volume, VOLUME),
            p.time_msc,
            episode,
            mode.value,
        )
        for p in positions
        if in_scope(policy, p.magic, p.symbol)
    ]
    rows.add_intents(s, specs, now=now)


def _closes(
    p: Ports,
    mt5: Mt5Ports,
    conn: Connection,
    account: Account,
    policy: GuardPolicy,
    decision: GuardDecision | None = None,
) -> None:
    """Send the account's closes, then write the execution alert of the episode (with the
    figures of the reading that executed; a resumed close has none at hand)."""
    close_all(p, mt5, conn, account, policy)
    mt5.fault("before_execution_alert")
    with p.uow() as uow:
        state = rows.load_state(uow.session, account.id)
        figures = decision or GuardDecision(state, None, None, ())
        execution_alert(p, uow.session, account, policy, replace(figures, state=state), None)
        mt5.guard_observer.intents_pending(rows.pending_count(uow.session))
        uow.commit()
