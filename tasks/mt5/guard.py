"""The drawdown guard, right after each account's sync, in the same task on the terminal's
queue (its one process). Per account, in this order, so that no terminal call is made
while a transaction is open:

1. the terminal: the day's deals; the decision of core.mt5.guard on the persisted state,
   read without a lock (a stale or jumping reading is confirmed by a fresh account_info);
   when the latch trips or holds, the open positions and pending orders (tasks.mt5.latch);
2. one unit of work: the state loaded under its row lock and decided again on what was
   read, saved with its alerts and notifications and the intents (at the trip, one per
   open position in scope; while tripped, one per position found open and per pending
   order in scope, each once), committed before any order is sent;
3. the terminal: the account's close executor (tasks.mt5.closes) works the intents.

The market guard (tasks.mt5.market) runs first, in the same way (ticks read, then one unit
of work): its gap closes join the outbox, and a symbol whose spread is wide may hold the
drawdown guard's closes (CloseRun.held).

Notifications go out last: a slow notifier never delays a close, and one not delivered is
retried at the next sync."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from core.mt5.convert import decimal_of
from core.mt5.gateway import Mt5Error
from core.mt5.guard import GuardDecision, GuardEvent, evaluate
from core.mt5.guard_day import DayDeal, GuardReading, day_deal
from core.mt5.guard_policy import GuardPolicy, policy_for
from core.mt5.guard_state import GuardState
from core.mt5.snapshot import SnapshotFigures
from core.mt5.values import Account
from db.mt5 import guard as rows
from db.uow import SqlAlchemyUnitOfWork
from tasks.mt5.alerts import execution_alert, write_event_alerts
from tasks.mt5.close_run import CloseRun
from tasks.mt5.closes import close_all
from tasks.mt5.guard_chunk import GuardChunk, quiet
from tasks.mt5.latch import Book, needs_book, read_book, write_intents
from tasks.mt5.market import check_market, held_now
from tasks.mt5.ports import Mt5Ports
from tasks.mt5.reading import Connection, checked
from tasks.ports import Ports

log = structlog.get_logger(__name__)
MONEY = Decimal("0.01")
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
    symbols: Collection[str] = (),
    chunk: GuardChunk | None = None,
) -> GuardDecision | None:
    """The guards of an account just read, while the terminal is still logged into it: the
    market guard of `symbols` (tasks.mt5.market), then the drawdown guard. `chunk`: what
    the plan read of the chunk's accounts, and where quiet states wait for its write."""
    policy = account_policy(mt5, account)
    if policy is None:
        return None
    run = CloseRun(p, mt5, conn, account, policy, run_id)
    try:
        market = check_market(run, symbols, run_id, chunk)  # first: a wide spread may hold the closes below
        run = replace(run, held=market.held)
        return guard_account(run, figures, synced_at, run_id, wake=market.wake, chunk=chunk)
    except Mt5Error as exc:  # the next sync tries again; the state is unchanged
        log.warning("guard_terminal_failed", login=account.login, error=str(exc))
        return None


def resume_account(
    p: Ports, mt5: Mt5Ports, conn: Connection, account: Account, run_id: int | None = None, pending: int | None = None
) -> None:
    """Right after the login of a sync, before the account is read: the closes it still
    has open (a worker killed mid-close, a closed market) are finished first. `pending`:
    how many the chunk's plan found open (None: looked up here)."""
    policy = account_policy(mt5, account)
    if policy is None:
        return
    if pending is None:
        with p.uow() as uow:
            pending = rows.open_intent_counts(uow.session, [account.id], mode="enforce").get(account.id, 0)
    if pending:
        run = CloseRun(p, mt5, conn, account, policy, run_id)
        _closes(replace(run, held=held_now(run)))


def guard_account(
    run: CloseRun,
    figures: SnapshotFigures,
    synced_at: datetime,
    run_id: int,
    *,
    wake: bool = False,
    chunk: GuardChunk | None = None,
) -> GuardDecision:
    """The drawdown guard; `wake`: the market guard left closes to send (a gap's, or held
    ones whose spread is back). With a `chunk`, the state is the one its plan read, and a
    quiet decision's state waits for the chunk's write."""
    now = run.p.clock()
    raw = run.gateway.history_deals_get(now - DEALS_LOOKBACK, now)
    deals = None if raw is None else [day_deal(d) for d in raw]
    reading = GuardReading(run.account.login, figures.equity, figures.balance, synced_at, confirmed=False)
    seen = _look(run, chunk)  # a look without the lock: the terminal is called after it
    decision = evaluate(seen, reading, run.policy, now, deals)
    if GuardEvent.CONFIRM in decision.events:
        reading = _fresh(run, now)
        decision = evaluate(seen, reading, run.policy, now, deals)
    if chunk is not None and not wake and quiet(seen, decision):
        chunk.keep_state(run.account.id, run.account.login, decision)  # nothing to send: it waits for the chunk
        _evaluated(run, decision)
        return decision
    book = read_book(run) if needs_book(decision) else None
    decision, to_close = _decide(run, reading, deals, book, run_id, now)
    _evaluated(run, decision)
    if to_close or wake:
        _closes(run, decision if to_close else None)
    return decision


def _evaluated(run: CloseRun, decision: GuardDecision) -> None:
    log.info(
        "guard_evaluated",
        login=run.account.login,
        events=[e.value for e in decision.events],
        drawdown_pct=str(decision.drawdown_pct),
        day_loss_pct=str(decision.day_loss_pct),
    )


def _look(run: CloseRun, chunk: GuardChunk | None) -> GuardState:
    """The account's state as committed: the chunk's plan read it, or a look of its own."""
    if chunk is not None:
        return chunk.state(run.account.id) or GuardState()
    with run.p.uow() as uow:
        return rows.peek_state(uow.session, run.account.id)


def _fresh(run: CloseRun, now: datetime) -> GuardReading:
    gateway = run.gateway
    info = checked("account_info", gateway.account_info(), gateway)
    return GuardReading(
        run.account.login, decimal_of(info.equity, MONEY), decimal_of(info.balance, MONEY), now, confirmed=True
    )


def _decide(
    run: CloseRun, reading: GuardReading, deals: list[DayDeal] | None, book: Book | None, run_id: int, now: datetime
) -> tuple[GuardDecision, bool]:
    """The decision on the locked state, stored with its alerts and intents in one commit;
    and whether there are closes to send. A state another process moved meanwhile so that
    it now needs what was not read (the book) is left for the next sync."""
    with run.p.uow() as uow:
        state = rows.load_state(uow.session, run.account.id)
        decision = evaluate(state, reading, run.policy, now, deals)  # the `now` the look was judged at
        if needs_book(decision) and book is None:
            log.warning("guard_decision_deferred", login=run.account.login, reason="state moved meanwhile")
            return decision, False
        inserted = _store(run, uow, decision, book, run_id)
        uow.commit()
    return decision, decision.executes or inserted > 0


def _store(run: CloseRun, uow: SqlAlchemyUnitOfWork, decision: GuardDecision, book: Book | None, run_id: int) -> int:
    """The state, the alerts of its events and the intents; how many enforce intents are new."""
    p, mt5, account, policy = run.p, run.mt5, run.account, run.policy
    s, now = uow.session, p.clock()
    rows.save_state(s, account.id, account.login, decision.state, now=now)
    write_event_alerts(p, s, account, policy, decision, run_id)
    if decision.executes or GuardEvent.SHADOW_EXECUTE in decision.events:
        mt5.guard_observer.guard_triggered("execution" if decision.executes else "would_close")
    if GuardEvent.WARNING in decision.events:
        mt5.guard_observer.guard_triggered("warning")
    inserted = write_intents(run, s, decision, book, run_id, now) if book is not None else 0
    if GuardEvent.SHADOW_EXECUTE in decision.events:
        execution_alert(p, s, account, policy, decision, run_id)  # would_close: nothing is sent
    elif decision.state.latched and not decision.executes:
        # The outcome its closes reached, if not told yet: the process that recorded the
        # last close may have died before writing its alert (stored: nothing is written).
        execution_alert(p, s, account, policy, decision, run_id)
    return inserted


def _closes(run: CloseRun, decision: GuardDecision | None = None) -> None:
    """Send the account's closes, then write the execution alert of the episode (with the
    figures of the reading that executed; a resumed close has none at hand)."""
    close_all(run)
    run.mt5.fault("before_execution_alert")
    with run.p.uow() as uow:
        state = rows.load_state(uow.session, run.account.id)
        figures = decision or GuardDecision(state, None, None, ())
        execution_alert(run.p, uow.session, run.account, run.policy, replace(figures, state=state), run.cycle_id)
        run.mt5.guard_observer.intents_pending(rows.pending_count(uow.session))
        uow.commit()
