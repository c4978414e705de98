"""Builders for the simulated broker's tests: a scenario on disk, close requests, the state
file as JSON, and a driver that plays a terminal client in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.mt5 import constants as c
from tests.mt5 import PASSWORD, SYMBOLS, account, position
from workers.adapters.mt5.scenario import Scenario
from workers.adapters.mt5.simulator import SimulatedMt5Gateway

LOGIN = 5001
#: 88812 a buy of 0.1 @ 1.085 (profit at bid 1.086: 10.00), 88813 a sell of 0.1 @ 1.087 (at ask 1.0861: 9.00).
BUY, SELL = 88812, 88813


def broker_account(*extra: dict[str, Any], **more: Any) -> dict[str, Any]:
    """5001 with BUY and SELL open, and the `extra` positions."""
    return account(
        LOGIN, positions=[position(BUY), position(SELL, type=c.POSITION_TYPE_SELL, price_open=1.087), *extra], **more
    )


def scenario(*accounts: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"symbols": SYMBOLS, "accounts": list(accounts) or [broker_account()], **more}


def write_scenario(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def gateway(data: dict[str, Any], state: Path | None = None) -> SimulatedMt5Gateway:
    """A simulator of terminal t1, initialized and logged in to 5001."""
    gw = SimulatedMt5Gateway(Scenario.model_validate(data), "t1", state)
    assert gw.initialize() and gw.login(LOGIN, password=PASSWORD, server="Sim-Demo")
    return gw


def intent_key(ticket: int, episode: int = 1) -> str:
    return f"CLOSE:{LOGIN}:{ticket}:{episode}"


def close_request(ticket: int, *, volume: float = 0.1, **more: Any) -> dict[str, Any]:
    """The guard's close: the opposite type at the bid (closing a buy) or the ask (a sell)."""
    buy = ticket != SELL
    return {
        "action": c.TRADE_ACTION_DEAL,
        "symbol": "EURUSD",
        "volume": volume,
        "position": ticket,
        "type": c.ORDER_TYPE_SELL if buy else c.ORDER_TYPE_BUY,
        "price": 1.086 if buy else 1.0861,
        "deviation": 20,
        "magic": 7,
        "comment": intent_key(ticket),
        "type_filling": c.ORDER_FILLING_IOC,
        **more,
    }


def state_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def filled_closes(path: Path, ticket: int) -> list[dict[str, Any]]:
    return [o for o in state_of(path)["orders"] if o["request"]["position"] == ticket and o["filled"]]


#: One client process: log in, wait for `start_at` (a wall-clock time, so that several start
#: together), send each request (unless the broker shows the position gone, with
#: `"unless_closed": true`), report the answers and what the broker shows after.
DRIVER = """
import json, sys, time
from pathlib import Path
from workers.adapters.mt5.scenario import load_scenario
from workers.adapters.mt5.simulator import SimulatedMt5Gateway

scenario, state, plan = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
gw = SimulatedMt5Gateway(load_scenario(scenario), "t1", state)
assert gw.initialize() and gw.login(5001, password=plan["password"], server="Sim-Demo")
time.sleep(max(plan.get("start_at", 0) - time.time(), 0))
answers = []
for request in plan["requests"]:
    if plan.get("unless_closed") and not gw.positions_get(ticket=request["position"]):
        answers.append("skipped")
        continue
    result = gw.order_send(request)
    answers.append(None if result is None else result.retcode)
deals = gw.history_deals_get(position=plan["deals_of"]) if plan.get("deals_of") else ()
print(json.dumps({"answers": answers, "open": [p.ticket for p in gw.positions_get()],
                  "comments": [d.comment for d in deals], "step": gw.accounts[5001].step}))
"""


def client(
    scenario_path: Path, state: Path, requests: list[dict[str, Any]], **plan: Any
) -> subprocess.CompletedProcess[str]:
    """Runs DRIVER in a new Python process against the scenario and the state file."""
    argv = [
        sys.executable,
        "-c",
        DRIVER,
        str(scenario_path),
        str(state),
        json.dumps({"password": PASSWORD, "requests": requests, **plan}),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]
