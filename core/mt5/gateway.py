"""The gateway protocol: the MetaTrader5 package's functions, as adapters implement them
(the real module, the mt5linux bridge, the simulator). Every getter may return None; then
`last_error()` says why. The module is process-global and drives one terminal logged into
one account at a time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from core.errors import HedgeopsError
from core.mt5 import constants as c
from core.mt5.types import AccountInfo, OrderSendResult, SymbolInfo, Tick, TradeDeal, TradeOrder, TradePosition
from core.redaction import redact_text

RequestValue = int | float | str


class Mt5Gateway(Protocol):
    def initialize(
        self,
        path: str | None = None,
        *,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        timeout: int | None = None,
        portable: bool = False,
    ) -> bool: ...

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
    ) -> bool: ...

    def shutdown(self) -> None: ...

    def last_error(self) -> tuple[int, str]: ...

    def account_info(self) -> AccountInfo | None: ...

    def positions_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...] | None: ...

    def orders_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...] | None: ...

    def symbol_info(self, symbol: str) -> SymbolInfo | None: ...

    def symbol_info_tick(self, symbol: str) -> Tick | None: ...

    def order_send(self, request: Mapping[str, RequestValue]) -> OrderSendResult | None: ...

    def history_deals_get(
        self,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        *,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...] | None: ...


class Mt5Error(HedgeopsError):
    """A gateway call failed; `kind` names the failure for snapshots, logs and metrics."""

    kind = "call_failed"

    def __init__(self, call: str, code: int, message: str) -> None:
        message = redact_text(message)  # a terminal's or bridge's text may hold a password
        super().__init__(f"{call} failed: {self.kind} ({code}, {message})")
        self.call = call
        self.code = code
        self.message = message


class TerminalUnreachable(Mt5Error):
    kind = "terminal_unreachable"


class AuthorizationFailed(Mt5Error):
    kind = "authorization_failed"


class IpcTimeout(Mt5Error):
    kind = "ipc_timeout"


class GatewayUnavailable(Mt5Error):
    """No gateway can be had in this process (the library is missing, none is configured)."""

    kind = "gateway_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__("gateway", 0, message)


class CredentialUnavailable(Mt5Error):
    """The account's credential reference could not be read (no such variable or file)."""

    kind = "credential_unavailable"

    def __init__(self, reference: str, why: str) -> None:
        super().__init__("credentials", 0, f"{reference}: {why}")


_UNREACHABLE = frozenset(
    {
        c.RES_E_INTERNAL_FAIL,
        c.RES_E_INTERNAL_FAIL_SEND,
        c.RES_E_INTERNAL_FAIL_RECEIVE,
        c.RES_E_INTERNAL_FAIL_INIT,
        c.RES_E_INTERNAL_FAIL_CONNECT,
    }
)


def error_for(call: str, last_error: tuple[int, str]) -> Mt5Error:
    """The error a failed call stands for, from what last_error() said after it."""
    code, message = last_error
    if code == c.RES_E_INTERNAL_FAIL_TIMEOUT:
        return IpcTimeout(call, code, message)
    if code == c.RES_E_AUTH_FAILED:
        return AuthorizationFailed(call, code, message)
    if code in _UNREACHABLE:
        return TerminalUnreachable(call, code, message)
    return Mt5Error(call, code, message)
