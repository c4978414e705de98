"""Scripted close answers (per ticket, in turn, then the server's checks), the journal's
record of each, closing deals, balance operations by date, and the equity after a close."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from core.mt5 import constants as c
from tests.mt5 import SYMBOLS
from tests.mt5_broker import BUY, SELL, broker_account, close_request, gateway, intent_key, scenario
from workers.adapters.mt5.scenario import Scenario
from workers.adapters.mt5.simulator import SimulatedMt5Gateway


def scripted(*answers: int | str, **more: object) -> SimulatedMt5Gateway:
    return gateway(scenario(broker_account(close_answers={BUY: list(answers)}, **more)))


def open_tickets(gw: SimulatedMt5Gateway) -> list[tuple[int, float]]:
    return [(p.ticket, p.volume) for p in gw.positions_get() or ()]


def closing_comments(gw: SimulatedMt5Gateway, ticket: int = BUY) -> list[str]:
    return [d.comment for d in gw.history_deals_get(position=ticket) or ()]


REFUSALS = [
    ("requote", 10004),
    ("price_changed", 10020),
    ("price_off", 10021),
    ("timeout", 10012),
    ("market_closed", 10018),
    ("invalid_fill", 10030),
    ("connection", 10031),
    ("too_many_requests", 10024),
    ("locked", 10028),
    ("position_closed", 10036),
    ("trade_disabled", 10017),
    ("no_money", 10019),
    ("invalid", 10013),
    ("invalid_close_volume", 10038),
    ("close_only", 10044),
    ("fifo_close", 10045),
]


class TestRefusals:
    @pytest.mark.parametrize(("name", "retcode"), REFUSALS)
    def test_a_named_refusal_answers_its_retcode_and_does_nothing(self, name: str, retcode: int) -> None:
        gw = scripted(name)

        answer = gw.order_send(close_request(BUY))

        assert answer is not None and (answer.retcode, answer.deal, answer.volume) == (retcode, 0, 0.0)
        assert open_tickets(gw) == [(BUY, 0.1), (SELL, 0.1)] and closing_comments(gw) == []
        [entry] = gw.journal
        assert (entry["answer"], entry["result"]["retcode"], entry["filled"], entry["deal"]) == (
            name,
            retcode,
            False,
            None,
        )

    def test_answers_are_spent_in_turn_then_the_server_decides(self) -> None:
        gw = scripted("requote", c.TRADE_RETCODE_PRICE_CHANGED, "done")

        retcodes = [getattr(gw.order_send(close_request(BUY)), "retcode", None) for _ in range(4)]

        assert retcodes == [10004, 10020, 10009, 10036]
        assert [e["answer"] for e in gw.journal] == ["requote", 10020, "done", None]

    def test_exhausted_answers_leave_the_filling_check_to_the_server(self) -> None:
        symbols = {**SYMBOLS, "EURUSD": {**SYMBOLS["EURUSD"], "filling_mode": c.SYMBOL_FILLING_IOC}}
        gw = gateway(scenario(broker_account(close_answers={BUY: ["connection"]}), symbols=symbols))

        answers = [gw.order_send(close_request(BUY, type_filling=c.ORDER_FILLING_FOK)) for _ in range(2)]

        assert [a.retcode for a in answers if a] == [c.TRADE_RETCODE_CONNECTION, c.TRADE_RETCODE_INVALID_FILL]

    def test_a_tickets_answers_come_before_the_accounts(self) -> None:
        gw = scripted("locked", order_send=["requote"])

        first, other = gw.order_send(close_request(BUY)), gw.order_send(close_request(SELL))

        assert (first and first.retcode, other and other.retcode) == (c.TRADE_RETCODE_LOCKED, c.TRADE_RETCODE_REQUOTE)

    @pytest.mark.parametrize("answer", ["timeout_but_fil", 10005, 42])
    def test_an_unknown_answer_is_refused_by_the_scenario(self, answer: int | str) -> None:
        with pytest.raises(ValidationError):
            Scenario.model_validate(scenario(broker_account(close_answers={BUY: [answer]})))


class TestFills:
    def test_done(self) -> None:
        gw = scripted("done")

        answer = gw.order_send(close_request(BUY))

        assert answer is not None and (answer.retcode, answer.volume, answer.price) == (10009, 0.1, 1.086)
        assert open_tickets(gw) == [(SELL, 0.1)] and gw.journal[0]["filled"] is True

    @pytest.mark.parametrize(("volume", "closed", "left"), [(0.1, 0.05, 0.05), (0.03, 0.01, 0.09), (0.01, 0.01, 0.09)])
    def test_partial_closes_half_the_volume_rounded_down_to_the_step(
        self, volume: float, closed: float, left: float
    ) -> None:
        gw = scripted("partial")

        answer = gw.order_send(close_request(BUY, volume=volume))

        assert answer is not None and (answer.retcode, answer.volume) == (c.TRADE_RETCODE_DONE_PARTIAL, closed)
        assert open_tickets(gw) == [(BUY, left), (SELL, 0.1)]
        assert gw.journal[0]["volume_filled"] == closed

    def test_timeout_but_fill_says_timeout_and_the_position_is_closed_with_a_deal_of_the_comment(self) -> None:
        gw = scripted("timeout_but_fill")

        answer = gw.order_send(close_request(BUY))

        assert answer is not None and (answer.retcode, answer.deal, answer.volume) == (c.TRADE_RETCODE_TIMEOUT, 0, 0.0)
        assert gw.positions_get(ticket=BUY) == () and closing_comments(gw) == [intent_key(BUY)]
        [entry] = gw.journal
        assert (entry["result"]["retcode"], entry["filled"], entry["deal"]) == (10012, True, 88814)

    def test_none_but_fill_returns_none_with_last_error_and_the_position_is_closed(self) -> None:
        gw = scripted("none_but_fill")

        assert gw.order_send(close_request(BUY)) is None
        assert gw.last_error() == (c.RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
        assert gw.positions_get(ticket=BUY) == () and closing_comments(gw) == [intent_key(BUY)]
        assert (gw.journal[0]["result"], gw.journal[0]["last_error"], gw.journal[0]["filled"]) == (
            None,
            [-10005, "IPC timeout"],
            True,
        )

    def test_disconnect_after_fill_fails_every_call_until_initialize(self) -> None:
        gw = scripted("disconnect_after_fill")

        assert gw.order_send(close_request(BUY)) is None
        assert gw.last_error() == (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
        assert gw.positions_get(ticket=BUY) is None and gw.history_deals_get(position=BUY) is None
        assert gw.account_info() is None and gw.order_send(close_request(SELL)) is None
        assert gw.last_error() == (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
        assert gw.initialize() and gw.login(5001, password="sim-pass")
        assert gw.positions_get(ticket=BUY) == () and closing_comments(gw) == [intent_key(BUY)]
        assert [e["filled"] for e in gw.journal] == [True]  # the call made while disconnected never reached it

    def test_a_filling_answer_still_meets_the_server_checks(self) -> None:
        gw = scripted("timeout_but_fill")

        answer = gw.order_send(close_request(BUY, volume=0.2))

        assert answer is not None and answer.retcode == c.TRADE_RETCODE_INVALID_CLOSE_VOLUME
        assert gw.journal[0]["filled"] is False and open_tickets(gw) == [(BUY, 0.1), (SELL, 0.1)]


class TestClosingDeals:
    def test_a_close_is_an_expert_out_deal_with_the_requests_comment_and_magic(self) -> None:
        gw = scripted()

        gw.order_send(close_request(SELL, magic=4242))

        [out] = gw.history_deals_get(position=SELL) or ()
        assert (out.entry, out.reason, out.type, out.magic, out.comment, out.volume, out.price, out.profit) == (
            c.DEAL_ENTRY_OUT,
            c.DEAL_REASON_EXPERT,
            c.DEAL_TYPE_BUY,
            4242,
            intent_key(SELL),
            0.1,
            1.0861,
            9.0,
        )
        assert gw.positions_get(ticket=SELL) == () and gw.positions_get(ticket=BUY) != ()

    @pytest.mark.parametrize(
        ("fields", "retcode"),
        [
            ({"type": c.ORDER_TYPE_BUY}, c.TRADE_RETCODE_INVALID),  # the same direction opens, it does not close
            ({"volume": 0.2}, c.TRADE_RETCODE_INVALID_CLOSE_VOLUME),
            ({"position": 4242}, c.TRADE_RETCODE_POSITION_CLOSED),
        ],
    )
    def test_what_a_server_refuses_in_a_close(self, fields: dict[str, Any], retcode: int) -> None:
        answer = scripted().order_send(close_request(BUY, **fields))

        assert answer is not None and answer.retcode == retcode


class TestBalanceOperations:
    DEPOSIT = {"ticket": 7001, "type": c.DEAL_TYPE_BALANCE, "profit": 5000.0, "from_step": 1, "comment": "deposit"}
    CREDIT = {"ticket": 7002, "type": c.DEAL_TYPE_CREDIT, "profit": 300.0, "from_step": 1}
    WITHDRAWAL = {"ticket": 7003, "type": c.DEAL_TYPE_BALANCE, "profit": -1000.0, "from_step": 2}

    def test_they_show_from_their_step_at_its_time_and_move_balance_credit_and_equity(self) -> None:
        gw = gateway(scenario(broker_account(deals=[self.DEPOSIT, self.CREDIT, self.WITHDRAWAL])))
        day = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
        seen = []
        for _ in range(3):
            info = gw.account_info()
            deals = gw.history_deals_get(*day) or ()
            assert info is not None
            seen.append((info.balance, info.credit, info.equity, [(d.ticket, d.type, d.profit) for d in deals]))
            gw.login(5001, password="sim-pass")

        assert seen == [
            (10000.0, 0.0, 10019.0, []),
            (15000.0, 300.0, 15319.0, [(7001, 2, 5000.0), (7002, 3, 300.0)]),
            (14000.0, 300.0, 14319.0, [(7001, 2, 5000.0), (7002, 3, 300.0), (7003, 2, -1000.0)]),
        ]
        # at the time of their step: 10:00:30 (step 1) and 10:01:00 (step 2); naive bounds are UTC
        deposit, credit = (
            gw.history_deals_get(datetime(2026, 11, 20, 10, 0, 30), datetime(2026, 11, 20, 10, 0, 59)) or ()
        )
        assert (deposit.time, deposit.position_id, deposit.symbol, deposit.comment) == (1795168830, 0, "", "deposit")
        assert credit.ticket == 7002

    def test_they_move_a_scripted_equity_path(self) -> None:
        gw = gateway(scenario(broker_account(deals=[self.DEPOSIT], equity=[9900.0])))
        gw.login(5001, password="sim-pass")

        info = gw.account_info()

        assert info is not None and (info.balance, info.equity) == (15000.0, 14900.0)

    def test_a_trade_deal_without_its_position_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="a trade deal needs"):
            Scenario.model_validate(scenario(broker_account(deals=[{"ticket": 1, "profit": 5.0}])))


class TestEquityAfterClose:
    def test_without_a_path_the_realised_pnl_moves_from_open_profit_into_the_balance(self) -> None:
        gw = scripted("partial")
        before = gw.account_info()

        gw.order_send(close_request(BUY))  # half of BUY: 5.00 realised
        half = gw.account_info()
        gw.order_send(close_request(BUY, volume=0.05))
        gw.order_send(close_request(SELL))
        after = gw.account_info()

        assert [(i.balance, i.profit, i.equity) for i in (before, half, after) if i] == [
            (10000.0, 19.0, 10019.0),
            (10005.0, 14.0, 10019.0),
            (10019.0, 0.0, 10019.0),
        ]

    def test_with_a_path_equity_follows_the_path_and_the_balance_takes_the_realised_pnl(self) -> None:
        gw = scripted(equity=[9990.0])

        gw.order_send(close_request(BUY))
        info = gw.account_info()

        assert info is not None and (info.balance, info.profit, info.equity) == (10010.0, 9.0, 9990.0)
