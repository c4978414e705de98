"""The simulated MT5 terminal: deterministic, driven by a scenario (workers.adapters.mt5.
scenario), answering with the MetaTrader5 package's shapes: named tuples, None plus
last_error() on failure, False from initialize/login. One instance is one terminal."""
from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from core.mt5 import constants as c
from core.mt5.gateway import RequestValue
from core.mt5.types import AccountInfo, OrderSendResult, SymbolInfo, Tick, TradeDeal, TradePosition, TradeRequest
from workers.adapters.mt5.scenario import AccountSpecFile, DealSpec, Fault, PositionSpec, Scenario, TerminalSpec
from workers.adapters.mt5.simulated_orders import execute_order

OK = (c.RES_S_OK, "Success")
NO_CONNECTION = (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
NOT_FOUND_TERMINAL = (c.RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")
AUTH_FAILED = (c.RES_E_AUTH_FAILED, "Terminal: Authorization failed")
T = TypeVar("T")


@dataclass
class AccountState:
    """An account of the scenario as it moves through steps and orders."""

    spec: AccountSpecFile
    step: int = -1
    positions: list[PositionSpec] = field(default_factory=list)
    deals: list[DealSpec] = field(default_factory=list)
    retcodes: list[int] = field(default_factory=list)
    #: The open positions as tuples, for the step they were made at (orders clear it).
    shown: tuple[int, tuple[TradePosition, ...]] | None = None

    @classmethod
    def of(cls, spec: AccountSpecFile) -> AccountState:
        return cls(spec, positions=list(spec.positions), deals=list(spec.deals), retcodes=list(spec.order_send))

    def open_positions(self) -> list[PositionSpec]:
        return [p for p in self.positions if p.from_step <= self.step and (p.until_step is None or self.step < p.until_step)]

    def visible_deals(self) -> list[DealSpec]:
        return [d for d in self.deals if d.from_step <= self.step]


class SimulatedMt5Gateway:
    """Implements core.mt5.gateway.Mt5Gateway for the terminal `terminal` of `scenario`."""

    def __init__(self, scenario: Scenario, terminal: str) -> None:
        self.scenario = scenario
        self.terminal = terminal
        self._spec = scenario.terminals.get(terminal, TerminalSpec())
        self.accounts = {a.login: AccountState.of(a) for a in scenario.accounts if a.terminal == terminal}
        self._initialized = False
        self._current: AccountState | None = None
        self._error = OK
        self._fault_calls: dict[int, int] = {}
        self.calls: list[str] = []

    # -- connection ----------------------------------------------------------------------

    def initialize(self, path: str | None = None, *, login: int | None = None, password: str | None = None,
                   server: str | None = None, timeout: int | None = None, portable: bool = False) -> bool:
        self.calls.append("initialize")
        if self._spec.unreachable:
            return self._fail(NOT_FOUND_TERMINAL, False)
        if self._faulted("initialize"):
            return False
        self._initialized = True
        self._error = OK
        return self.login(login, password, server, timeout) if login is not None else True

    def login(self, login: int, password: str | None = None, server: str | None = None,
              timeout: int | None = None) -> bool:
        self.calls.append(f"login:{login}")
        if not self._initialized:
            return self._fail(NO_CONNECTION, False)
        account = self.accounts.get(login)
        if self._faulted("login", account):
            return False
        if account is None or password != account.spec.password or (server and server != account.spec.server):
            return self._fail(AUTH_FAILED, False)
        self._current = account
        account.step += 1
        self._error = OK
        return True

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        self._initialized = False
        self._current = None

    def last_error(self) -> tuple[int, str]:
        return self._error

    # -- getters -------------------------------------------------------------------------

    def account_info(self) -> AccountInfo | None:
        account = self._ready("account_info")
        if account is None:
            return None
        positions = self._shown(account)
        s = account.spec
        profit = round(sum(p.profit for p in positions), 2)
        equity = _at(s.equity, account.step) if s.equity else round(s.balance + sum(p.profit + p.swap for p in positions), 2)
        level = round(equity / s.margin * 100, 2) if s.margin else 0.0
        return AccountInfo(s.login, 0, s.leverage, 200, 0, True, True, s.margin_mode, 2, False, s.balance, 0.0,
                           profit, equity, s.margin, round(equity - s.margin, 2), level, 50.0, 30.0, 0.0, 0.0, 0.0,
                           0.0, 0.0, s.name, s.server, s.currency, "hedgeops simulator")

    def positions_get(self, *, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> tuple[TradePosition, ...] | None:
        account = self._ready("positions_get")
        if account is None:
            return None
        return tuple(p for p in self._shown(account) if (symbol is None or p.symbol == symbol)
                     and (ticket is None or p.ticket == ticket) and (group is None or in_group(p.symbol, group)))

    def history_deals_get(self, date_from: datetime | None = None, date_to: datetime | None = None, *,
                          group: str | None = None, ticket: int | None = None,
                          position: int | None = None) -> tuple[TradeDeal, ...] | None:
        account = self._ready("history_deals_get")
        if account is None:
            return None
        found = [d for d in account.visible_deals() if (position is None or d.position_id == position)
                 and (ticket is None or d.ticket == ticket) and (group is None or in_group(d.symbol, group))
                 and (date_from is None or d.time >= date_from) and (date_to is None or d.time <= date_to)]
        return tuple(_deal(d) for d in sorted(found, key=lambda d: (d.time, d.ticket)))

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        if self._ready("symbol_info", need_login=False) is None:
            return None
        spec = self.scenario.symbols.get(symbol)
        if spec is None:
            return self._fail((c.RES_E_NOT_FOUND, f"Terminal: Symbol {symbol} not found"), None)
        bid, ask = self.quote(symbol)
        return SymbolInfo(select=True, visible=True, digits=spec.digits, spread=spec.spread_points,
                          filling_mode=spec.filling_mode, bid=bid, ask=ask, point=spec.point,
                          trade_contract_size=spec.contract_size, volume_min=spec.volume_min,
                          volume_max=spec.volume_max, volume_step=spec.volume_step,
                          currency_profit=spec.currency_profit, name=symbol, path=f"Simulated\\{symbol}")

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        if self._ready("symbol_info_tick", need_login=False) is None:
            return None
        if symbol not in self.scenario.symbols:
            return self._fail((c.RES_E_NOT_FOUND, f"Terminal: Symbol {symbol} not found"), None)
        bid, ask = self.quote(symbol)
        msc = int(self.now().timestamp() * 1000)
        return Tick(msc // 1000, bid, ask, 0.0, 0, msc, 6, 0.0)

    def order_send(self, request: Mapping[str, RequestValue]) -> OrderSendResult | None:
        account = self._ready("order_send")
        if account is None:
            return None
        req = TradeRequest(**{k: v for k, v in request.items() if k in TradeRequest._fields})  # type: ignore[arg-type]
        return execute_order(self, account, req)

    # -- the simulated world ---------------------------------------------------------------

    def now(self) -> datetime:
        step = max(self._current.step, 0) if self._current else 0
        return self.scenario.time + timedelta(seconds=step * self.scenario.step_seconds)

    def quote(self, symbol: str) -> tuple[float, float]:
        spec = self.scenario.symbols[symbol]
        step = max(self._current.step, 0) if self._current else 0
        bid = _at(spec.bid, step)
        return bid, round(bid + spec.spread_points * spec.point, spec.digits)

    def _shown(self, account: AccountState) -> tuple[TradePosition, ...]:
        if account.shown is None or account.shown[0] != account.step:
            opened = sorted(account.open_positions(), key=lambda p: p.ticket)
            account.shown = (account.step, tuple(self._position(account, p) for p in opened))
        return account.shown[1]

    def _position(self, account: AccountState, p: PositionSpec) -> TradePosition:
        spec = self.scenario.symbols.get(p.symbol)
        bid, ask = self.quote(p.symbol) if spec else (p.price_open, p.price_open)
        current = bid if p.type == c.POSITION_TYPE_BUY else ask
        sign = 1 if p.type == c.POSITION_TYPE_BUY else -1
        size = spec.contract_size if spec else 1.0
        profit = p.profit if p.profit is not None else round(sign * (current - p.price_open) * p.volume * size, 2)
        msc = int(self.scenario.time.timestamp() * 1000)
        return TradePosition(p.ticket, msc // 1000, msc, msc // 1000, msc, p.type, p.magic, p.ticket, p.reason,
                             p.volume, p.price_open, p.sl, p.tp, current, p.swap, profit, p.symbol, p.comment, "")

    # -- failures --------------------------------------------------------------------------

    def _ready(self, call: str, *, need_login: bool = True) -> AccountState | None:
        """The logged-in account (or, for symbol calls, any state at all) when `call` may
        go ahead; None, with last_error set, when it fails."""
        self.calls.append(call)
        if not self._initialized:
            return self._fail(NO_CONNECTION, None)
        if self._faulted(call, self._current):
            return None
        if need_login and self._current is None:
            return self._fail((c.RES_E_FAIL, "Terminal: not logged in"), None)
        self._error = OK
        return self._current or NO_ACCOUNT

    def _faulted(self, call: str, account: AccountState | None = None) -> bool:
        step = max(account.step + (1 if call == "login" else 0), 0) if account else 0
        faults = list(self._spec.faults) + (list(account.spec.faults) if account else [])
        for fault in faults:
            if fault.call == call and step >= fault.from_step and self._spend(fault):
                if fault.disconnect:
                    self._initialized = False
                    self._current = None
                self._error = (fault.code, fault.message)
                return True
        return False

    def _spend(self, fault: Fault) -> bool:
        used = self._fault_calls.get(id(fault), 0)
        if fault.times is not None and used >= fault.times:
            return False
        self._fault_calls[id(fault)] = used + 1
        return True

    def _fail(self, error: tuple[int, str], result: T) -> T:
        self._error = error
        return result


NO_ACCOUNT = AccountState(AccountSpecFile(login=0, password="", terminal="-", balance=0.0))


def _at(path: list[float], step: int) -> float:
    """The path's value at `step`; the last value stands for every later step."""
    return path[min(max(step, 0), len(path) - 1)]


def _deal(d: DealSpec) -> TradeDeal:
    msc = int(d.time.timestamp() * 1000)
    return TradeDeal(d.ticket, d.ticket, msc // 1000, msc, d.type, d.entry, d.magic, d.position_id, d.reason,
                     d.volume, d.price, d.commission, d.swap, d.profit, 0.0, d.symbol, "", "")


def in_group(symbol: str, group: str) -> bool:
    """MT5's group filter: comma-separated masks with `*`; a mask starting with `!` excludes."""
    included = False
    for mask in (m.strip() for m in group.split(",") if m.strip()):
        if mask.startswith("!"):
            if fnmatch.fnmatchcase(symbol, mask[1:]):
                return False
        elif fnmatch.fnmatchcase(symbol, mask):
            included = True
    return included
