"""The life of a close intent (a `close_intents` row, committed before any order_send):
what an order_send answer means (`classify`), what happens next (`next_step`), and how
an unknown outcome is resolved from the terminal's own records (`resolve_unknown`).

Statuses: `pending` (to send), `sent` (an attempt is out and its outcome is not recorded:
`mark_sent` is committed before the call, so a worker killed after sending finds it
`sent` and resolves it before anything is sent again), `waiting_market` (10018: retried
at each following sync, alerted once), `confirmed` (closed: by us, or already gone),
`failed` (bounded attempts used up, alerted).

Attempts: every order_send counts, except the answers that say nothing against the
request: market closed (it may last a weekend) and a partial fill (progress: the rest is
closed next). At most `max_attempts` counted attempts are made. Delays are whole
milliseconds (BACKOFF_MS, the last one repeated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from core.mt5 import constants as c
from core.mt5.closing import intent_comment
from core.mt5.convert import CLOSING_ENTRIES, VOLUME_QUANTUM, decimal_of
from core.mt5.types import TradeDeal, TradePosition

BACKOFF_MS = (200, 500, 1000, 2000)


class Answer(StrEnum):
    DONE = "done"
    PARTIAL = "partial"  # the remaining volume is closed next
    RETRY_PRICE = "retry_price"  # a fresh tick and retry
    BACKOFF = "backoff"  # wait and retry
    UNKNOWN = "unknown"  # resolve before anything is sent again
    CLOSED = "closed"  # the position is gone: done
    INVALID_FILL = "invalid_fill"  # the next allowed filling mode
    MARKET_CLOSED = "market_closed"  # wait for the market
    FIFO = "fifo"  # close the older positions first, then retry
    FINAL = "final"  # retried within the bound, then failed


_ANSWERS: dict[int, Answer] = {
    c.TRADE_RETCODE_DONE: Answer.DONE,
    c.TRADE_RETCODE_DONE_PARTIAL: Answer.PARTIAL,
    **dict.fromkeys(
        (c.TRADE_RETCODE_REQUOTE, c.TRADE_RETCODE_PRICE_CHANGED, c.TRADE_RETCODE_PRICE_OFF), Answer.RETRY_PRICE
    ),
    **dict.fromkeys(
        (c.TRADE_RETCODE_CONNECTION, c.TRADE_RETCODE_TOO_MANY_REQUESTS, c.TRADE_RETCODE_LOCKED, c.TRADE_RETCODE_FROZEN),
        Answer.BACKOFF,
    ),
    # The order may exist or have filled: PLACED (accepted, not yet executed), ERROR (no
    # saying how far it went), CLOSE_ORDER_EXIST (a close of this position is out already).
    **dict.fromkeys(
        (c.TRADE_RETCODE_TIMEOUT, c.TRADE_RETCODE_PLACED, c.TRADE_RETCODE_ERROR, c.TRADE_RETCODE_CLOSE_ORDER_EXIST),
        Answer.UNKNOWN,
    ),
    c.TRADE_RETCODE_POSITION_CLOSED: Answer.CLOSED,
    c.TRADE_RETCODE_INVALID_FILL: Answer.INVALID_FILL,
    c.TRADE_RETCODE_MARKET_CLOSED: Answer.MARKET_CLOSED,
    c.TRADE_RETCODE_FIFO_CLOSE: Answer.FIFO,
}


def classify(retcode: int | None) -> Answer:
    """What an order_send answer means. None (no result) and codes we do not know are
    UNKNOWN: re-read before sending again. Every other refusal (10006 REJECT, 10007 CANCEL,
    10013-10017, 10019, 10022, 10023, 10025-10027, 10032-10035, 10038, 10040-10044) is FINAL."""
    if retcode is None:
        return Answer.UNKNOWN
    if retcode in _ANSWERS:
        return _ANSWERS[retcode]
    return Answer.FINAL if retcode in c.TRADE_RETCODES else Answer.UNKNOWN


class IntentStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    WAITING_MARKET = "waiting_market"
    CONFIRMED = "confirmed"
    FAILED = "failed"


#: The statuses of an intent still to finish (sent again, resolved, or waiting for the market).
OPEN_STATUSES = frozenset({IntentStatus.PENDING, IntentStatus.SENT, IntentStatus.WAITING_MARKET})


class ExecutionOutcome(StrEnum):
    """Where an episode's execution stands, from its intents: the action of its execution
    alert, and part of that alert's key (one alert per outcome reached)."""

    WOULD_CLOSE = "would_close"  # shadow mode: nothing is sent
    PARTIALLY_CLOSED = "partially_closed"  # some intents still open: closes go on
    POSITIONS_CLOSED = "positions_closed"  # every intent confirmed: the execution is done
    FAILED = "failed"  # none open, at least one failed: done, and a person is needed


def execution_outcome(statuses: Sequence[IntentStatus], *, shadow: bool) -> ExecutionOutcome:
    """The outcome of an episode whose intents have these statuses (at least one). Open
    intents (pending, sent, waiting for the market) keep it `partially_closed` whatever
    closed meanwhile; once none is open it is final: `positions_closed` when every one is
    confirmed, else `failed`."""
    if shadow:
        return ExecutionOutcome.WOULD_CLOSE
    if any(s in OPEN_STATUSES for s in statuses):
        return ExecutionOutcome.PARTIALLY_CLOSED
    if all(s is IntentStatus.CONFIRMED for s in statuses):
        return ExecutionOutcome.POSITIONS_CLOSED
    return ExecutionOutcome.FAILED


class NextAction(StrEnum):
    NONE = "none"  # confirmed or failed: nothing more to send
    SEND = "send"  # re-read the position and a fresh tick, send again after delay_ms
    RESOLVE = "resolve"  # unknown outcome: resolve_unknown before anything else
    WAIT_MARKET = "wait_market"  # send again at the next sync
    CLOSE_OLDER_FIRST = "close_older_first"  # FIFO: the older positions first, then this one


@dataclass(frozen=True, slots=True)
class CloseIntent:
    key: str
    ticket: int
    status: IntentStatus = IntentStatus.PENDING
    attempts: int = 0  # order_send calls (each recorded before it is made)
    market_closed: int = 0  # answers 10018
    partial_fills: int = 0  # answers 10010
    filling_index: int = 0  # into closing.allowed_fillings(symbol's filling_mode)
    market_alerted: bool = False

    @property
    def counted_attempts(self) -> int:
        """The attempts held against max_attempts."""
        return self.attempts - self.market_closed - self.partial_fills


@dataclass(frozen=True, slots=True)
class Step:
    intent: CloseIntent  # to record
    action: NextAction
    delay_ms: int = 0
    alert: bool = False


def mark_sent(intent: CloseIntent) -> CloseIntent:
    """The intent to commit just before order_send."""
    return replace(intent, status=IntentStatus.SENT, attempts=intent.attempts + 1)


def resume_action(intent: CloseIntent) -> NextAction:
    """What a worker that starts does with a stored intent, before it syncs anything."""
    if intent.status is IntentStatus.SENT:
        return NextAction.RESOLVE
    if intent.status in (IntentStatus.PENDING, IntentStatus.WAITING_MARKET):
        return NextAction.SEND
    return NextAction.NONE


def backoff_ms(attempt: int) -> int:
    return BACKOFF_MS[min(max(attempt, 1), len(BACKOFF_MS)) - 1]


def next_step(intent: CloseIntent, answer: Answer, max_attempts: int, filling_count: int = 1) -> Step:
    """The intent's next status and action after `answer` to its latest attempt
    (`filling_count`: how many fillings the symbol allows, len(allowed_fillings(...)))."""
    if answer in (Answer.DONE, Answer.CLOSED):
        return Step(replace(intent, status=IntentStatus.CONFIRMED), NextAction.NONE)
    if answer is Answer.UNKNOWN:
        return Step(replace(intent, status=IntentStatus.SENT), NextAction.RESOLVE)
    if answer is Answer.MARKET_CLOSED:
        waiting = replace(
            intent, status=IntentStatus.WAITING_MARKET, market_closed=intent.market_closed + 1, market_alerted=True
        )
        return Step(waiting, NextAction.WAIT_MARKET, alert=not intent.market_alerted)
    if answer is Answer.PARTIAL:
        return Step(
            replace(intent, status=IntentStatus.PENDING, partial_fills=intent.partial_fills + 1), NextAction.SEND
        )
    no_fill_left = answer is Answer.INVALID_FILL and intent.filling_index + 1 >= filling_count
    if no_fill_left or intent.counted_attempts >= max_attempts:
        return Step(replace(intent, status=IntentStatus.FAILED), NextAction.NONE, alert=True)
    return _retry(replace(intent, status=IntentStatus.PENDING), answer)


def _retry(intent: CloseIntent, answer: Answer) -> Step:
    if answer is Answer.INVALID_FILL:
        return Step(replace(intent, filling_index=intent.filling_index + 1), NextAction.SEND)
    if answer is Answer.FIFO:
        return Step(intent, NextAction.CLOSE_OLDER_FIRST)
    if answer is Answer.RETRY_PRICE:
        return Step(intent, NextAction.SEND)
    return Step(intent, NextAction.SEND, delay_ms=backoff_ms(intent.counted_attempts))  # BACKOFF, FINAL


class Resolved(StrEnum):
    FILLED = "filled"  # closed by our order, or gone: nothing more to send
    PARTIAL = "partial"  # our order closed part: the rest is to be closed
    NOT_FILLED = "not_filled"  # open, and no deal of ours: send again


@dataclass(frozen=True, slots=True)
class Resolution:
    outcome: Resolved
    remaining_volume: Decimal  # lots, 6 dp; 0 when filled
    deal_tickets: tuple[int, ...]  # our closing deals found

    @property
    def answer(self) -> Answer:
        """The answer next_step takes for it (not filled: retried with a fresh tick, counted)."""
        return {Resolved.FILLED: Answer.CLOSED, Resolved.PARTIAL: Answer.PARTIAL}.get(self.outcome, Answer.RETRY_PRICE)


def resolve_unknown(
    intent_key: str, ticket: int, still_open: TradePosition | None, deals: Sequence[TradeDeal]
) -> Resolution:
    """The outcome of an attempt whose answer was lost, from positions_get(ticket=)
    (`still_open`: None only when that call succeeded and found nothing; a failed call is
    no evidence) and history_deals_get(position=ticket) (`deals`). A closing deal of this
    position whose comment is the intent's comment proves our order filled."""
    comment = intent_comment(intent_key)
    ours = tuple(
        d.ticket for d in deals if d.position_id == ticket and d.entry in CLOSING_ENTRIES and d.comment == comment
    )
    if still_open is not None and still_open.ticket != ticket:
        raise ValueError(f"position {still_open.ticket} given to resolve the close of {ticket}")
    if still_open is None:
        return Resolution(Resolved.FILLED, Decimal("0"), ours)
    remaining = decimal_of(still_open.volume, VOLUME_QUANTUM)
    return Resolution(Resolved.PARTIAL if ours else Resolved.NOT_FILLED, remaining, ours)
