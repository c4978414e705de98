"""Reading one account from its terminal through the gateway: the boundary where the
package's shapes (None plus last_error(), floats) become domain values or an Mt5Error.

A terminal is process-global and holds one login at a time: a Connection keeps whether it
is initialized, logs each account in before reading it, and forgets the terminal after a
failure that may have broken the link (the next account initializes it again)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from core.mt5.convert import account_reading, actual_position, closing_deals, symbol_spec
from core.mt5.gateway import (
    AuthorizationFailed,
    CredentialUnavailable,
    Mt5Error,
    Mt5Gateway,
    TerminalUnreachable,
    error_for,
)
from core.mt5.ports import GatewayFactory
from core.mt5.reconcile import tickets_to_look_up
from core.mt5.values import Account, AccountMode, ExpectedPosition, Secret, SymbolSpec, TerminalReading

T = TypeVar("T")
#: Failures after which the terminal link is kept (the terminal itself answered).
LINK_KEPT = (AuthorizationFailed, CredentialUnavailable)


@dataclass
class Connection:
    """One terminal's gateway in this process, and what is known of its state."""

    gateway: Mt5Gateway
    path: str | None = None
    initialized: bool = False
    #: Symbol specs read during the current chunk of accounts (cleared per chunk).
    symbols: dict[str, SymbolSpec] = field(default_factory=dict)

    def ensure_initialized(self) -> None:
        if not self.initialized:
            ok = self.gateway.initialize(self.path) if self.path else self.gateway.initialize()
            _checked("initialize", ok or None, self.gateway)
            self.initialized = True

    def forget(self) -> None:
        """After a broken link: shut down (best effort) and initialize again next time."""
        self.initialized = False
        self.symbols.clear()
        try:
            self.gateway.shutdown()
        except Exception:  # noqa: BLE001 - the link is already broken; nothing more to learn
            pass


_connections: dict[tuple[str, int], Connection] = {}


def connection(gateways: GatewayFactory, terminal: str) -> Connection:
    """This process's connection to `terminal` (the gateway's state survives across tasks)."""
    gateway = gateways(terminal)
    key = (terminal, id(gateway))
    if key not in _connections:
        _connections[key] = Connection(gateway)
    return _connections[key]


def logged_in(conn: Connection, account: Account, password: Secret) -> Mt5Gateway:
    """The terminal, initialized and logged into `account`."""
    conn.ensure_initialized()
    ok = conn.gateway.login(account.login, password=password.reveal(), server=account.server)
    _checked("login", ok or None, conn.gateway)
    return conn.gateway


def checked(call: str, result: T | None, gateway: Mt5Gateway) -> T:
    """The result of a gateway call, or the Mt5Error last_error() names when it is None."""
    return _checked(call, result, gateway)


def _checked(call: str, result: T | None, gateway: Mt5Gateway) -> T:
    """The result of a call, or the Mt5Error last_error() names when it returned None."""
    if result is None:
        raise error_for(call, gateway.last_error())
    return result


def read_account(
    conn: Connection,
    account: Account,
    password: Secret,
    expected: Sequence[ExpectedPosition],
    after_login: Callable[[], None] | None = None,
) -> TerminalReading:
    """Log in, then account_info, positions_get, symbol_info of every symbol in play, and
    history_deals_get(position=) of each expected ticket no longer open. `after_login`
    runs while logged in, before anything is read (the guard finishes open closes there)."""
    try:
        return _read(conn, account, password, expected, after_login)
    except LINK_KEPT:
        raise
    except Mt5Error:
        conn.forget()
        raise
    except (OSError, EOFError) as exc:  # a bridge (mt5linux: RPyC over TCP) lost its connection
        conn.forget()
        raise TerminalUnreachable("rpc", 0, f"{type(exc).__name__}: {exc}") from exc


def _read(
    conn: Connection,
    account: Account,
    password: Secret,
    expected: Sequence[ExpectedPosition],
    after_login: Callable[[], None] | None,
) -> TerminalReading:
    gateway = logged_in(conn, account, password)
    if after_login is not None:
        after_login()
    info = _checked("account_info", gateway.account_info(), gateway)
    if info.login != account.login:
        raise Mt5Error("account_info", 0, f"the terminal is logged into {info.login}, not {account.login}")
    reading = account_reading(info)
    positions = tuple(actual_position(p) for p in _checked("positions_get", gateway.positions_get(), gateway))
    for symbol in sorted({e.symbol for e in expected} | {p.symbol for p in positions}):
        if symbol not in conn.symbols:
            conn.symbols[symbol] = symbol_spec(_checked("symbol_info", gateway.symbol_info(symbol), gateway))
    netting = reading.mode is AccountMode.NETTING
    deals = {
        ticket: closing_deals(_checked("history_deals_get", gateway.history_deals_get(position=ticket), gateway))
        for ticket in tickets_to_look_up(expected, positions, netting)
    }
    symbols = {s: conn.symbols[s] for s in {e.symbol for e in expected} | {p.symbol for p in positions}}
    return TerminalReading(reading, positions, symbols, deals)
