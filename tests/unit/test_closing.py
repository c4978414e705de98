"""Closing a position: the request, the filling modes, the refusal of an opening, what each
order_send answer means and leads to, and the resolution of an unknown outcome."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.errors import HedgeopsError
from core.keys import close_intent_key, execution_alert_key
from core.mt5 import constants as c
from core.mt5.close_intents import (
    Answer,
    CloseIntent,
    ExecutionOutcome,
    IntentStatus,
    NextAction,
    Resolved,
    classify,
    execution_outcome,
    mark_sent,
    next_step,
    resolve_unknown,
    resume_action,
)
from core.mt5.closing import (
    MAX_COMMENT,
    RequestRefused,
    allowed_fillings,
    close_request,
    fifo_order,
    intent_comment,
    refuse_opening,
)
from core.mt5.types import Tick, TradeDeal, TradePosition

KEY = close_intent_key(5001234, 88812, 3)  # CLOSE:5001234:88812:ep3
TICK = Tick(
    time=1768399200, bid=1.086, ask=1.0862, last=0.0, volume=0, time_msc=1768399200000, flags=6, volume_real=0.0
)


def position(
    ticket: int = 88812,
    type_: int = c.POSITION_TYPE_BUY,
    volume: float = 0.3,
    time_msc: int = 0,
    symbol: str = "EURUSD",
) -> TradePosition:
    return TradePosition(
        ticket=ticket,
        time=time_msc // 1000,
        time_msc=time_msc,
        time_update=0,
        time_update_msc=0,
        type=type_,
        magic=7,
        identifier=ticket,
        reason=c.DEAL_REASON_EXPERT,
        volume=volume,
        price_open=1.085,
        sl=0.0,
        tp=0.0,
        price_current=1.086,
        swap=0.0,
        profit=30.0,
        symbol=symbol,
        comment="",
        external_id="",
    )


def deal(
    ticket: int, comment: str, position_id: int = 88812, entry: int = c.DEAL_ENTRY_OUT, volume: float = 0.3
) -> TradeDeal:
    return TradeDeal(
        ticket=ticket,
        order=ticket,
        time=0,
        time_msc=0,
        type=c.DEAL_TYPE_SELL,
        entry=entry,
        magic=7,
        position_id=position_id,
        reason=c.DEAL_REASON_EXPERT,
        volume=volume,
        price=1.086,
        commission=0.0,
        swap=0.0,
        profit=30.0,
        fee=0.0,
        symbol="EURUSD",
        comment=comment,
        external_id="",
    )


class TestFilling:
    @pytest.mark.parametrize(
        ("flags", "modes"),
        [
            (1, (c.ORDER_FILLING_FOK, c.ORDER_FILLING_RETURN)),  # SYMBOL_FILLING_FOK
            (2, (c.ORDER_FILLING_IOC, c.ORDER_FILLING_RETURN)),  # SYMBOL_FILLING_IOC: IOC first, never FOK
            (3, (c.ORDER_FILLING_FOK, c.ORDER_FILLING_IOC, c.ORDER_FILLING_RETURN)),  # both
            (0, (c.ORDER_FILLING_RETURN,)),  # neither: RETURN
        ],
    )
    def test_allowed_fillings(self, flags: int, modes: tuple[int, ...]) -> None:
        assert allowed_fillings(flags) == modes


class TestRequest:
    @pytest.mark.parametrize(
        ("type_", "order_type", "price"),
        [
            (c.POSITION_TYPE_BUY, c.ORDER_TYPE_SELL, 1.086),  # a buy is closed by a sell at the bid
            (c.POSITION_TYPE_SELL, c.ORDER_TYPE_BUY, 1.0862),  # a sell is closed by a buy at the ask
        ],
    )
    def test_the_close_of_a_position(self, type_: int, order_type: int, price: float) -> None:
        request = close_request(
            position(type_=type_), TICK, filling_mode_flags=2, magic=7, deviation=20, intent_key=KEY
        )

        assert request == {
            "action": c.TRADE_ACTION_DEAL,
            "position": 88812,
            "symbol": "EURUSD",
            "volume": 0.3,
            "type": order_type,
            "price": price,
            "deviation": 20,
            "magic": 7,
            "comment": "CLOSE:5001234:88812:ep3",
            "type_time": c.ORDER_TIME_GTC,
            "type_filling": c.ORDER_FILLING_IOC,
        }

    def test_the_volume_is_what_remains_of_the_position_as_read(self) -> None:
        request = close_request(position(volume=0.1), TICK, 2, 7, 20, KEY)  # 0.3 lots, 0.2 closed already

        assert request["volume"] == 0.1

    @pytest.mark.parametrize(
        ("flags", "index", "filling"),
        [
            (3, 0, c.ORDER_FILLING_FOK),
            (3, 1, c.ORDER_FILLING_IOC),
            (3, 2, c.ORDER_FILLING_RETURN),
            (2, 1, c.ORDER_FILLING_RETURN),
        ],
    )
    def test_the_filling_of_each_attempt(self, flags: int, index: int, filling: int) -> None:
        assert close_request(position(), TICK, flags, 7, 20, KEY, filling_index=index)["type_filling"] == filling

    @pytest.mark.parametrize(
        ("pos", "tick", "flags", "index"),
        [
            (position(), TICK, 2, 2),  # IOC and RETURN tried: no third mode
            (position(), TICK._replace(bid=0.0), 2, 0),  # no price
            (position(volume=0.0), TICK, 2, 0),  # nothing to close
            (position(type_=2), TICK, 2, 0),  # not a position type
        ],
    )
    def test_a_request_that_cannot_be_built_is_refused(
        self, pos: TradePosition, tick: Tick, flags: int, index: int
    ) -> None:
        with pytest.raises(RequestRefused):
            close_request(pos, tick, flags, 7, 20, KEY, filling_index=index)


class TestRefuseOpening:
    CLOSE = {
        "action": c.TRADE_ACTION_DEAL,
        "position": 88812,
        "symbol": "EURUSD",
        "volume": 0.3,
        "type": c.ORDER_TYPE_SELL,
    }

    def test_a_close_passes(self) -> None:
        refuse_opening(self.CLOSE)

    @pytest.mark.parametrize(
        "change",
        [
            {"position": None},
            {"position": 0},
            {"position": -1},
            {"position": "88812"},
            {"position": True},
            {"action": c.TRADE_ACTION_PENDING},
        ],
    )
    def test_anything_that_could_open_a_position_is_refused(self, change: dict[str, object]) -> None:
        request = {k: v for k, v in {**self.CLOSE, **change}.items() if v is not None}

        with pytest.raises(RequestRefused) as caught:
            refuse_opening(request)

        assert isinstance(caught.value, HedgeopsError)


class TestComment:
    @pytest.mark.parametrize(
        ("key", "comment"),
        [
            ("CLOSE:5001234:88812:ep3", "CLOSE:5001234:88812:ep3"),  # fits: the key itself
            ("CLOSE:50012345:1234567890:ep99", "CLOSE:50012345:1234567890:ep99"),  # 30 characters
            ("CLOSE:500123456789:1234567890:ep3", "CLOSE:1234567890:ep3"),  # 33: the login is the account's
        ],
    )
    def test_the_comment_holds_the_key(self, key: str, comment: str) -> None:
        assert intent_comment(key) == comment

    def test_a_key_too_long_even_without_the_login_becomes_a_digest(self) -> None:
        key = close_intent_key(9223372036854775807, 9223372036854775806, 1234)

        comment = intent_comment(key)

        assert len(comment) <= MAX_COMMENT and comment.startswith("CLOSE:")
        assert (
            comment
            == intent_comment(key)
            != intent_comment(close_intent_key(9223372036854775807, 9223372036854775806, 1235))
        )


class TestClassify:
    @pytest.mark.parametrize(
        ("retcode", "answer"),
        [
            (c.TRADE_RETCODE_DONE, Answer.DONE),  # 10009
            (c.TRADE_RETCODE_DONE_PARTIAL, Answer.PARTIAL),  # 10010
            (c.TRADE_RETCODE_REQUOTE, Answer.RETRY_PRICE),  # 10004
            (c.TRADE_RETCODE_PRICE_CHANGED, Answer.RETRY_PRICE),  # 10020
            (c.TRADE_RETCODE_PRICE_OFF, Answer.RETRY_PRICE),  # 10021
            (c.TRADE_RETCODE_CONNECTION, Answer.BACKOFF),  # 10031
            (c.TRADE_RETCODE_TOO_MANY_REQUESTS, Answer.BACKOFF),  # 10024
            (c.TRADE_RETCODE_LOCKED, Answer.BACKOFF),  # 10028
            (c.TRADE_RETCODE_TIMEOUT, Answer.UNKNOWN),  # 10012
            (None, Answer.UNKNOWN),  # order_send returned None
            (c.TRADE_RETCODE_POSITION_CLOSED, Answer.CLOSED),  # 10036
            (c.TRADE_RETCODE_MARKET_CLOSED, Answer.MARKET_CLOSED),  # 10018
            (c.TRADE_RETCODE_INVALID_FILL, Answer.INVALID_FILL),  # 10030
            (c.TRADE_RETCODE_FIFO_CLOSE, Answer.FIFO),  # 10045
            (c.TRADE_RETCODE_TRADE_DISABLED, Answer.FINAL),  # 10017
            (c.TRADE_RETCODE_NO_MONEY, Answer.FINAL),  # 10019
            (c.TRADE_RETCODE_CLIENT_DISABLES_AT, Answer.FINAL),  # 10027
            (c.TRADE_RETCODE_INVALID, Answer.FINAL),  # 10013
            (c.TRADE_RETCODE_INVALID_VOLUME, Answer.FINAL),  # 10014
            (c.TRADE_RETCODE_INVALID_PRICE, Answer.FINAL),  # 10015
            (c.TRADE_RETCODE_INVALID_STOPS, Answer.FINAL),  # 10016
            (c.TRADE_RETCODE_INVALID_CLOSE_VOLUME, Answer.FINAL),  # 10038
            (c.TRADE_RETCODE_CLOSE_ONLY, Answer.FINAL),  # 10044
            # not in the issue: the order may be out there, so it is resolved before anything else
            (c.TRADE_RETCODE_PLACED, Answer.UNKNOWN),  # 10008
            (c.TRADE_RETCODE_ERROR, Answer.UNKNOWN),  # 10011
            (c.TRADE_RETCODE_CLOSE_ORDER_EXIST, Answer.UNKNOWN),  # 10039
            (c.TRADE_RETCODE_FROZEN, Answer.BACKOFF),  # 10029
            (c.TRADE_RETCODE_REJECT, Answer.FINAL),  # 10006
            (99999, Answer.UNKNOWN),  # a code we do not know
        ],
    )
    def test_each_answer(self, retcode: int | None, answer: Answer) -> None:
        assert classify(retcode) is answer

    def test_no_retcode_is_left_out(self) -> None:
        assert {code: classify(code) for code in c.TRADE_RETCODES}.keys() == c.TRADE_RETCODES.keys()


def sent(attempts: int, **fields: object) -> CloseIntent:
    return CloseIntent(KEY, 88812, IntentStatus.SENT, attempts, **fields)  # type: ignore[arg-type]


class TestNextStep:
    @pytest.mark.parametrize(
        ("intent", "answer", "status", "action", "delay_ms", "alert"),
        [
            (sent(1), Answer.DONE, IntentStatus.CONFIRMED, NextAction.NONE, 0, False),
            (sent(1), Answer.CLOSED, IntentStatus.CONFIRMED, NextAction.NONE, 0, False),
            (sent(1), Answer.PARTIAL, IntentStatus.PENDING, NextAction.SEND, 0, False),
            (sent(1), Answer.RETRY_PRICE, IntentStatus.PENDING, NextAction.SEND, 0, False),
            (sent(1), Answer.BACKOFF, IntentStatus.PENDING, NextAction.SEND, 200, False),
            (sent(2), Answer.BACKOFF, IntentStatus.PENDING, NextAction.SEND, 500, False),
            (sent(3), Answer.BACKOFF, IntentStatus.PENDING, NextAction.SEND, 1000, False),
            (sent(4), Answer.BACKOFF, IntentStatus.PENDING, NextAction.SEND, 2000, False),
            (sent(4), Answer.FINAL, IntentStatus.PENDING, NextAction.SEND, 2000, False),  # bounded, not yet used up
            (sent(5), Answer.FINAL, IntentStatus.FAILED, NextAction.NONE, 0, True),  # 5 of 5: failed, alerted
            (sent(5), Answer.RETRY_PRICE, IntentStatus.FAILED, NextAction.NONE, 0, True),
            (sent(1), Answer.UNKNOWN, IntentStatus.SENT, NextAction.RESOLVE, 0, False),
            (sent(5), Answer.UNKNOWN, IntentStatus.SENT, NextAction.RESOLVE, 0, False),  # resolved before anything
            (sent(1), Answer.MARKET_CLOSED, IntentStatus.WAITING_MARKET, NextAction.WAIT_MARKET, 0, True),
            (
                sent(9, market_closed=8, market_alerted=True),
                Answer.MARKET_CLOSED,
                IntentStatus.WAITING_MARKET,
                NextAction.WAIT_MARKET,
                0,
                False,
            ),  # alerted once
            (sent(1), Answer.FIFO, IntentStatus.PENDING, NextAction.CLOSE_OLDER_FIRST, 0, False),
            (sent(1), Answer.INVALID_FILL, IntentStatus.PENDING, NextAction.SEND, 0, False),
        ],
    )
    def test_after_each_answer(
        self, intent: CloseIntent, answer: Answer, status: IntentStatus, action: NextAction, delay_ms: int, alert: bool
    ) -> None:
        step = next_step(intent, answer, max_attempts=5, filling_count=2)

        assert (step.intent.status, step.action, step.delay_ms, step.alert) == (status, action, delay_ms, alert)

    def test_invalid_fill_tries_the_next_mode_then_fails(self) -> None:
        # a symbol that allows only IOC: (IOC, RETURN)
        first = next_step(sent(1), Answer.INVALID_FILL, max_attempts=5, filling_count=len(allowed_fillings(2)))
        second = next_step(mark_sent(first.intent), Answer.INVALID_FILL, max_attempts=5, filling_count=2)

        assert (first.intent.filling_index, first.action) == (1, NextAction.SEND)
        assert (second.intent.status, second.alert) == (IntentStatus.FAILED, True)

    def test_market_closed_and_partial_fills_do_not_use_up_the_attempts(self) -> None:
        intent = CloseIntent(KEY, 88812)
        for answer in [Answer.MARKET_CLOSED] * 10 + [Answer.PARTIAL] * 4 + [Answer.RETRY_PRICE]:
            intent = next_step(mark_sent(intent), answer, max_attempts=2).intent

        assert (intent.attempts, intent.counted_attempts, intent.status) == (15, 1, IntentStatus.PENDING)
        assert next_step(mark_sent(intent), Answer.RETRY_PRICE, max_attempts=2).intent.status is IntentStatus.FAILED

    @pytest.mark.parametrize(
        ("status", "action"),
        [
            (IntentStatus.SENT, NextAction.RESOLVE),  # a worker killed after sending: resolve first
            (IntentStatus.PENDING, NextAction.SEND),
            (IntentStatus.WAITING_MARKET, NextAction.SEND),
            (IntentStatus.CONFIRMED, NextAction.NONE),
            (IntentStatus.FAILED, NextAction.NONE),
        ],
    )
    def test_what_a_starting_worker_does_with_an_intent(self, status: IntentStatus, action: NextAction) -> None:
        assert resume_action(CloseIntent(KEY, 88812, status)) is action


class TestResolveUnknown:
    @pytest.mark.parametrize(
        ("still_open", "deals", "outcome", "remaining", "ours"),
        [
            (None, [deal(9001, KEY)], Resolved.FILLED, "0", (9001,)),  # gone, our deal
            (None, [], Resolved.FILLED, "0", ()),  # gone (stopped out, closed by hand): done too
            (position(volume=0.1), [deal(9001, KEY, volume=0.2)], Resolved.PARTIAL, "0.100000", (9001,)),
            (position(), [], Resolved.NOT_FILLED, "0.300000", ()),  # open, no deal: send again
            (position(), [deal(9001, "CLOSE:5001234:88812:ep2")], Resolved.NOT_FILLED, "0.300000", ()),  # not ours
            (position(), [deal(9001, KEY, entry=c.DEAL_ENTRY_IN)], Resolved.NOT_FILLED, "0.300000", ()),  # an entry
            (position(), [deal(9001, KEY, position_id=4242)], Resolved.NOT_FILLED, "0.300000", ()),  # another position
        ],
    )
    def test_the_outcome_from_the_terminal_s_records(
        self,
        still_open: TradePosition | None,
        deals: list[TradeDeal],
        outcome: Resolved,
        remaining: str,
        ours: tuple[int, ...],
    ) -> None:
        resolution = resolve_unknown(KEY, 88812, still_open, deals)

        assert (resolution.outcome, resolution.remaining_volume, resolution.deal_tickets) == (
            outcome,
            D(remaining),
            ours,
        )

    @pytest.mark.parametrize(
        ("still_open", "deals", "answer"),
        [
            (None, [], Answer.CLOSED),
            (position(volume=0.1), [deal(9001, KEY)], Answer.PARTIAL),
            (position(), [], Answer.RETRY_PRICE),
        ],
    )
    def test_the_answer_it_stands_for(
        self, still_open: TradePosition | None, deals: list[TradeDeal], answer: Answer
    ) -> None:
        assert resolve_unknown(KEY, 88812, still_open, deals).answer is answer

    def test_the_position_of_another_ticket_is_refused(self) -> None:
        with pytest.raises(ValueError):
            resolve_unknown(KEY, 88812, position(ticket=1), [])


def test_fifo_order_is_oldest_first() -> None:
    positions = [position(3, time_msc=2000), position(1, time_msc=3000), position(2, time_msc=2000)]

    assert [p.ticket for p in fifo_order(positions)] == [2, 3, 1]


P, S, W, C, F = (
    IntentStatus.PENDING,
    IntentStatus.SENT,
    IntentStatus.WAITING_MARKET,
    IntentStatus.CONFIRMED,
    IntentStatus.FAILED,
)


class TestExecutionOutcome:
    @pytest.mark.parametrize(
        ("statuses", "shadow", "outcome"),
        [
            ((C, C, C), False, ExecutionOutcome.POSITIONS_CLOSED),  # every one closed: done
            ((C, S, P), False, ExecutionOutcome.PARTIALLY_CLOSED),  # 1 of 3, the others go on
            ((C, W), False, ExecutionOutcome.PARTIALLY_CLOSED),  # a closed market: more closes follow
            ((P, P), False, ExecutionOutcome.PARTIALLY_CLOSED),  # none closed yet, none given up
            ((C, F, S), False, ExecutionOutcome.PARTIALLY_CLOSED),  # a failure, and still one open
            ((C, F), False, ExecutionOutcome.FAILED),  # none open, one given up: a person is needed
            ((F, F), False, ExecutionOutcome.FAILED),
            ((P, P), True, ExecutionOutcome.WOULD_CLOSE),  # shadow: nothing is sent
        ],
    )
    def test_outcome(self, statuses: tuple[IntentStatus, ...], shadow: bool, outcome: ExecutionOutcome) -> None:
        assert execution_outcome(statuses, shadow=shadow) is outcome

    def test_each_outcome_has_a_key_of_its_own(self) -> None:
        assert [execution_alert_key(5001234, 3, o.value) for o in ExecutionOutcome] == [
            "DDALERT:5001234:execution:ep3:would_close",
            "DDALERT:5001234:execution:ep3:partially_closed",
            "DDALERT:5001234:execution:ep3:positions_closed",
            "DDALERT:5001234:execution:ep3:failed",
        ]
