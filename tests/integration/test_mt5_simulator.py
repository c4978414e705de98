"""The simulator answers like the MetaTrader5 package: shapes, failures, filters, steps,
and order_send with injected retcodes and the checks a server makes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.mt5 import constants as c
from core.mt5.types import AccountInfo, OrderSendResult, SymbolInfo, Tick, TradeDeal, TradePosition
from tests.mt5 import PASSWORD, SYMBOLS, account, deal, position
from workers.adapters.mt5.scenario import DEMO_SCENARIO, Scenario, load_scenario
from workers.adapters.mt5.simulator import SimulatedMt5Gateway, in_group


def simulator(*accounts: dict[str, object], **scenario: object) -> SimulatedMt5Gateway:
    gateway = SimulatedMt5Gateway(
        Scenario.model_validate({"symbols": SYMBOLS, "accounts": list(accounts), **scenario}), "t1"
    )
    assert gateway.initialize() is True
    return gateway


def logged_in(*accounts: dict[str, object], **scenario: object) -> SimulatedMt5Gateway:
    gateway = simulator(*accounts, **scenario)
    assert gateway.login(5001, password=PASSWORD, server="Sim-Demo") is True
    return gateway


def close_request(ticket: int, volume: float = 0.1, **more: object) -> dict[str, object]:
    return {
        "action": c.TRADE_ACTION_DEAL,
        "symbol": "EURUSD",
        "volume": volume,
        "type": c.ORDER_TYPE_SELL,
        "position": ticket,
        "price": 1.086,
        "deviation": 20,
        "magic": 7,
        "type_filling": c.ORDER_FILLING_IOC,
        **more,
    }


class TestReading:
    def test_the_package_shapes(self) -> None:
        gw = logged_in(
            account(
                5001,
                positions=[position(1001), position(1002, symbol="XAUUSD", price_open=2640.0)],
                deals=[deal(9003, 1003, c.DEAL_REASON_SL, 1.0795)],
            )
        )

        info, positions = gw.account_info(), gw.positions_get()
        assert isinstance(info, AccountInfo) and positions is not None
        assert all(isinstance(p, TradePosition) for p in positions)
        # profits: (1.086 - 1.085) * 0.1 * 100000 = 10.0 and (2650 - 2640) * 0.1 * 100 = 100.0
        assert [(p.ticket, p.profit) for p in positions] == [(1001, 10.0), (1002, 100.0)]
        assert (info.balance, info.equity, info.profit) == (10000.0, 10110.0, 110.0)
        assert isinstance(gw.symbol_info("EURUSD"), SymbolInfo)
        assert gw.symbol_info_tick("EURUSD") == Tick(
            1795168800, 1.086, 1.0861, 0.0, 0, 1795168800000, 6, 0.0
        )  # 2026-11-20 10:00 UTC
        deals = gw.history_deals_get(position=1003)
        assert deals is not None and [type(d) for d in deals] == [TradeDeal]

    def test_filters(self) -> None:
        gw = logged_in(account(5001, positions=[position(1001), position(1002, symbol="XAUUSD", price_open=2640.0)]))

        assert [p.ticket for p in gw.positions_get(symbol="XAUUSD") or ()] == [1002]
        assert [p.ticket for p in gw.positions_get(ticket=1001) or ()] == [1001]
        assert [p.ticket for p in gw.positions_get(group="*USD*,!XAU*") or ()] == [1001]
        assert gw.positions_get(ticket=4242) == ()

    @pytest.mark.parametrize(
        ("symbol", "group", "inside"),
        [
            ("EURUSD", "*USD*", True),
            ("EURUSD", "*USD*,!EUR*", False),
            ("GBPJPY", "*USD*,*JPY*", True),
            ("GBPJPY", "*USD*", False),
        ],
    )
    def test_group_masks(self, symbol: str, group: str, inside: bool) -> None:
        assert in_group(symbol, group) is inside

    def test_paths_move_with_each_login(self) -> None:
        gw = simulator(
            account(5001, equity=[10000.0, 10250.5], positions=[position(1001, until_step=1)]),
            symbols={"EURUSD": {**SYMBOLS["EURUSD"], "bid": [1.086, 1.0865]}},
        )
        seen = []
        for _ in range(3):
            gw.login(5001, password=PASSWORD)
            info, tick = gw.account_info(), gw.symbol_info_tick("EURUSD")
            assert info is not None and tick is not None
            seen.append((info.equity, tick.bid, len(gw.positions_get() or ())))

        assert seen == [(10000.0, 1.086, 1), (10250.5, 1.0865, 0), (10250.5, 1.0865, 0)]


class TestFailures:
    def test_nothing_before_initialize_and_a_wrong_password(self) -> None:
        gw = SimulatedMt5Gateway(Scenario.model_validate({"accounts": [account(5001)]}), "t1")

        assert gw.account_info() is None and gw.last_error() == (-10004, "No IPC connection")
        assert gw.initialize() is True
        assert gw.login(5001, password="nope") is False
        assert gw.last_error() == (-6, "Terminal: Authorization failed")

    def test_an_unreachable_terminal(self) -> None:
        gw = SimulatedMt5Gateway(Scenario.model_validate({"terminals": {"t1": {"unreachable": True}}}), "t1")

        assert gw.initialize() is False
        assert gw.last_error() == (-10003, "IPC initialize failed, MetaTrader 5 x64 not found")

    def test_a_timeout_then_a_disconnect(self) -> None:
        faults = [
            {"call": "positions_get", "code": -10005, "message": "IPC timeout", "times": 1},
            {
                "call": "account_info",
                "code": -10004,
                "message": "No IPC connection",
                "disconnect": True,
                "from_step": 1,
            },
        ]
        gw = logged_in(account(5001, faults=faults))

        assert gw.positions_get() is None and gw.last_error() == (-10005, "IPC timeout")
        assert gw.positions_get() == ()  # once only
        assert gw.login(5001, password=PASSWORD) and gw.account_info() is None  # step 1: dropped
        assert gw.positions_get() is None and gw.last_error() == (-10004, "No IPC connection")
        assert gw.initialize() and gw.login(5001, password=PASSWORD) and gw.account_info() is not None

    def test_an_unknown_symbol(self) -> None:
        gw = logged_in(account(5001))

        assert gw.symbol_info("NOPE") is None and gw.last_error()[0] == c.RES_E_NOT_FOUND


class TestOrderSend:
    def test_injected_retcodes_come_first_then_the_close_is_done(self) -> None:
        gw = logged_in(
            account(
                5001, positions=[position(1001)], order_send=[c.TRADE_RETCODE_REQUOTE, c.TRADE_RETCODE_PRICE_CHANGED]
            )
        )

        answers = [gw.order_send(close_request(1001)) for _ in range(3)]

        assert [a.retcode for a in answers if a] == [10004, 10020, 10009]
        done = answers[2]
        assert isinstance(done, OrderSendResult) and (done.volume, done.price, done.comment) == (
            0.1,
            1.086,
            "Request executed",
        )
        assert gw.positions_get() == ()
        [closing] = [d for d in gw.history_deals_get(position=1001) or ()]
        assert (closing.entry, closing.reason, closing.price) == (c.DEAL_ENTRY_OUT, c.DEAL_REASON_EXPERT, 1.086)
        assert gw.order_send(close_request(1001)).retcode == c.TRADE_RETCODE_POSITION_CLOSED  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("request_fields", "retcode"),
        [
            ({"volume": 0.015}, c.TRADE_RETCODE_INVALID_VOLUME),  # not a multiple of the 0.01 step
            ({"type_filling": c.ORDER_FILLING_FOK}, c.TRADE_RETCODE_INVALID_FILL),  # the symbol allows IOC only
            ({"action": c.TRADE_ACTION_SLTP}, c.TRADE_RETCODE_INVALID),
        ],
    )
    def test_the_server_checks(self, request_fields: dict[str, object], retcode: int) -> None:
        symbols = {"EURUSD": {**SYMBOLS["EURUSD"], "filling_mode": c.SYMBOL_FILLING_IOC}}
        gw = logged_in(account(5001, positions=[position(1001)]), symbols=symbols)

        answer = gw.order_send(close_request(1001, **request_fields))

        assert answer is not None and answer.retcode == retcode
        assert [p.ticket for p in gw.positions_get() or ()] == [1001]

    def test_a_partial_close_leaves_the_rest_open(self) -> None:
        gw = logged_in(account(5001, positions=[position(1001, volume=0.3)]))

        gw.order_send(close_request(1001, volume=0.1))

        assert [(p.ticket, p.volume) for p in gw.positions_get() or ()] == [(1001, 0.2)]


def test_the_demo_scenario_loads() -> None:
    scenario = load_scenario(DEMO_SCENARIO)
    assert [a.login for a in scenario.accounts] == [700001, 700002]  # reconciliation, then the guarded account
    assert scenario.time == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_the_call_log_is_bounded_newest_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # A simulated worker runs all night: its call log keeps the newest KEPT to 2 x KEPT calls.
    monkeypatch.setattr("workers.adapters.mt5.simulator.CALLS_KEPT", 5)
    gw = logged_in(account(5001))  # initialize, login:5001
    for _ in range(20):
        gw.account_info()
    assert 5 <= len(gw.calls) <= 10
    assert gw.calls[-1] == "account_info" and "initialize" not in gw.calls
