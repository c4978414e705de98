"""The close executor of one account: what every step of the close path needs (the ports,
the terminal's connection, the account, its policy, the terminal's order throttle and the
symbol specs read so far), bound once as a CloseRun and handed to each step, and the
intents as this process last knew them (Held).

The executor's rule: the guard's decision, state and intents are committed before it runs,
and it never calls the terminal while a unit of work is open (each step reads the broker,
then claims or records in a unit of work of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.mt5.close_intents import CloseIntent as IntentValue
from core.mt5.gateway import Mt5Gateway
from core.mt5.guard_policy import GuardPolicy
from core.mt5.latch import IntentKind
from core.mt5.ports import OrderThrottle
from core.mt5.types import SymbolInfo
from core.mt5.values import Account
from db.mt5 import guard as rows
from db.mt5.guard_models import CloseIntent
from tasks.mt5.ports import Mt5Ports
from tasks.mt5.reading import Connection
from tasks.ports import Ports


@dataclass(frozen=True)
class CloseRun:
    """One account's closes in this process, logged into its terminal."""

    p: Ports
    mt5: Mt5Ports
    conn: Connection
    account: Account
    policy: GuardPolicy
    #: The sync cycle (batch run) these closes are part of: its audit events and alerts name it.
    cycle_id: int | None = None
    #: symbol_info read during this run, by symbol (a fresh tick is read for every attempt).
    symbols: dict[str, SymbolInfo] = field(default_factory=dict)
    #: Symbols whose spread is wide (market guard, hold_on_spread): their drawdown closes
    #: wait, each at most this long after its intent was made (core.mt5.market_guard).
    held: Mapping[str, timedelta] = field(default_factory=dict)

    @property
    def gateway(self) -> Mt5Gateway:
        return self.conn.gateway

    @property
    def throttle(self) -> OrderThrottle:
        return self.mt5.order_throttle(self.account.terminal)

    @property
    def magic(self) -> int:
        """The magic number our orders carry: the account's first (0 without any)."""
        return self.account.magic_numbers[0] if self.account.magic_numbers else 0


@dataclass(frozen=True, slots=True)
class Held:
    """An intent as this process last knew it: its row, and the state a compare-and-set
    moves it from."""

    id: int
    key: str
    login: int
    ticket: int
    symbol: str
    kind: IntentKind
    value: IntentValue
    updated_at: datetime
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: CloseIntent) -> Held:
        value = rows.intent_value(row)
        return cls(
            row.id,
            row.idempotency_key,
            row.login,
            row.ticket,
            row.symbol,
            IntentKind(row.kind),
            value,
            row.updated_at,
            row.created_at,
        )

    @property
    def subject(self) -> str:
        return f"pending order {self.ticket}" if self.kind.removes else f"position {self.ticket}"
