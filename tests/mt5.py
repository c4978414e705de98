"""Builders for MT5 tests: simulator scenarios, accounts and expected positions, and a
world that syncs them in-process (eager Celery) over a real database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.accounts import CYCLE_FAMILY, AccountSpec
from core.mt5.expected import ExpectedRow
from core.ports import RunLock
from db import ledger
from db.engine import session_factory
from db.mt5.accounts import add_account, load_expected
from db.mt5.models import ExpectedPosition, PositionSnapshot, ReconciliationLog
from tasks.mt5.ports import Mt5Ports
from tasks.ports import Ports
from tasks.summary import run_summary
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.adapters.mt5.scenario import Scenario
from workers.adapters.mt5.simulator import SimulatedMt5Gateway
from workers.bootstrap import configure_rooms

PASSWORD = "sim-pass"
CREDENTIALS = {"MT5_PW": PASSWORD}
#: EURUSD: 5 digits, point 0.00001, step 0.01 lot, 100,000 per lot, bid 1.08600 (ask 1.08610).
SYMBOLS: dict[str, Any] = {
    "EURUSD": {"digits": 5, "point": 0.00001, "volume_step": 0.01, "contract_size": 100000, "bid": [1.086]},
    "XAUUSD": {"digits": 2, "point": 0.01, "volume_step": 0.01, "contract_size": 100, "bid": [2650.0]},
}


def position(
    ticket: int,
    *,
    symbol: str = "EURUSD",
    type: int = c.POSITION_TYPE_BUY,
    volume: float = 0.1,
    price_open: float = 1.085,
    magic: int = 7,
    **more: Any,
) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "symbol": symbol,
        "type": type,
        "volume": volume,
        "price_open": price_open,
        "magic": magic,
        **more,
    }


def deal(
    ticket: int,
    position_id: int,
    reason: int,
    price: float,
    *,
    profit: float = 0.0,
    symbol: str = "EURUSD",
    **more: Any,
) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "position_id": position_id,
        "reason": reason,
        "price": price,
        "profit": profit,
        "volume": 0.1,
        "symbol": symbol,
        **more,
    }


def account(
    login: int,
    *,
    terminal: str = "t1",
    positions: Iterable[dict[str, Any]] = (),
    deals: Iterable[dict[str, Any]] = (),
    **more: Any,
) -> dict[str, Any]:
    return {
        "login": login,
        "password": PASSWORD,
        "terminal": terminal,
        "balance": 10000.0,
        "positions": list(positions),
        "deals": list(deals),
        **more,
    }


def expected(
    login: int,
    signal: str,
    *,
    ticket: int | None = None,
    symbol: str = "EURUSD",
    direction: str = "buy",
    volume: str = "0.10",
    entry: str = "1.08500",
    sl: str | None = "1.08000",
    tp: str | None = None,
    magic: int = 7,
) -> ExpectedRow:
    return ExpectedRow.model_validate(
        {
            "login": login,
            "signal_id": signal,
            "approval_id": f"APR-{signal}",
            "symbol": symbol,
            "direction": direction,
            "volume": volume,
            "entry_price": entry,
            "sl": sl or "",
            "tp": tp or "",
            "magic": magic,
            "ticket": ticket or "",
        }
    )


@dataclass
class Mt5World:
    """Accounts in the database, a scenario in the simulator, syncs run in-process."""

    url: str
    #: The shared bundle of ports (the `runtime` fixture's) and the MT5 room's.
    runtime: Ports
    mt5: Mt5Ports = field(default_factory=Mt5Ports)
    scenario: dict[str, Any] = field(default_factory=lambda: {"symbols": SYMBOLS, "accounts": []})
    gateways: dict[str, SimulatedMt5Gateway] = field(default_factory=dict)

    def add(
        self,
        spec: dict[str, Any],
        *,
        magic: tuple[int, ...] = (7,),
        currency: str = "USD",
        enabled: bool = True,
        credential: str = "env:MT5_PW",
        policy: str = "default",
    ) -> None:
        """An account in the scenario and in mt5_accounts."""
        self.scenario["accounts"].append(spec)
        with self.runtime.uow() as uow:
            add_account(
                uow.session,
                AccountSpec(
                    login=spec["login"],
                    server=spec.get("server", "Sim-Demo"),
                    terminal=spec["terminal"],
                    currency=currency,
                    enabled=enabled,
                    magic_numbers=magic,
                    credential_ref=credential,
                    policy=policy,
                ),
                now=self.runtime.clock(),
            )
            uow.commit()

    def expect(self, *rows: ExpectedRow) -> None:
        with self.runtime.uow() as uow:
            load_expected(uow.session, list(enumerate(rows, start=2)), file="test", now=self.runtime.clock())
            uow.commit()

    def start(self) -> None:
        """Load the scenario into one simulator per terminal and hand them to the MT5 bundle."""
        scenario = Scenario.model_validate(self.scenario)
        terminals = {a["terminal"] for a in self.scenario["accounts"]} | set(self.scenario.get("terminals", {}))
        self.gateways = {t: SimulatedMt5Gateway(scenario, t) for t in sorted(terminals)}
        self.mt5 = replace(self.mt5, gateways=self.gateways.__getitem__, credentials=EnvOrFileCredentials(CREDENTIALS))
        self.configure()

    def configure(self) -> None:
        """Hand the world's bundles (as they are now) to the tasks."""
        configure_rooms(shared=self.runtime, mt5=self.mt5)

    def sync(self, terminal: str = "t1", **kwargs: Any) -> dict[str, Any]:
        """One cycle of `terminal`, in-process; its ledger row once it has ended."""
        from tasks.mt5.cycle import run_sync_cycle

        started = run_sync_cycle.apply_async(kwargs={"terminal": terminal, **kwargs}).get()
        with self.runtime.uow() as uow:
            return run_summary(ledger.get_run(uow.session, started["batch_run_id"]))

    def sync_status(self, run_id: int) -> str:
        with self.runtime.uow() as uow:
            return ledger.get_run(uow.session, run_id).status

    def rows(self, query: Any) -> list[Any]:
        with session_factory(self.url)() as s:
            return list(s.execute(query))

    def recon(self, run_id: int | None = None) -> list[tuple[Any, ...]]:
        r = ReconciliationLog
        query = select(
            r.idempotency_key,
            r.status,
            r.reason,
            r.ticket,
            r.signal_id,
            r.direction,
            r.expected_volume,
            r.volume,
            r.entry_price,
            r.open_price,
            r.exit_price,
            r.close_reason,
            r.close_profit,
        ).order_by(r.id)
        if run_id is not None:
            query = query.where(r.batch_run_id == run_id)
        return [tuple(row) for row in self.rows(query)]

    def snapshots(self) -> list[tuple[Any, ...]]:
        p = PositionSnapshot
        return [
            tuple(row)
            for row in self.rows(
                select(
                    p.idempotency_key,
                    p.equity,
                    p.balance,
                    p.peak_equity,
                    p.drawdown_percent,
                    p.open_positions,
                    p.total_volume,
                    p.open_pnl,
                    p.margin_level,
                    p.error_kind,
                ).order_by(p.id)
            )
        ]

    def expected_states(self) -> dict[str, tuple[str, str | None, int | None]]:
        e = ExpectedPosition
        return {
            sig: (status, reason, ticket)
            for sig, status, reason, ticket in self.rows(select(e.signal_id, e.status, e.closed_reason, e.ticket))
        }


def with_cycle_lock(shared: Ports, lock: RunLock | None) -> Ports:
    """The shared bundle with the MT5 cycles' run family under `lock`."""
    cycles = replace(shared.family_policies[CYCLE_FAMILY], lock=lock)
    return replace(shared, family_policies={**shared.family_policies, CYCLE_FAMILY: cycles})


def d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def world(runtime: Ports, db_url: str) -> Mt5World:
    """An MT5 world over the test's database (SQLite and PostgreSQL), in-process."""
    return Mt5World(db_url, runtime)
