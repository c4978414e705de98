"""The simulator's scenario file (JSON): terminals, symbols with volume step and filling
modes, accounts with their positions and deals, price and equity paths by step, injected
faults (timeouts, disconnects, failed logins), order_send answers (per account, and per
ticket for closes), balance operations, and kill points for crash tests.

A step is one sync of an account: each successful `login` to it moves it to its next
step (the first login is step 0). Paths (`bid`, `equity`) are read at the step, the last
value standing for every later one. See docs/mt5.md for a worked example."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.mt5 import constants as c
from core.mt5.server_time import valid_spec
from workers.adapters.mt5.simulated_answers import check_answer

NonEmptyFloats = Annotated[list[float], Field(min_length=1)]
#: A retcode, or a named behaviour of simulated_answers.NAMED ("requote", "timeout_but_fill", ...).
AnswerItem = Annotated[int | str, AfterValidator(check_answer)]
KillPoint = Literal["before_order_send", "after_order_send"]
#: Deal types a scenario scripts as balance operations (money moved in or out, credit).
BALANCE_OPERATIONS: Final = frozenset({c.DEAL_TYPE_BALANCE, c.DEAL_TYPE_CREDIT})


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
    #: The spread by step, in points (a wide spread scripted); unset: spread_points at every step.
    spreads: Annotated[list[int], Field(min_length=1)] | None = None
    currency_profit: str = "USD"

    def spread_at(self, step: int) -> int:
        """The spread (points) at `step`; the last of `spreads` stands for every later step."""
        return self.spread_points if self.spreads is None else self.spreads[min(max(step, 0), len(self.spreads) - 1)]


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


class OrderSpec(Strict):
    """A pending order the trader placed, shown by orders_get from `from_step` until before
    `until_step` (or until a TRADE_ACTION_REMOVE request deletes it)."""

    ticket: int
    symbol: str
    type: int = c.ORDER_TYPE_BUY_LIMIT
    volume: float
    price_open: float
    sl: float = 0.0
    tp: float = 0.0
    magic: int = 0
    comment: str = ""
    from_step: int = 0
    until_step: int | None = None


class DealSpec(Strict):
    """A deal in the account's history from `from_step` on. A trade deal (BUY, SELL) names
    its position, symbol, volume and price; a balance operation (DEAL_TYPE_BALANCE: deposit
    or withdrawal, DEAL_TYPE_CREDIT) only its `profit`, the amount, and moves the balance
    (credit) from its step on. `time` None: the time of its `from_step`."""

    ticket: int
    position_id: int = 0
    symbol: str = ""
    type: int = c.DEAL_TYPE_SELL
    entry: int = c.DEAL_ENTRY_OUT
    reason: int = c.DEAL_REASON_CLIENT
    volume: float = 0.0
    price: float = 0.0
    profit: float = 0.0
    commission: float = 0.0
    swap: float = 0.0
    magic: int = 0
    comment: str = ""
    time: datetime | None = None
    from_step: int = 0

    @model_validator(mode="after")
    def _trade_deals_are_complete(self) -> DealSpec:
        if self.type not in BALANCE_OPERATIONS and not (self.position_id and self.symbol and self.volume > 0):
            raise ValueError(f"deal {self.ticket}: a trade deal needs position_id, symbol and volume")
        return self

    @property
    def balance_operation(self) -> bool:
        return self.type in BALANCE_OPERATIONS


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
    #: Pending orders (orders_get); deleted by a TRADE_ACTION_REMOVE request naming the ticket.
    orders: list[OrderSpec] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    #: Answers order_send gives, in turn, to requests without answers of their own below;
    #: exhausted: the server's checks, then the deal.
    order_send: list[AnswerItem] = Field(default_factory=list)
    #: Answers to the closes of a position (requests with `position`) and to the removal of a
    #: pending order (TRADE_ACTION_REMOVE with `order`), by ticket, in turn.
    close_answers: dict[int, list[AnswerItem]] = Field(default_factory=dict)
    #: Crash tests: the process SIGKILLs itself at this point of the first close of the ticket.
    kill_at: dict[int, KillPoint] = Field(default_factory=dict)


class Scenario(Strict):
    time: datetime = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    step_seconds: int = 30
    terminals: dict[str, TerminalSpec] = Field(default_factory=dict)
    symbols: dict[str, SymbolSpecFile] = Field(default_factory=dict)
    accounts: list[AccountSpecFile] = Field(default_factory=list)
    #: The instant of each step, from step 0 (a weekend scripted as a jump between two
    #: steps); after the last, step_seconds per step. Unset: time + step * step_seconds.
    step_times: Annotated[list[datetime], Field(min_length=1)] | None = None
    #: The simulated trade servers' clocks (core.mt5.server_time specs); unlisted: UTC.
    #: Deal, position and tick times are shown on the account's server clock, and
    #: history_deals_get reads its bounds on it, as a real terminal does.
    server_time: dict[str, Annotated[str, AfterValidator(valid_spec)]] = Field(default_factory=dict)


def load_scenario(path: Path) -> Scenario:
    return Scenario.model_validate(json.loads(path.read_text(encoding="utf-8")))


def scenario_problem(path: Path) -> str | None:
    """Why a scenario file cannot be used, in one line (None: it can): checked at start-up,
    not when a cycle first runs."""
    try:
        load_scenario(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text ({exc.reason})"
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc})"
    except RecursionError:
        return "JSON nested too deeply"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "scenario"
        return f"not a scenario: {where}: {first['msg']} ({exc.error_count()} error(s))"
    except ValueError as exc:  # json's limit: a number of more than 4,300 digits
        return f"not JSON ({exc})"
    return None


DEMO_SCENARIO = Path(__file__).with_name("scenarios") / "demo.json"
