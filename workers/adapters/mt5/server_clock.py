"""The one place broker times become UTC: `ServerClockGateway` wraps any gateway (the
MetaTrader5 module, mt5linux, the simulator) and, for the server the terminal is logged
into, converts every time it returns (deals, positions, ticks, symbols) from the server's
wall clock to UTC, and every date bound it is given from UTC to the server's wall clock.
Each server's clock is a setting (`HEDGEOPS_MT5_SERVER_TIME`, core.mt5.server_time)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from core.mt5.gateway import Mt5Error, Mt5Gateway, RequestValue
from core.mt5.server_time import (
    deal_in_utc,
    position_in_utc,
    server_zone,
    symbol_in_utc,
    tick_in_utc,
    wall_of,
)
from core.mt5.types import AccountInfo, OrderSendResult, SymbolInfo, Tick, TradeDeal, TradePosition


class ServerTimeUnknown(Mt5Error):
    """The terminal is logged into a server whose clock is not configured: its times are
    not read at all (a wrong offset would misplace the day's deals)."""

    kind = "server_time_unknown"

    def __init__(self, server: str | None) -> None:
        super().__init__("server_time", 0, f"no HEDGEOPS_MT5_SERVER_TIME entry for server {server!r}")


class ServerClockGateway:
    """`inner` with broker times in UTC. The server is the one of the last `login` (or
    `initialize(server=)`); `clocks` maps server names to clock specs."""

    def __init__(self, inner: Mt5Gateway, clocks: Mapping[str, str]) -> None:
        self.inner = inner
        self.zones = {name: server_zone(spec) for name, spec in clocks.items()}
        self.server: str | None = None

    def zone(self) -> tzinfo:
        if self.server not in self.zones:
            raise ServerTimeUnknown(self.server)
        return self.zones[self.server]

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
        if server is not None:
            self.server = server
        return self.inner.initialize(
            path, login=login, password=password, server=server, timeout=timeout, portable=portable
        )

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
    ) -> bool:
        self.server = server
        return self.inner.login(login, password=password, server=server, timeout=timeout)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def last_error(self) -> tuple[int, str]:
        return self.inner.last_error()

    def account_info(self) -> AccountInfo | None:
        return self.inner.account_info()

    def positions_get(
        self, *, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...] | None:
        found = self.inner.positions_get(symbol=symbol, group=group, ticket=ticket)
        return None if found is None else tuple(position_in_utc(p, self.zone()) for p in found)

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        info = self.inner.symbol_info(symbol)
        return None if info is None else symbol_in_utc(info, self.zone())

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        tick = self.inner.symbol_info_tick(symbol)
        return None if tick is None else tick_in_utc(tick, self.zone())

    def order_send(self, request: Mapping[str, RequestValue]) -> OrderSendResult | None:
        return self.inner.order_send(request)

    def history_deals_get(
        self,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        *,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...] | None:
        """Bounds (aware) given as the server's wall clock tagged UTC (the package reads an
        aware bound by its timestamp, a naive one in the host's zone); deals' times in UTC."""
        zone = self.zone()
        start = None if date_from is None else wall_of(date_from, zone).replace(tzinfo=UTC)
        end = None if date_to is None else wall_of(date_to, zone).replace(tzinfo=UTC)
        found = self.inner.history_deals_get(start, end, group=group, ticket=ticket, position=position)
        return None if found is None else tuple(deal_in_utc(d, zone) for d in found)
