"""MT5 domain values: what the sync reads from a terminal, in Decimal, and what the
reconciliation says about it. The named tuples of core.mt5.types are the wire shapes;
these are the business shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.values import Side


class AccountMode(StrEnum):
    """Position accounting: one net position per symbol, or one per trade."""

    NETTING = "netting"
    HEDGING = "hedging"


class ReconStatus(StrEnum):
    MATCHED = "matched"
    DIVERGENCE = "divergence"


class ReconReason(StrEnum):
    """How one position of the union of expected and actual compares."""

    MATCHED = "matched"
    SLIPPAGE = "slippage"
    PARTIAL_FILL = "partial_fill"
    MANUAL_CLOSE = "manual_close"
    CLOSED_BY_SL_TP = "closed_by_sl_tp"
    STOP_OUT = "stop_out"
    UNKNOWN_POSITION = "unknown_position"
    GAP = "gap"
    #: Expected open, not open in MT5, and no closing deal of a known reason explains it
    #: (never opened, or closed by an expert or a rollover).
    MISSING = "missing"

    @property
    def status(self) -> ReconStatus:
        return ReconStatus.MATCHED if self is ReconReason.MATCHED else ReconStatus.DIVERGENCE

    @property
    def closes_expected(self) -> bool:
        """The expected position is over: MT5 says how it was closed."""
        return self in CLOSING_REASONS


CLOSING_REASONS = frozenset(
    {ReconReason.MANUAL_CLOSE, ReconReason.CLOSED_BY_SL_TP, ReconReason.STOP_OUT, ReconReason.GAP}
)


class ExpectedStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Secret:
    """A password in memory: never printed, never logged, never in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class AccountReading:
    """account_info() in Decimal: money 2 dp, margin level (percent) 2 dp."""

    login: int
    server: str
    currency: str
    balance: Decimal
    equity: Decimal
    margin_level: Decimal
    mode: AccountMode


@dataclass(frozen=True, slots=True)
class ActualPosition:
    """One open position in MT5 (positions_get), in Decimal; sl/tp None when unset (0.0)."""

    ticket: int
    symbol: str
    direction: Side
    volume: Decimal
    price_open: Decimal
    price_current: Decimal
    sl: Decimal | None
    tp: Decimal | None
    magic: int
    profit: Decimal
    swap: Decimal


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What reconciliation needs of symbol_info(): the point (price step of one point)
    and the volume step (lots)."""

    symbol: str
    digits: int
    point: Decimal
    volume_step: Decimal


@dataclass(frozen=True, slots=True)
class ClosingDeal:
    """A deal that took volume out of a position (entry out, in/out or out-by)."""

    ticket: int
    position_id: int
    reason: int
    price: Decimal
    volume: Decimal
    profit: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class ExpectedPosition:
    """A position the trading system expects to be open (a row of expected_positions)."""

    id: int
    signal_id: str
    approval_id: str | None
    symbol: str
    direction: Side
    volume: Decimal
    entry_price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    magic: int
    ticket: int | None


@dataclass(frozen=True, slots=True)
class TerminalReading:
    """Everything one account's sync read from its terminal."""

    account: AccountReading
    positions: tuple[ActualPosition, ...]
    symbols: dict[str, SymbolSpec] = field(default_factory=dict)
    #: Closing deals by position ticket, for expected positions no longer open.
    deals: dict[int, tuple[ClosingDeal, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Account:
    """An MT5 account as the sync uses it (a row of mt5_accounts)."""

    id: int
    login: int
    server: str
    terminal: str
    currency: str
    policy: str
    enabled: bool
    magic_numbers: tuple[int, ...]
    credential_ref: str
    peak_equity: Decimal | None = None
