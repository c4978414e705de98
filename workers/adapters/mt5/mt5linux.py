"""The mt5linux bridge: a MetaTrader 5 terminal and its Python package running under Wine
(or in its Docker image), reached over RPyC at host:port. Its client object has the
MetaTrader5 package's functions, so it is driven like the module itself."""

from __future__ import annotations

import importlib

from core.mt5.gateway import GatewayUnavailable
from workers.adapters.mt5.metatrader5 import ModuleGateway


class Mt5LinuxGateway(ModuleGateway):
    def __init__(self, host: str, port: int, path: str | None = None) -> None:
        try:
            client_class = importlib.import_module("mt5linux").MetaTrader5
        except ImportError as exc:
            raise GatewayUnavailable(
                "the mt5linux package is not installed (pip install 'hedgeops[mt5linux]'), "
                f"or cannot be imported ({type(exc).__name__}: {exc})"
            ) from None
        super().__init__(client_class(host=host, port=port))
        self.host, self.port, self.path = host, port, path

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
