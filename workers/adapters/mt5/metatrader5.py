"""The real MetaTrader5 package (Windows only: it talks to a terminal over IPC), imported
lazily. Also the base of the mt5linux bridge, whose client object has the same functions.

The package's results are its own named tuples (or, through mt5linux, proxies of them);
they are copied field by field, by name, into core.mt5.types' tuples of the same shape."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from core.mt5.gateway import GatewayUnavailable, RequestValue
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

N = TypeVar("N", bound=NamedTuple)


def copy_as(shape: type[N], value: Any) -> N:
    """`value` (the package's tuple, or a proxy of it) as `shape`, field by field."""
    return shape._make(getattr(value, name) for name in shape._fields)


def copy_all(shape: type[N], values: Any) -> tuple[N, ...] | None:
    return None if values is None else tuple(copy_as(shape, v) for v in values)


def given(**arguments: Any) -> dict[str, Any]:
    """Keyword arguments that were given: the package refuses None for most of them."""
    return {k: v for k, v in arguments.items() if v is not None}


class ModuleGateway:
    """Implements core.mt5.gateway.Mt5Gateway over an object with the package's functions."""

    def __init__(self, module: Any) -> None:
        self._mt5 = module

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
        args = (path,) if path is not None else ()
        extra = given(login=login, password=password, server=server, timeout=timeout)
        if portable:
            extra["portable"] = True
        return bool(self._mt5.initialize(*args, **extra))

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
    ) -> bool:
        return bool(self._mt5.login(login, **given(password=password, server=server, timeout=timeout)))

    def shutdown(self) -> None:
        self._mt5.shutdown()

    def last_error(self) -> tuple[int, str]:
        code, message = self._mt5.last_error()
        return int(code), str(message)

    def account_info(self) -> AccountInfo | None:
        info = self._mt5.account_info()
        return None if info is None else copy_as(AccountInfo, info)

    def positions_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...] | None:
        return copy_all(TradePosition, self._mt5.positions_get(**given(symbol=symbol, group=group, ticket=ticket)))

    def orders_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...] | None:
        return copy_all(TradeOrder, self._mt5.orders_get(**given(symbol=symbol, group=group, ticket=ticket)))

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        info = self._mt5.symbol_info(symbol)
        return None if info is None else copy_as(SymbolInfo, info)

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        tick = self._mt5.symbol_info_tick(symbol)
        return None if tick is None else copy_as(Tick, tick)

    def order_send(self, request: Mapping[str, RequestValue]) -> OrderSendResult | None:
        result = self._mt5.order_send(dict(request))
        if result is None:
            return None
        fields = {name: getattr(result, name) for name in OrderSendResult._fields}
        fields["request"] = copy_as(TradeRequest, fields["request"])
        return OrderSendResult(**fields)

    def history_deals_get(
        self,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        *,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...] | None:
        dates = (date_from, date_to) if date_from is not None and date_to is not None else ()
        deals = self._mt5.history_deals_get(*dates, **given(group=group, ticket=ticket, position=position))
        return copy_all(TradeDeal, deals)


class MetaTrader5Gateway(ModuleGateway):
    """The MetaTrader5 module of this process; `path` is the terminal64.exe to start or
    attach to (None: the one the package finds)."""

    def __init__(self, path: str | None = None) -> None:
        try:
            module = importlib.import_module("MetaTrader5")
        except ImportError as exc:
            raise GatewayUnavailable(
                "the MetaTrader5 package cannot be imported here: it is published for Windows only and needs a "
                "MetaTrader 5 terminal on the same host (pip install MetaTrader5 there). On Linux use "
                "HEDGEOPS_MT5_GATEWAY=mt5linux (a terminal under Wine) or simulator."
                f" ({type(exc).__name__}: {exc})"
            ) from None
        super().__init__(module)
        self.path = path

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
        return super().initialize(
            path or self.path, login=login, password=password, server=server, timeout=timeout, portable=portable
        )
