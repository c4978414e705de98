"""The simulated MT5 terminal: deterministic, driven by a scenario (workers.adapters.mt5.
scenario), answering with the MetaTrader5 package's shapes: named tuples, None plus
last_error() on failure, False from initialize/login. One instance is one terminal.

With a state file (`state_path`) the broker remembers: steps, positions, deals and the
journal of every order_send live in the file (simulated_state), reloaded before each call
and saved after each change, so the processes of one terminal meet one broker. With a
clock (`clock`, workers.adapters.mt5.simulated_clock: a test's file) the terminal's time
is the clock's instead of the step's."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from core.mt5 import constants as c
from core.mt5.gateway import RequestValue
from core.mt5.server_time import msc_of_wall
from core.mt5.types import (
    AccountInfo,
    OrderSendResult,
    SymbolInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)
from workers.adapters.mt5.scenario import AccountSpecFile, DealSpec, Fault, Scenario, TerminalSpec
from workers.adapters.mt5.simulated_orders import place_order
from workers.adapters.mt5.simulated_pending import shown_orders
from workers.adapters.mt5.simulated_state import AccountState, Json, StateFile
from workers.adapters.mt5.simulated_world import at, broker_bound, broker_zone, deal_tuple, in_group, position_tuple

__all__ = ["AccountState", "SimulatedMt5Gateway", "in_group"]

OK = (c.RES_S_OK, "Success")
NO_CONNECTION = (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
NOT_FOUND_TERMINAL = (c.RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")
AUTH_FAILED = (c.RES_E_AUTH_FAILED, "Terminal: Authorization failed")
CALLS_KEPT = 10_000  # the simulator's call log: enough for any test, bounded for a night
T = TypeVar("T")


class SimulatedMt5Gateway:
    """Implements core.mt5.gateway.Mt5Gateway for the terminal `terminal` of `scenario`;
    `state_path`: the broker's memory, shared across processes (None: this object's own);
    `clock`: the terminal's time (None: the step's instant, from the scenario)."""

    def __init__(
        self,
        scenario: Scenario,
        terminal: str,
        state_path: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.scenario = scenario
        self._clock = clock
        self.terminal = terminal
        self._spec = scenario.terminals.get(terminal, TerminalSpec())
        self.accounts = {a.login: AccountState.of(a) for a in scenario.accounts if a.terminal == terminal}
        self._store = StateFile(state_path) if state_path is not None else None
        #: Every order_send the broker answered (with a state file: from every process).
        self.journal: list[Json] = []
        self._initialized = False
        self._current: AccountState | None = None
        self._error = OK
        #: Faults belong to the link, not the broker: counted per process, not in the state file.
        self._fault_calls: dict[int, int] = {}
        #: The calls this process made, newest last (tests read them); only the latest
        #: CALLS_KEPT to 2 x CALLS_KEPT are kept, so a long-running simulated worker does not grow.
        self.calls: list[str] = []
        self.refresh()

    # -- connection ----------------------------------------------------------------------

    def initialize(
        self,
        path: str | None = None,
        *,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        timeout: int | None = None,
        portable: bool = False,
    ) -> bool:
        self._called("initialize")
        if self._spec.unreachable:
            return self._fail(NOT_FOUND_TERMINAL, False)
        if self._faulted("initialize"):
            return False
        self._initialized = True
        self._error = OK
        return self.login(login, password, server, timeout) if login is not None else True

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
    ) -> bool:
        self._called(f"login:{login}")
        if not self._initialized:
            return self._fail(NO_CONNECTION, False)
        self.refresh()
        account = self.accounts.get(login)
        if self._faulted("login", account):
            return False
        if account is None or password != account.spec.password or (server and server != account.spec.server):
            return self._fail(AUTH_FAILED, False)
        self._current = account
        with self.transaction(account):
            account.step += 1
        self._error = OK
        return True

    def shutdown(self) -> None:
        self._called("shutdown")
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
        deposits = account.balance_operations(c.DEAL_TYPE_BALANCE)
        credit = account.balance_operations(c.DEAL_TYPE_CREDIT)
        balance = round(s.balance + account.realised + deposits, 2)
        profit = round(sum(p.profit for p in positions), 2)
        if s.equity:  # the path is the equity before balance operations: money moved in or out moves it
            equity = round(at(s.equity, account.step) + deposits + credit, 2)
        else:
            equity = round(balance + credit + sum(p.profit + p.swap for p in positions), 2)
        level = round(equity / s.margin * 100, 2) if s.margin else 0.0
        return AccountInfo(
            s.login,
            0,
            s.leverage,
            200,
            0,
            True,
            True,
            s.margin_mode,
            2,
            False,
            balance,
            credit,
            profit,
            equity,
            s.margin,
            round(equity - s.margin, 2),
            level,
            50.0,
            30.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            s.name,
            s.server,
            s.currency,
            "hedgeops simulator",
        )

    def positions_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...] | None:
        account = self._ready("positions_get")
        if account is None:
            return None
        return tuple(
            p
            for p in self._shown(account)
            if (symbol is None or p.symbol == symbol)
            and (ticket is None or p.ticket == ticket)
            and (group is None or in_group(p.symbol, group))
        )

    def orders_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...] | None:
        account = self._ready("orders_get")
        return None if account is None else shown_orders(self, account, symbol, group, ticket)

    def history_deals_get(
        self,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        *,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...] | None:
        account = self._ready("history_deals_get")
        if account is None:
            return None
        zone = broker_zone(self, account.spec.server)
        start, end = broker_bound(date_from, zone), broker_bound(date_to, zone)
        found = sorted(
            (
                (self.deal_time(d), d)
                for d in account.visible_deals()
                if (position is None or d.position_id == position)
                and (ticket is None or d.ticket == ticket)
                and (group is None or in_group(d.symbol, group))
            ),
            key=lambda td: (td[0], td[1].ticket),
        )
        return tuple(
            deal_tuple(d, time, zone)
            for time, d in found
            if (start is None or time >= start) and (end is None or time <= end)
        )

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        if self._ready("symbol_info", need_login=False) is None:
            return None
        spec = self.scenario.symbols.get(symbol)
        if spec is None:
            return self._fail((c.RES_E_NOT_FOUND, f"Terminal: Symbol {symbol} not found"), None)
        bid, ask = self.quote(symbol)
        return SymbolInfo(
            select=True,
            visible=True,
            digits=spec.digits,
            spread=spec.spread_at(self._current.step if self._current else 0),
            filling_mode=spec.filling_mode,
            bid=bid,
            ask=ask,
            point=spec.point,
            trade_contract_size=spec.contract_size,
            volume_min=spec.volume_min,
            volume_max=spec.volume_max,
            volume_step=spec.volume_step,
            currency_profit=spec.currency_profit,
            name=symbol,
            path=f"Simulated\\{symbol}",
        )

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        if self._ready("symbol_info_tick", need_login=False) is None:
            return None
        if symbol not in self.scenario.symbols:
            return self._fail((c.RES_E_NOT_FOUND, f"Terminal: Symbol {symbol} not found"), None)
        bid, ask = self.quote(symbol)
        msc = msc_of_wall(self.now(), broker_zone(self, self._current.spec.server if self._current else None))
        return Tick(msc // 1000, bid, ask, 0.0, 0, msc, 6, 0.0)

    def order_send(self, request: Mapping[str, RequestValue]) -> OrderSendResult | None:
        account = self._ready("order_send")
        if account is None:
            return None
        # The request is the MetaTrader5 package's dict (int | float | str, whatever the field):
        # the simulator takes the fields TradeRequest names as they were sent, unchecked.
        req = TradeRequest(**{k: v for k, v in request.items() if k in TradeRequest._fields})  # type: ignore[arg-type]
        return place_order(self, account, req)

    # -- the broker's memory ---------------------------------------------------------------

    def refresh(self) -> None:
        """Take in what other processes changed (with a state file; else nothing to do)."""
        if self._store is not None and (state := self._store.read_if_changed()) is not None:
            self._take(state)

    @contextmanager
    def transaction(self, account: AccountState) -> Iterator[list[Json]]:
        """Reload under the file lock, let the block change `account` and append to the
        journal it is given, save: one read-modify-write no other process interleaves.
        Without a state file the block just changes this object."""
        if self._store is None:
            yield self.journal
            return
        with self._store.locked() as state:
            self._take(state)
            try:
                yield self.journal
            except BaseException:
                account.saved = None  # ahead of the file now: restore it at the next read
                raise
            state["accounts"][str(account.spec.login)] = account.dump()

    def _take(self, state: Json) -> None:
        for login, account in self.accounts.items():
            if (data := state["accounts"].get(str(login))) is not None:
                account.restore(data)
        self.journal = state["orders"]

    def set_last_error(self, error: tuple[int, str]) -> None:
        self._error = error

    def lose_link(self, error: tuple[int, str]) -> None:
        """The terminal connection is gone: every call fails until the next initialize()."""
        self._initialized = False
        self._current = None
        self._error = error

    # -- the simulated world ---------------------------------------------------------------

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        return self.at_step(self._current.step if self._current else 0)

    def at_step(self, step: int) -> datetime:
        times, step = self.scenario.step_times, max(step, 0)
        if times is None:
            return self.scenario.time + timedelta(seconds=step * self.scenario.step_seconds)
        last = len(times) - 1
        return times[min(step, last)] + timedelta(seconds=max(step - last, 0) * self.scenario.step_seconds)

    def deal_time(self, d: DealSpec) -> datetime:
        return d.time if d.time is not None else self.at_step(d.from_step)

    def quote(self, symbol: str) -> tuple[float, float]:
        spec = self.scenario.symbols[symbol]
        step = self._current.step if self._current else 0
        bid = at(spec.bid, step)
        return bid, round(bid + spec.spread_at(step) * spec.point, spec.digits)

    def _shown(self, account: AccountState) -> tuple[TradePosition, ...]:
        if account.shown is None or account.shown[0] != account.step:
            opened = sorted(account.open_positions(), key=lambda p: p.ticket)
            zone = broker_zone(self, account.spec.server)
            msc = msc_of_wall(self.scenario.time, zone)  # every position's times: once per reading
            account.shown = (account.step, tuple(position_tuple(self, p, zone, msc) for p in opened))
        return account.shown[1]

    def _called(self, call: str) -> None:
        self.calls.append(call)
        if len(self.calls) > 2 * CALLS_KEPT:
            del self.calls[:-CALLS_KEPT]

    # -- failures --------------------------------------------------------------------------

    def _ready(self, call: str, *, need_login: bool = True) -> AccountState | None:
        """The logged-in account (or, for symbol calls, any state at all) when `call` may
        go ahead, as the broker now has it; None, with last_error set, when it fails."""
        self._called(call)
        if not self._initialized:
            return self._fail(NO_CONNECTION, None)
        self.refresh()
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
                    self.lose_link((fault.code, fault.message))
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
