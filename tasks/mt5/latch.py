"""The intents of a guard decision: at the trip, one per open position in scope (kind
`execution`); at every later sync of the tripped account, one per position in scope found
open without one (`reopened`); and one per pending order in scope (`pending_order`,
deleted), each once per episode (core.mt5.latch). What the terminal shows is read first,
with no transaction open (`read_book`); the intents are written in the decision's unit of
work (`write_intents`), each found one alerted with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from core import keys
from core.mt5.convert import decimal_of
from core.mt5.guard import GuardDecision, GuardEvent
from core.mt5.guard_policy import GuardMode
from core.mt5.latch import IntentKind, orders_to_remove, positions_to_close
from core.mt5.types import TradeOrder, TradePosition
from db.mt5 import guard as rows
from tasks.mt5.alerts import latch_alert
from tasks.mt5.close_run import CloseRun
from tasks.mt5.reading import checked

VOLUME = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Book:
    """The account's open positions and pending orders, as the terminal shows them."""

    positions: tuple[TradePosition, ...]
    orders: tuple[TradeOrder, ...]


def needs_book(decision: GuardDecision) -> bool:
    """Whether the decision writes intents: it trips the latch, or the latch holds."""
    return decision.state.latched


def read_book(run: CloseRun) -> Book:
    """positions_get() and orders_get() of the account the terminal is logged into."""
    gateway = run.gateway
    positions = checked("positions_get", gateway.positions_get(), gateway)
    return Book(positions, checked("orders_get", gateway.orders_get(), gateway))


def write_intents(run: CloseRun, s: Session, decision: GuardDecision, book: Book, run_id: int, now: datetime) -> int:
    """The decision's intents not stored yet, and an alert for each found while tripped;
    how many enforce-mode intents were inserted."""
    state = decision.state
    mode = state.tripped_in or GuardMode.ENFORCE
    tripping = decision.executes or GuardEvent.SHADOW_EXECUTE in decision.events
    held = {} if tripping else rows.held_tickets(s, run.account.id, state.episode)  # a new episode holds none
    closing = (IntentKind.EXECUTION, IntentKind.REOPENED, IntentKind.MARKET_GAP)  # a gap's close too
    closes = set().union(*(held.get(k.value, set()) for k in closing))
    kind = IntentKind.EXECUTION if tripping else IntentKind.REOPENED
    specs = [
        *(
            _spec(run, kind, p.ticket, p.symbol, p.type, p.volume, p.time_msc, state.episode, mode)
            for p in positions_to_close(run.policy, book.positions, closes)
        ),
        *(
            _spec(
                run,
                IntentKind.PENDING_ORDER,
                o.ticket,
                o.symbol,
                o.type,
                o.volume_current,
                o.time_setup_msc,
                state.episode,
                mode,
            )
            for o in orders_to_remove(run.policy, book.orders, held.get(IntentKind.PENDING_ORDER.value, set()))
        ),
    ]
    inserted = set(rows.add_intents(s, specs, now=now, batch_run_id=run_id))
    for spec in specs:
        if spec.key in inserted and spec.kind != IntentKind.EXECUTION.value:
            latch_alert(run.p, s, run.account, run.policy, decision, spec, run_id)
    return len(inserted) if mode is GuardMode.ENFORCE else 0


def _spec(
    run: CloseRun,
    kind: IntentKind,
    ticket: int,
    symbol: str,
    type_: int,
    volume: float,
    time_msc: int,
    episode: int,
    mode: GuardMode,
) -> rows.IntentSpec:
    login = run.account.login
    key = (
        keys.removal_intent_key(login, ticket, episode)
        if kind.removes
        else keys.close_intent_key(login, ticket, episode)
    )
    return rows.IntentSpec(
        key,
        run.account.id,
        login,
        run.account.terminal,
        ticket,
        symbol,
        type_,
        decimal_of(volume, VOLUME),
        time_msc,
        episode,
        mode.value,
        kind.value,
    )
