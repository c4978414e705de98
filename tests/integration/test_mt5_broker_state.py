"""The simulator is a broker that remembers: with a state file, steps, positions, deals and
the journal of every order_send outlive the process, several processes on one terminal
meet one broker, and kill points SIGKILL a client around order_send (real processes)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.mt5 import constants as c
from tests.mt5 import PASSWORD, position
from tests.mt5_broker import (
    BUY,
    DRIVER,
    LOGIN,
    SELL,
    broker_account,
    client,
    close_request,
    filled_closes,
    gateway,
    intent_key,
    report,
    scenario,
    state_of,
    write_scenario,
)
from workers.mt5_wiring import make_gateway


class TestOneBrokerAcrossProcesses:
    def test_the_second_process_sees_the_first_ones_order_and_positions(self, tmp_path: Path) -> None:
        path, state = write_scenario(tmp_path, scenario()), tmp_path / "broker.json"

        first = report(client(path, state, [close_request(BUY)]))
        second = report(client(path, state, [], deals_of=BUY))

        assert first == {"answers": [c.TRADE_RETCODE_DONE], "open": [SELL], "comments": [], "step": 0}
        assert second == {"answers": [], "open": [SELL], "comments": [intent_key(BUY)], "step": 1}
        [order] = state_of(state)["orders"]
        assert (order["login"], order["request"]["position"], order["result"]["retcode"]) == (LOGIN, BUY, 10009)

    def test_a_gateway_sees_another_ones_orders_before_each_read(self, tmp_path: Path) -> None:
        state = tmp_path / "broker.json"
        one, other = gateway(scenario(), state), gateway(scenario(), state)

        assert other.order_send(close_request(BUY)).retcode == c.TRADE_RETCODE_DONE  # type: ignore[union-attr]

        assert [p.ticket for p in one.positions_get() or ()] == [SELL]
        assert [d.comment for d in one.history_deals_get(position=BUY) or ()] == [intent_key(BUY)]
        info = one.account_info()
        assert info is not None and info.balance == 10010.0
        assert one.order_send(close_request(BUY)).retcode == c.TRADE_RETCODE_POSITION_CLOSED  # type: ignore[union-attr]
        assert [o["result"]["retcode"] for o in one.journal] == [10009, 10036]

    def test_two_processes_closing_at_once_lose_no_order(self, tmp_path: Path) -> None:
        tickets = list(range(2001, 2201))
        path = write_scenario(tmp_path, scenario(broker_account(*(position(t) for t in tickets))))
        state = tmp_path / "broker.json"
        plans = [[close_request(t) for t in tickets[0::2]], [close_request(t) for t in tickets[1::2]]]

        start_at = time.time() + 3  # both logged in and waiting: their orders interleave
        running = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    DRIVER,
                    str(path),
                    str(state),
                    json.dumps({"password": PASSWORD, "requests": plan, "start_at": start_at}),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for plan in plans
        ]
        outputs = [p.communicate(timeout=120)[0] for p in running]

        assert [p.returncode for p in running] == [0, 0]
        assert all(json.loads(o)["answers"] == [10009] * 100 for o in outputs)
        saved = state_of(state)
        assert sorted(o["request"]["position"] for o in saved["orders"]) == tickets
        assert [p["ticket"] for p in saved["accounts"][str(LOGIN)]["positions"]] == [BUY, SELL]
        assert saved["accounts"][str(LOGIN)]["step"] == 1  # two logins
        assert len({d["ticket"] for d in saved["accounts"][str(LOGIN)]["deals"]}) == 200  # no ticket twice
        steps = [o["request"]["position"] % 2 for o in saved["orders"]]
        assert sum(a != b for a, b in pairwise(steps)) > 10, "the two clients did not interleave"

    def test_without_a_state_file_nothing_is_written_and_nothing_is_shared(self, tmp_path: Path) -> None:
        one, other = gateway(scenario()), gateway(scenario())

        other.order_send(close_request(BUY))

        assert [p.ticket for p in one.positions_get() or ()] == [BUY, SELL]
        assert len(other.journal) == 1 and list(tmp_path.iterdir()) == []

    def test_make_gateway_passes_the_state_setting(self, tmp_path: Path) -> None:
        path, state = write_scenario(tmp_path, scenario()), tmp_path / "broker.json"
        settings = SimpleNamespace(
            mt5_gateway="simulator", mt5_scenario=path, mt5_simulator_state=state, mt5_simulator_clock=None
        )

        gw = make_gateway(settings, "t1")  # type: ignore[arg-type]

        assert gw.initialize() and gw.login(LOGIN, password=PASSWORD)
        assert state_of(state)["accounts"][str(LOGIN)]["step"] == 0


class TestTheStateFile:
    def test_its_format(self, tmp_path: Path) -> None:
        state = tmp_path / "broker.json"
        gw = gateway(scenario(broker_account(close_answers={BUY: ["timeout_but_fill"]})), state)

        gw.order_send(close_request(BUY))

        saved = state_of(state)
        assert sorted(saved) == ["accounts", "orders", "version"] and saved["version"] == 1
        [order] = saved["orders"]
        assert order == {
            "login": LOGIN,
            "terminal": "t1",
            "step": 0,
            "at": "2026-11-20T10:00:00+00:00",
            "request": {
                "action": 1,
                "magic": 7,
                "order": 0,
                "symbol": "EURUSD",
                "volume": 0.1,
                "price": 1.086,
                "stoplimit": 0.0,
                "sl": 0.0,
                "tp": 0.0,
                "deviation": 20,
                "type": 1,
                "type_filling": 1,
                "type_time": 0,
                "expiration": 0,
                "comment": intent_key(BUY),
                "position": BUY,
                "position_by": 0,
            },
            "answer": "timeout_but_fill",
            "result": {
                "retcode": 10012,
                "deal": 0,
                "order": 0,
                "volume": 0.0,
                "price": 0.0,
                "bid": 1.086,
                "ask": 1.0861,
                "comment": "TRADE_RETCODE_TIMEOUT",
                "request_id": 1,
                "retcode_external": 0,
            },
            "last_error": None,
            "filled": True,
            "deal": 88814,
            "volume_filled": 0.1,
        }
        kept = saved["accounts"][str(LOGIN)]
        assert sorted(kept) == ["close_answers", "deals", "kills_fired", "order_send", "positions", "realised", "step"]
        assert (kept["step"], kept["realised"], kept["close_answers"]) == (0, 10.0, {str(BUY): []})
        assert [(d["ticket"], d["position_id"], d["entry"], d["reason"], d["comment"]) for d in kept["deals"]] == [
            (88814, BUY, c.DEAL_ENTRY_OUT, c.DEAL_REASON_EXPERT, intent_key(BUY))
        ]

    def test_a_login_advances_the_saved_step_and_no_temporary_file_is_left(self, tmp_path: Path) -> None:
        state = tmp_path / "broker.json"
        gateway(scenario(), state)
        gateway(scenario(), state)

        assert state_of(state)["accounts"][str(LOGIN)]["step"] == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["broker.json", "broker.json.lock"]

    def test_a_change_that_fails_writes_nothing_and_the_next_call_takes_the_file_again(self, tmp_path: Path) -> None:
        state = tmp_path / "broker.json"
        gw = gateway(scenario(), state)
        before, account = state.read_bytes(), gw.accounts[LOGIN]

        with pytest.raises(RuntimeError), gw.transaction(account):
            account.step += 5
            raise RuntimeError("in the middle of a change")

        assert state.read_bytes() == before
        assert gw.positions_get() is not None and account.step == 0


class TestKillPoints:
    def test_killed_before_order_send_the_broker_never_saw_it_and_the_restart_closes_once(self, tmp_path: Path) -> None:
        path = write_scenario(tmp_path, scenario(broker_account(kill_at={BUY: "before_order_send"})))
        state = tmp_path / "broker.json"

        killed = client(path, state, [close_request(BUY)])

        assert killed.returncode == -signal.SIGKILL
        saved = state_of(state)
        assert saved["orders"] == [] and saved["accounts"][str(LOGIN)]["kills_fired"] == [f"{BUY}:before_order_send"]
        assert [p["ticket"] for p in saved["accounts"][str(LOGIN)]["positions"]] == [BUY, SELL]

        again = report(client(path, state, [close_request(BUY)], unless_closed=True))

        assert again["answers"] == [c.TRADE_RETCODE_DONE] and again["open"] == [SELL]
        assert len(filled_closes(state, BUY)) == 1

    def test_killed_after_order_send_the_close_filled_and_the_restart_sends_nothing(self, tmp_path: Path) -> None:
        path = write_scenario(tmp_path, scenario(broker_account(kill_at={BUY: "after_order_send"})))
        state = tmp_path / "broker.json"

        killed = client(path, state, [close_request(BUY), close_request(SELL)])

        assert killed.returncode == -signal.SIGKILL and killed.stdout == ""
        assert len(filled_closes(state, BUY)) == 1 and filled_closes(state, SELL) == []

        again = report(client(path, state, [close_request(BUY), close_request(SELL)], unless_closed=True, deals_of=BUY))

        assert again == {
            "answers": ["skipped", c.TRADE_RETCODE_DONE],
            "open": [],
            "comments": [intent_key(BUY)],
            "step": 1,
        }
        assert len(filled_closes(state, BUY)) == 1 and len(filled_closes(state, SELL)) == 1

    def test_a_kill_point_fires_once_even_when_the_client_sends_again_blindly(self, tmp_path: Path) -> None:
        path = write_scenario(tmp_path, scenario(broker_account(kill_at={BUY: "after_order_send"})))
        state = tmp_path / "broker.json"

        assert client(path, state, [close_request(BUY)]).returncode == -signal.SIGKILL
        again = report(client(path, state, [close_request(BUY)]))

        assert again["answers"] == [c.TRADE_RETCODE_POSITION_CLOSED]
        assert [o["filled"] for o in state_of(state)["orders"]] == [True, False]
