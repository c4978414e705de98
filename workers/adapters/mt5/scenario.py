"""The simulator's scenario file (JSON): terminals, symbols with volume step and filling
modes, accounts with their positions and deals, price and equity paths by step, injected
faults (timeouts, disconnects, failed logins) and order_send retcodes.

A step is one sync of an account: each successful `login` to it moves it to its next
step (the first login is step 0). Paths (`bid`, `equity`) are read at the step, the last
value standing for every later one. See docs/mt5.md for a worked example."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.mt5 import constants as c

NonEmptyFloats = Annotated[list[float], Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(Strict):
    """The first `times` calls of `call` (from `from_step` on) fail with (code, message);
    `times` None: every call. `disconnect`: the terminal connection is lost too, and
    every call fails until the next initialize()."""

    call: str
    code: int = c.RES_E_INTERNAL_FAIL_TIMEOUT
    message: str = "IPC timeout"
    times: int | None = 1
    from_step: int = 0
    disconnect: bool = False


class TerminalSpec(Strict):
    unreachable: bool = False
    faults: list[Fault] = Field(default_factory=list)


class SymbolSpecFile(Strict):
    digits: int = 5
    point: float = 0.00001
    volume_step: float = 0.01
    volume_min: float = 0.01
    volume_max: float = 100.0
    contract_size: float = 100_000.0
    #: SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC flags (1 | 2).
    filling_mode: int = c.SYMBOL_FILLING_FOK | c.SYMBOL_FILLING_IOC
    bid: NonEmptyFloats = Field(default_factory=lambda: [1.0])
    spread_points: int = 10
    currency_profit: str = "USD"


class PositionSpec(Strict):
    ticket: int
    symbol: str
    type: int = c.POSITION_TYPE_BUY
    volume: float
    price_open: float
    sl: float = 0.0
    tp: float = 0.0
    magic: int = 0
    swap: float = 0.0
    #: Fixed profit; None: (current - open) * volume * contract size, signed by the type.
    profit: float | None = None
    comment: str = ""
    reason: int = c.DEAL_REASON_EXPERT
    from_step: int = 0
    until_step: int | None = None


class DealSpec(Strict):
    ticket: int
    position_id: int
    symbol: str
    type: int = c.DEAL_TYPE_SELL
    entry: int = c.DEAL_ENTRY_OUT
    reason: int = c.DEAL_REASON_CLIENT
    volume: float
    price: float
    profit: float = 0.0
    commission: float = 0.0
    swap: float = 0.0
    magic: int = 0
    time: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    from_step: int = 0


class AccountSpecFile(Strict):
    login: int
    server: str = "Sim-Demo"
    password: str
    terminal: str
    currency: str = "USD"
    name: str = "Simulated account"
    margin_mode: int = c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
    leverage: int = 100
    balance: float
    #: Equity by step; None: balance + sum(profit + swap) of the open positions.
    equity: NonEmptyFloats | None = None
    margin: float = 0.0
    positions: list[PositionSpec] = Field(default_factory=list)
    deals: list[DealSpec] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    #: Retcodes order_send answers with, in turn, before answering DONE.
    order_send: list[int] = Field(default_factory=list)


class Scenario(Strict):
    time: datetime = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    step_seconds: int = 30
    terminals: dict[str, TerminalSpec] = Field(default_factory=dict)
    symbols: dict[str, SymbolSpecFile] = Field(default_factory=dict)
    accounts: list[AccountSpecFile] = Field(default_factory=list)


def load_scenario(path: Path) -> Scenario:
    return Scenario.model_validate(json.loads(path.read_text(encoding="utf-8")))


DEMO_SCENARIO = Path(__file__).with_name("scenarios") / "demo.json"
