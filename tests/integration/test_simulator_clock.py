"""The simulator's clock (HEDGEOPS_MT5_SIMULATOR_CLOCK, a test double's setting): a file a
test writes the simulated instant into, read at every call by the simulated terminal (its
tick and deal times) and by the process's clock; refused with a real gateway.
tests/e2e/test_guard_days.py drives worker processes with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.mt5 import constants as c
from tests.mt5 import PASSWORD, SYMBOLS, account, position
from workers.adapters.mt5.scenario import Scenario
from workers.adapters.mt5.simulated_clock import FileSimulatorClock, SimulatorClockUnreadable
from workers.adapters.mt5.simulator import SimulatedMt5Gateway
from workers.mt5_wiring import make_gateway, process_clock
from workers.settings import SettingsError, load_settings


def test_the_clock_is_the_instant_the_file_holds_now(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = FileSimulatorClock(path)
    path.write_text("2026-03-06T23:30:00+02:00\n")
    assert clock() == datetime(2026, 3, 6, 21, 30, tzinfo=UTC)  # 23:30 - 2 h
    path.write_text("2026-03-17T21:45:00Z")
    assert clock() == datetime(2026, 3, 17, 21, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "says"),
    [(None, "No such file"), ("2026-03-06 23:30", "has no UTC offset"), ("friday", "not an ISO 8601 instant")],
)
def test_a_clock_without_an_instant_is_refused(tmp_path: Path, text: str | None, says: str) -> None:
    path = tmp_path / "clock"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SimulatorClockUnreadable, match=says):
        FileSimulatorClock(path)()


def test_the_simulated_terminal_shows_the_clocks_time_on_its_server_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("2026-03-06T21:30:00Z")
    scenario = Scenario.model_validate(
        {
            "server_time": {"Sim-NY": "ny-close"},
            "symbols": SYMBOLS,
            "accounts": [account(5001, server="Sim-NY", positions=[position(88811)])],
        }
    )
    gateway = SimulatedMt5Gateway(scenario, "t1", clock=FileSimulatorClock(path))
    assert gateway.initialize(login=5001, password=PASSWORD, server="Sim-NY")
    tick = gateway.symbol_info_tick("EURUSD")
    assert tick is not None and tick.time_msc == int(datetime(2026, 3, 6, 23, 30, tzinfo=UTC).timestamp() * 1000)
    path.write_text("2026-03-06T22:05:00Z")  # the server's Saturday, 00:05
    close = {"action": c.TRADE_ACTION_DEAL, "position": 88811, "symbol": "EURUSD", "volume": 0.1, "type": 1}
    assert gateway.order_send({**close, "type_filling": c.ORDER_FILLING_FOK}) is not None
    assert gateway.journal[-1]["at"] == "2026-03-06T22:05:00+00:00"


def test_the_setting_makes_the_simulator_and_the_process_share_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("2026-01-14T22:05:00Z")
    settings = load_settings(mt5_simulator_clock=str(path), mt5_gateway="simulator")
    assert process_clock(settings, lambda: datetime(2000, 1, 1, tzinfo=UTC))() == datetime(
        2026, 1, 14, 22, 5, tzinfo=UTC
    )
    simulated = make_gateway(settings, "demo")
    assert isinstance(simulated, SimulatedMt5Gateway) and simulated.now() == datetime(2026, 1, 14, 22, 5, tzinfo=UTC)
    unset = load_settings(mt5_gateway="simulator")
    assert process_clock(unset, lambda: datetime(2000, 1, 1, tzinfo=UTC))() == datetime(2000, 1, 1, tzinfo=UTC)


def test_a_real_gateway_refuses_the_simulator_clock(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="mt5_simulator_clock"):
        load_settings(mt5_simulator_clock=str(tmp_path / "clock"), mt5_gateway="mt5linux")
