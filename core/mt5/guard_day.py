"""The guard's trading day and the day's anchor (the starting value of the daily loss).

The trading day starts at the boundary `day_start` (a wall-clock time) in the zone `tz`
(an IANA zone, a fixed offset or a server clock of core.mt5.server_time), at or before
the instant considered, and lasts until the next boundary (23, 24 or 25 hours: the
boundary follows the zone's clock through daylight-saving changes).

Its name (`trading_day`) is the local date that holds most of its hours: the date of its
start when `day_start` is before noon (00:00 Europe/Prague on 2026-03-10 starts
2026-03-10), the next date otherwise (17:00 America/New_York on Monday starts Tuesday's
day, as the FX market names it).

A boundary time that the clock skips (inside a spring-forward gap) is read with the
offset in force before the gap (PEP 495, fold=0): it happens that many minutes later in
the new time. A time the clock shows twice (fall back) is its first occurrence.

The anchor (`DayAnchor`) is the day's starting value, taken once per account and day:
from the first reading after the boundary (`anchor_from`), or rebuilt from the day's
deals by a process that missed the boundary (`rebuild_anchor`, balance basis only: the
equity at the boundary cannot be rebuilt, and is never guessed). Balance and credit
operations after it move it by their amount (`moved_by_balance_ops`), so money paid in or
out is never counted as profit or loss. Money is Decimal, 2 dp, half-even.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from core.money import money
from core.mt5 import constants as c
from core.mt5.convert import epoch_msc, money_of
from core.mt5.guard_policy import DayBasis
from core.mt5.types import TradeDeal

NOON = time(12, 0)
ZERO = Decimal("0.00")
#: Deals that move money in or out of the account without trading. Both move equity
#: (a credit moves equity but not balance), and the daily loss compares equity with the
#: anchor, so both move the anchor whatever its basis.
BALANCE_OPERATIONS = frozenset({c.DEAL_TYPE_BALANCE, c.DEAL_TYPE_CREDIT})


class DayBounds(NamedTuple):
    trading_day: date
    start_utc: datetime


def _boundary(local_date: date, day_start: time, tz: tzinfo) -> datetime:
    return datetime.combine(local_date, day_start, tzinfo=tz).astimezone(UTC)


def day_bounds(now_utc: datetime, day_start: time, tz: tzinfo) -> DayBounds:
    """The trading day containing `now_utc` (aware) and the UTC instant it started: the
    latest boundary at or before `now_utc` (see the module docstring for the name)."""
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be an aware datetime")
    local_date = now_utc.astimezone(tz).date()
    start = _boundary(local_date, day_start, tz)
    while start > now_utc:
        local_date -= timedelta(days=1)
        start = _boundary(local_date, day_start, tz)
    name = local_date if day_start < NOON else local_date + timedelta(days=1)
    return DayBounds(name, start)


@dataclass(frozen=True, slots=True)
class GuardReading:
    """One account reading as the guard sees it: money 2 dp in the account currency, `at`
    aware UTC. `confirmed`: it comes from a fresh account_info asked for by the guard."""

    login: int
    equity: Decimal
    balance: Decimal
    at: datetime
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class DayDeal:
    """A deal of history_deals_get in Decimal (2 dp): what it did to the balance."""

    ticket: int
    type: int
    time: datetime
    profit: Decimal
    commission: Decimal = ZERO
    swap: Decimal = ZERO
    fee: Decimal = ZERO

    @property
    def balance_effect(self) -> Decimal:
        """profit + commission + swap + fee: what the deal added to the balance."""
        return self.profit + self.commission + self.swap + self.fee

    @property
    def is_balance_operation(self) -> bool:
        return self.type in BALANCE_OPERATIONS


def day_deal(deal: TradeDeal) -> DayDeal:
    return DayDeal(
        ticket=deal.ticket,
        type=deal.type,
        time=epoch_msc(deal.time_msc),
        profit=money_of(deal.profit),
        commission=money_of(deal.commission),
        swap=money_of(deal.swap),
        fee=money_of(deal.fee),
    )


def day_balance_ops(deals: Iterable[DayDeal], bounds: DayBounds, until: datetime) -> tuple[DayDeal, ...]:
    """The balance and credit deals of the trading day from its start to `until`."""
    return tuple(d for d in deals if d.is_balance_operation and bounds.start_utc <= d.time <= until)


def ops_as_json(ops: Iterable[DayDeal]) -> list[dict[str, object]]:
    """Balance operations as a snapshot keeps them: ticket, type, time (ISO), amount (text)."""
    return [{"ticket": d.ticket, "type": d.type, "time": d.time.isoformat(), "amount": str(d.profit)} for d in ops]


def ops_from_json(data: Iterable[dict[str, object]]) -> tuple[DayDeal, ...]:
    """The inverse of ops_as_json."""
    return tuple(
        DayDeal(
            int(str(d["ticket"])),
            int(str(d["type"])),
            datetime.fromisoformat(str(d["time"])),
            Decimal(str(d["amount"])),
        )
        for d in data
    )


class AnchorSource(StrEnum):
    READING = "reading"  # the first reading after the boundary
    DEALS = "deals"  # rebuilt from the day's deals


@dataclass(frozen=True, slots=True)
class DayAnchor:
    """The day's starting value (`value`, by `basis`, as of `anchored_at`), and the sum of
    the balance operations since (`adjustments`; `applied`: their deal tickets)."""

    trading_day: date
    basis: DayBasis
    value: Decimal
    anchored_at: datetime
    adjustments: Decimal = ZERO
    applied: frozenset[int] = field(default_factory=frozenset)
    source: AnchorSource = AnchorSource.READING

    def anchor_value_now(self) -> Decimal:
        """value + adjustments, 2 dp: what the day started with, plus money paid in since."""
        return money(self.value + self.adjustments)


def basis_value(reading: GuardReading, basis: DayBasis) -> Decimal:
    if basis is DayBasis.BALANCE:
        return reading.balance
    if basis is DayBasis.EQUITY:
        return reading.equity
    return max(reading.balance, reading.equity)


def anchor_from(reading: GuardReading, basis: DayBasis, trading_day: date) -> DayAnchor:
    """The anchor taken from the first reading after the boundary: its balance, its
    equity or the higher of the two (2 dp, as read)."""
    return DayAnchor(
        trading_day=trading_day, basis=basis, value=money(basis_value(reading, basis)), anchored_at=reading.at
    )


def balance_ops(deals: Iterable[DayDeal], after: datetime | None, until: datetime | None = None) -> tuple[DayDeal, ...]:
    """The balance and credit deals made after `after` (None: none at all) and at or before
    `until` (None: no bound). A deal after the reading it comes with is left for the next
    reading: the reading's equity does not hold it yet."""
    if after is None:
        return ()
    return tuple(d for d in deals if d.is_balance_operation and after < d.time and (until is None or d.time <= until))


def moved_by_balance_ops(anchor: DayAnchor, deals: Iterable[DayDeal], until: datetime | None = None) -> DayAnchor:
    """The anchor moved by the balance and credit deals (amount: `profit`, a withdrawal
    negative) made after `anchored_at` (a deal at or before it is in the value already) and
    at or before `until`, and not applied yet (by deal ticket); the same anchor when none.

    anchor_now = value + adjustments, adjustments = sum of the applied amounts, 2 dp."""
    new = [d for d in balance_ops(deals, anchor.anchored_at, until) if d.ticket not in anchor.applied]
    if not new:
        return anchor
    moved = money(anchor.adjustments + sum((d.profit for d in new), ZERO))
    return replace(anchor, adjustments=moved, applied=anchor.applied | {d.ticket for d in new})


def rebuild_anchor(
    bounds: DayBounds, reading: GuardReading, deals_of_day: Sequence[DayDeal] | None, basis: DayBasis
) -> DayAnchor | None:
    """The anchor of a day whose boundary was missed, from `deals_of_day` (every deal from
    the boundary to the reading, as history_deals_get(start_utc, at) gives them, read with
    the reading). None when it cannot be known: history not read (None), or a basis that
    needs the equity at the boundary.

    balance at start = reading.balance - sum(profit + commission + swap + fee) of the deals
    from start_utc to reading.at, 2 dp; the day's balance operations are its adjustments."""
    if deals_of_day is None or basis is not DayBasis.BALANCE:
        return None
    day = [d for d in deals_of_day if bounds.start_utc <= d.time <= reading.at]
    ops = [d for d in day if d.is_balance_operation]
    return DayAnchor(
        trading_day=bounds.trading_day,
        basis=basis,
        anchored_at=bounds.start_utc,
        source=AnchorSource.DEALS,
        value=money(reading.balance - sum((d.balance_effect for d in day), ZERO)),
        adjustments=money(sum((d.profit for d in ops), ZERO)),
        applied=frozenset(d.ticket for d in ops),
    )
