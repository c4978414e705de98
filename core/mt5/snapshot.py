"""The figures of a position snapshot: equity, balance, the peak-equity high-water mark,
drawdown, positions, volume, open P&L and margin level of one account at one sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from core.money import money
from core.mt5.convert import PERCENT_QUANTUM
from core.mt5.values import AccountReading, ActualPosition

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class SnapshotFigures:
    equity: Decimal
    balance: Decimal
    peak_equity: Decimal
    drawdown_percent: Decimal
    open_positions: int
    total_volume: Decimal
    open_pnl: Decimal
    margin_level: Decimal


def peak_equity(previous_peak: Decimal | None, equity: Decimal) -> Decimal:
    """The high-water mark: max(previous peak, equity); the first equity starts it."""
    return equity if previous_peak is None else max(previous_peak, equity)


def drawdown_percent(peak: Decimal, equity: Decimal) -> Decimal:
    """drawdown % = (peak - equity) / peak * 100, half-even to 2 dp; 0 when the peak is
    not above zero (nothing to draw down from) or equity is at or above it."""
    if peak <= 0 or equity >= peak:
        return Decimal("0.00")
    return ((peak - equity) / peak * HUNDRED).quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_EVEN)


def snapshot_figures(
    account: AccountReading, positions: Sequence[ActualPosition], previous_peak: Decimal | None
) -> SnapshotFigures:
    """Account money in its currency (2 dp); volume in lots (6 dp); open P&L is
    sum(profit + swap) of the open positions, 2 dp (commission is charged on deals, not
    positions)."""
    peak = peak_equity(previous_peak, account.equity)
    return SnapshotFigures(
        equity=account.equity,
        balance=account.balance,
        peak_equity=peak,
        drawdown_percent=drawdown_percent(peak, account.equity),
        open_positions=len(positions),
        total_volume=sum((p.volume for p in positions), Decimal("0")),
        open_pnl=money(sum((p.profit + p.swap for p in positions), Decimal("0"))),
        margin_level=account.margin_level,
    )
