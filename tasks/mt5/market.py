"""The market guard at each account's sync, before the drawdown guard (its closes may wait
on a wide spread): per symbol in play, the tick (symbol_info_tick), the decision of
core.mt5.market_guard on the symbol's persisted state, then one unit of work with the new
states, an alert for each event (`DDALERT:<login>:market_gap:<symbol>:t<tick ms>`,
`...:spread_wide:...`, once each: the key is the tick that showed it) and, for a symbol
whose policy is `close_on_gap`, a close intent of kind `market_gap` per open position in
the guard's scope (`CLOSE:<login>:<ticket>:gap`), committed before any order is sent; the
account's close executor then sends them (tasks.mt5.guard).

No terminal call is made while a unit of work is open: the ticks, and the positions of a
gapped symbol, are read first."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core import keys
from core.mt5.convert import decimal_of
from core.mt5.guard_policy import GuardMode, in_scope
from core.mt5.latch import IntentKind
from core.mt5.market_guard import (
    MarketDecision,
    MarketEvent,
    MarketEventKind,
    MarketPolicies,
    Quote,
    SymbolState,
    closes_on_gap,
    evaluate_symbol,
    held_symbols,
    still_held,
)
from core.mt5.types import TradePosition
from db.mt5 import guard as rows
from db.mt5.market import market_states, save_market_states
from tasks.mt5.close_run import CloseRun, Held
from tasks.mt5.guard_chunk import GuardChunk
from tasks.mt5.reading import checked

log = structlog.get_logger(__name__)
PRICE = Decimal("0.00000001")
VOLUME = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class MarketCheck:
    """What the drawdown guard's closes need to know after the market guard ran."""

    #: Symbols whose drawdown closes wait (spread wide, hold_on_spread), and for how long at most.
    held: Mapping[str, timedelta] = field(default_factory=dict)
    #: Closes to send now: gap closes were made, or a wide spread ended (held closes may go).
    wake: bool = False


def check_market(run: CloseRun, symbols: Collection[str], run_id: int, chunk: GuardChunk | None = None) -> MarketCheck:
    """The market guard of the account the terminal is logged into, for `symbols`. With a
    `chunk`, the states are those its plan read, and states that raised no event wait for
    the chunk's write."""
    policies = run.mt5.market_policies
    if policies is None or not symbols:
        return MarketCheck()
    quotes = {q.symbol: q for q in (_quote(run, s) for s in sorted(symbols)) if q is not None}
    before = _looked(run, quotes, chunk)  # a look: the terminal may be asked for positions after it
    decisions = {s: evaluate_symbol(before.get(s, SymbolState()), q, policies.of(s)) for s, q in quotes.items()}
    ended = any(before.get(s, SymbolState()).wide and not d.state.wide for s, d in decisions.items())
    if chunk is not None and not ended and not any(d.events for d in decisions.values()):
        chunk.keep_market(run.account.id, {s: d.state for s, d in decisions.items()})
        return MarketCheck(held_symbols(policies, {s: d.state for s, d in decisions.items()}))
    gapped = [s for s, d in decisions.items() if closes_on_gap(d, policies.of(s))]
    positions = _positions(run, gapped)
    with run.p.uow() as uow:
        save_market_states(uow.session, run.account.id, {s: d.state for s, d in decisions.items()}, now=run.p.clock())
        made = _store(run, uow.session, policies, decisions, positions, run_id)
        uow.commit()
    return MarketCheck(held_symbols(policies, {s: d.state for s, d in decisions.items()}), made > 0 or ended)


def _looked(run: CloseRun, quotes: Collection[str], chunk: GuardChunk | None) -> dict[str, SymbolState]:
    if chunk is not None:
        return chunk.market.get(run.account.id, {})
    with run.p.uow() as uow:
        return market_states(uow.session, run.account.id, quotes)


def held_now(run: CloseRun) -> dict[str, timedelta]:
    """The symbols held as of the last sync's states (a resumed close, before any tick is read)."""
    policies = run.mt5.market_policies
    if policies is None:
        return {}
    with run.p.uow() as uow:
        return held_symbols(policies, market_states(uow.session, run.account.id))


def not_held(run: CloseRun, intents: Sequence[Held]) -> list[Held]:
    """The intents to work now: a drawdown close waiting to be sent in a symbol whose spread
    is wide waits, until `max_hold_s` after its intent was made (then it goes whatever the
    spread); each held close is alerted once (`DDALERT:<login>:close_held:<ticket>:ep<n>`)."""
    if not run.held:
        return list(intents)
    now = run.p.clock()
    waiting = [
        i
        for i in intents
        if i.kind.drawdown_close
        and i.symbol in run.held
        and i.value.attempts == 0
        and i.created_at is not None
        and still_held(run.held[i.symbol], i.created_at, now)
    ]
    if waiting:
        with run.p.uow() as uow:
            for intent in waiting:
                _held_alert(run, uow.session, intent)
            uow.commit()
    waits = {i.id for i in waiting}
    return [i for i in intents if i.id not in waits]


def _quote(run: CloseRun, symbol: str) -> Quote | None:
    tick = run.gateway.symbol_info_tick(symbol)
    if tick is None:  # no quote now: the symbol is judged at the next sync
        log.warning("market_tick_unavailable", login=run.account.login, symbol=symbol, error=run.gateway.last_error())
        return None
    return Quote(symbol, decimal_of(tick.bid, PRICE), decimal_of(tick.ask, PRICE), int(tick.time_msc))


def _positions(run: CloseRun, symbols: Sequence[str]) -> dict[str, tuple[TradePosition, ...]]:
    gateway = run.gateway
    return {s: checked("positions_get", gateway.positions_get(symbol=s), gateway) for s in symbols}


def _store(
    run: CloseRun,
    s: Session,
    policies: MarketPolicies,
    decisions: Mapping[str, MarketDecision],
    positions: Mapping[str, tuple[TradePosition, ...]],
    run_id: int,
) -> int:
    """The events' alerts and the gap closes; how many enforce-mode intents were made."""
    if not any(d.events for d in decisions.values()):
        return 0
    state = rows.peek_state(s, run.account.id)
    mode = run.policy.mode
    made = 0
    for symbol, decision in decisions.items():
        policy = policies.of(symbol)
        for event in decision.events:
            specs: list[rows.IntentSpec] = []
            if event.kind is MarketEventKind.MARKET_GAP and symbol in positions and not state.latched:
                specs = _gap_intents(run, positions[symbol], state.episode)  # latched: the latch closes them
                inserted = set(rows.add_intents(s, specs, now=run.p.clock()))
                specs = [spec for spec in specs if spec.key in inserted]
                made += len(specs) if mode is GuardMode.ENFORCE else 0
            action = _action(policy.action.value, event, specs, mode, state.latched)
            _event_alert(run, s, state.episode, event, action, specs, run_id)
    return made


def _gap_intents(run: CloseRun, positions: Sequence[TradePosition], episode: int) -> list[rows.IntentSpec]:
    a = run.account
    return [
        rows.IntentSpec(
            keys.market_close_intent_key(a.login, p.ticket),
            a.id,
            a.login,
            a.terminal,
            p.ticket,
            p.symbol,
            p.type,
            decimal_of(p.volume, VOLUME),
            p.time_msc,
            episode,
            run.policy.mode.value,
            IntentKind.MARKET_GAP.value,
        )
        for p in sorted(positions, key=lambda p: p.ticket)
        if in_scope(run.policy, p.magic, p.symbol)
    ]


def _action(
    policy_action: str, event: MarketEvent, specs: Sequence[rows.IntentSpec], mode: GuardMode, latched: bool
) -> str:
    if event.kind is MarketEventKind.SPREAD_WIDE:
        return "hold" if policy_action == "hold_on_spread" else "alert"
    if policy_action != "close_on_gap":
        return "alert"
    if latched:
        return "latched"
    if not specs:
        return "nothing_to_close"
    return "would_close" if mode is GuardMode.SHADOW else "close"


def _event_alert(
    run: CloseRun,
    s: Session,
    episode: int,
    event: MarketEvent,
    action: str,
    specs: Sequence[rows.IntentSpec],
    run_id: int,
) -> None:
    account = run.account
    key = keys.market_alert_key(account.login, event.kind.value, event.symbol, event.time_msc)
    gap = event.kind is MarketEventKind.MARKET_GAP
    details: dict[str, Any] = {
        "symbol": event.symbol,
        "tick_time_msc": event.time_msc,
        ("bid_before" if gap else "median_spread"): str(event.before),
        ("bid" if gap else "spread"): str(event.now),
        ("move_pct" if gap else "multiple"): str(event.figure),
        ("gap_pct" if gap else "spread_multiple"): str(event.threshold),
        "tickets": [spec.ticket for spec in specs],
    }
    if gap:
        details["across_close"] = event.across_close
    columns = _columns(run, event.kind.value, episode, action, details)
    columns["current_pct"], columns["threshold_pct"] = (event.figure, event.threshold) if gap else (None, None)
    what = (
        f"{event.symbol} moved {event.figure}% ({event.before} -> {event.now})"
        + (" across the market's close" if event.across_close else "")
        if gap
        else f"{event.symbol} spread {event.now} is {event.figure}x its median {event.before}"
    )
    _write(run, s, key, event.kind.value, columns, run_id, f"MT5 {account.login}: {what}: {action}")


def _held_alert(run: CloseRun, s: Session, intent: Held) -> None:
    limit = run.held[intent.symbol]
    details = {"symbol": intent.symbol, "ticket": intent.ticket, "intent": intent.key, "max_hold_s": limit.seconds}
    episode = int(intent.key.rpartition(":ep")[2]) if ":ep" in intent.key else 0
    columns = _columns(run, "close_held", episode, "hold", details)
    what = f"the close of position {intent.ticket} ({intent.symbol}) waits while its spread is wide"
    message = f"MT5 {run.account.login}: {what}, {int(limit.total_seconds())} s at most"
    _write(run, s, keys.held_close_alert_key(intent.key), "close_held", columns, None, message)


def _columns(run: CloseRun, kind: str, episode: int, action: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": run.account.id,
        "login": run.account.login,
        "alert_type": kind,
        "episode": episode,
        "mode": run.policy.mode.value,
        "current_pct": None,
        "day_loss_pct": None,
        "threshold_pct": None,
        "equity": None,
        "action": action,
        "positions_closed": 0,
        "realised_loss": None,
        "details": details,
    }


def _write(
    run: CloseRun, s: Session, key: str, kind: str, columns: dict[str, Any], run_id: int | None, message: str
) -> None:
    now = run.p.clock()
    if rows.write_alert(s, key, columns, batch_run_id=run_id, now=now) == "created":
        action = columns["action"]
        rows.add_notification(s, key, kind, run.account.login, message, {"action": action, "key": key}, now=now)
        log.warning("market_alert_raised", login=run.account.login, kind=kind, action=action)
