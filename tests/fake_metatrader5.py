"""A stand-in for the MetaTrader5 package (Windows only, a third-party boundary we cannot
run here): a module with the package's function signatures, its own named tuples (the
package's names and field order, distinct classes from core.mt5.types), its constants, and
its manners: None plus last_error() on failure, TypeError for None where a value is due.
It holds one terminal with one account."""

from __future__ import annotations

import types
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any

from core.mt5 import constants as c
from core.mt5.types import AccountInfo, SymbolInfo, Tick, TradeDeal, TradeOrder, TradePosition

# The package's own tuple classes: same names and fields, not ours.
PkgAccountInfo = namedtuple("AccountInfo", AccountInfo._fields)  # type: ignore[misc]
PkgTradePosition = namedtuple("TradePosition", TradePosition._fields)  # type: ignore[misc]
PkgTradeOrder = namedtuple("TradeOrder", TradeOrder._fields)  # type: ignore[misc]
PkgTradeDeal = namedtuple("TradeDeal", TradeDeal._fields)  # type: ignore[misc]
PkgSymbolInfo = namedtuple("SymbolInfo", SymbolInfo._fields)  # type: ignore[misc]
PkgTick = namedtuple("Tick", Tick._fields)  # type: ignore[misc]


@dataclass
class Terminal:
    login: int = 7001
    password: str = "fake-pass"
    server: str = "Fake-Live"
    positions: list[Any] = field(default_factory=list)
    deals: list[Any] = field(default_factory=list)
    orders: list[Any] = field(default_factory=list)
    initialized: bool = False
    logged_in: bool = False
    error: tuple[int, str] = (c.RES_S_OK, "Success")
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)


def _not_none(name: str, value: Any) -> None:
    if value is None:
        raise TypeError(f"{name} must not be None")  # as the C extension refuses it


def build(terminal: Terminal) -> types.ModuleType:
    """A module object named MetaTrader5 driving `terminal`."""
    mt5 = types.ModuleType("MetaTrader5")
    for name in dir(c):
        if name.isupper() and isinstance(getattr(c, name), int):
            setattr(mt5, name, getattr(c, name))
    mt5.__version__ = "5.0.4424"
    mt5.__author__ = "MetaQuotes Ltd."

    def initialize(*args: Any, **kwargs: Any) -> bool:
        terminal.calls.append(("initialize", args, kwargs))
        for key, value in kwargs.items():
            _not_none(key, value)
        terminal.initialized = True
        return True

    def login(login: int, password: str = "", server: str = "", timeout: int = 60000) -> bool:
        terminal.calls.append(("login", (login,), {"server": server}))
        _not_none("password", password)
        ok = terminal.initialized and (login, password, server) == (terminal.login, terminal.password, terminal.server)
        terminal.logged_in = ok
        terminal.error = (c.RES_S_OK, "Success") if ok else (c.RES_E_AUTH_FAILED, "Terminal: Authorization failed")
        return ok

    def shutdown() -> None:
        terminal.initialized = terminal.logged_in = False

    def last_error() -> tuple[int, str]:
        return terminal.error

    def account_info() -> Any:
        if not terminal.logged_in:
            terminal.error = (c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
            return None
        return PkgAccountInfo(
            terminal.login,
            0,
            500,
            200,
            0,
            True,
            True,
            c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
            2,
            False,
            20000.0,
            0.0,
            -12.5,
            19987.5,
            250.0,
            19737.5,
            7995.0,
            50.0,
            30.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            "Fake Client",
            terminal.server,
            "EUR",
            "Fake Broker Ltd",
        )

    def positions_get(**filters: Any) -> Any:
        for key, value in filters.items():
            _not_none(key, value)
        found = [p for p in terminal.positions if all(getattr(p, k) == v for k, v in filters.items())]
        return tuple(found)

    def orders_get(**filters: Any) -> Any:
        for key, value in filters.items():
            _not_none(key, value)
        terminal.calls.append(("orders_get", (), filters))
        return tuple(o for o in terminal.orders if all(getattr(o, k) == v for k, v in filters.items()))

    def symbol_info(symbol: str) -> Any:
        return PkgSymbolInfo(
            *[
                {"digits": 5, "point": 0.00001, "volume_step": 0.01, "name": symbol}.get(
                    f, SymbolInfo._field_defaults[f]
                )
                for f in SymbolInfo._fields
            ]
        )

    def symbol_info_tick(symbol: str) -> Any:
        return PkgTick(1763632800, 1.0861, 1.0862, 0.0, 0, 1763632800000, 6, 0.0)

    def history_deals_get(*dates: Any, **filters: Any) -> Any:
        for key, value in filters.items():
            _not_none(key, value)
        terminal.calls.append(("history_deals_get", dates, filters))
        return tuple(
            d
            for d in terminal.deals
            if all(getattr(d, "position_id" if k == "position" else k) == v for k, v in filters.items())
        )

    def order_send(request: dict[str, Any]) -> Any:
        raise NotImplementedError("the sync sends no orders")

    for function in (
        initialize,
        login,
        shutdown,
        last_error,
        account_info,
        positions_get,
        orders_get,
        symbol_info,
        symbol_info_tick,
        history_deals_get,
        order_send,
    ):
        setattr(mt5, function.__name__, function)
    return mt5


def position(ticket: int, volume: float, price_open: float, profit: float, *, type: int = 0, magic: int = 42) -> Any:
    return PkgTradePosition(
        ticket,
        1763632000,
        1763632000000,
        1763632000,
        1763632000000,
        type,
        magic,
        ticket,
        c.DEAL_REASON_EXPERT,
        volume,
        price_open,
        0.0,
        0.0,
        1.0861,
        0.0,
        profit,
        "EURUSD",
        "",
        "",
    )


def pending_order(ticket: int, *, type: int = c.ORDER_TYPE_BUY_LIMIT, magic: int = 42) -> Any:
    return PkgTradeOrder(
        ticket,
        1763632000,
        1763632000000,
        0,
        0,
        0,
        type,
        c.ORDER_TIME_GTC,
        c.ORDER_FILLING_RETURN,
        c.ORDER_STATE_PLACED,
        magic,
        0,
        0,
        c.DEAL_REASON_EXPERT,
        0.1,
        0.1,
        1.08,
        0.0,
        0.0,
        1.0861,
        0.0,
        "EURUSD",
        "",
        "",
    )


def deal(ticket: int, position_id: int, reason: int, price: float, profit: float) -> Any:
    return PkgTradeDeal(
        ticket,
        ticket,
        1763631000,
        1763631000000,
        c.DEAL_TYPE_SELL,
        c.DEAL_ENTRY_OUT,
        42,
        position_id,
        reason,
        0.1,
        price,
        -0.7,
        0.0,
        profit,
        0.0,
        "EURUSD",
        "",
        "",
    )


class Bridge:
    """mt5linux's MetaTrader5 client: constructed with host and port, the package's functions
    as methods (here over the same fake terminal)."""

    made: list[tuple[str, int]] = []

    def __init__(self, host: str = "localhost", port: int = 18812, **_: Any) -> None:
        Bridge.made.append((host, port))
        self._module = Bridge.module

    module: types.ModuleType

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)
