"""The guard's trading day (boundaries in UTC through daylight-saving changes) and the day's
anchor: taken, moved by balance operations, rebuilt after a restart, never guessed.

Offsets used below: New York is UTC-5 (EST) in winter and UTC-4 (EDT) in summer, so
17:00 there is 22:00 UTC in winter and 21:00 UTC in summer; Prague is UTC+1 (CET) and
UTC+2 (CEST), so its midnight is 23:00 UTC (winter) or 22:00 UTC (summer) of the previous
date. In 2026 the US changes on 03-08 and 11-01, the EU on 03-29 and 10-25.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from core.mt5 import constants as c
from core.mt5.guard_day import (
    AnchorSource,
    DayAnchor,
    DayBounds,
    DayDeal,
    GuardReading,
    anchor_from,
    day_bounds,
    day_deal,
    moved_by_balance_ops,
    rebuild_anchor,
)
from core.mt5.guard_policy import DayBasis
from core.mt5.types import TradeDeal

NEW_YORK, PRAGUE, UTC_ZONE = ZoneInfo("America/New_York"), ZoneInfo("Europe/Prague"), ZoneInfo("UTC")
FX, MIDNIGHT = time(17, 0), time(0, 0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class TestDayBounds:
    @pytest.mark.parametrize(
        ("now", "day_start", "tz", "trading_day", "start"),
        [
            # 17:00 New York, winter (EST): the boundary is 22:00 UTC; Monday 17:00 starts Tuesday.
            (utc(2026, 1, 12, 21, 59, 59), FX, NEW_YORK, date(2026, 1, 12), utc(2026, 1, 11, 22)),
            (utc(2026, 1, 12, 22), FX, NEW_YORK, date(2026, 1, 13), utc(2026, 1, 12, 22)),  # the boundary itself
            # 17:00 New York, summer (EDT): 21:00 UTC.
            (utc(2026, 7, 6, 20, 59, 59), FX, NEW_YORK, date(2026, 7, 6), utc(2026, 7, 5, 21)),
            (utc(2026, 7, 6, 21), FX, NEW_YORK, date(2026, 7, 7), utc(2026, 7, 6, 21)),
            # US spring forward (Sun 2026-03-08 02:00 EST -> 03:00 EDT): Saturday's boundary is
            # 22:00 UTC, Sunday's 21:00 UTC; the day named 03-08 lasts 23 hours.
            (utc(2026, 3, 8, 20, 59), FX, NEW_YORK, date(2026, 3, 8), utc(2026, 3, 7, 22)),
            (utc(2026, 3, 8, 21, 30), FX, NEW_YORK, date(2026, 3, 9), utc(2026, 3, 8, 21)),
            # US fall back (Sun 2026-11-01 02:00 EDT -> 01:00 EST): 21:00 UTC on Saturday, 22:00
            # UTC on Sunday; the day named 11-01 lasts 25 hours.
            (utc(2026, 11, 1, 21, 30), FX, NEW_YORK, date(2026, 11, 1), utc(2026, 10, 31, 21)),
            (utc(2026, 11, 1, 22), FX, NEW_YORK, date(2026, 11, 2), utc(2026, 11, 1, 22)),
            # 00:00 Prague, winter (CET): 23:00 UTC the day before; summer (CEST): 22:00 UTC.
            (utc(2026, 1, 12, 22, 59), MIDNIGHT, PRAGUE, date(2026, 1, 12), utc(2026, 1, 11, 23)),
            (utc(2026, 1, 12, 23), MIDNIGHT, PRAGUE, date(2026, 1, 13), utc(2026, 1, 12, 23)),
            (utc(2026, 7, 6, 22), MIDNIGHT, PRAGUE, date(2026, 7, 7), utc(2026, 7, 6, 22)),
            # EU spring forward (Sun 2026-03-29 02:00 CET -> 03:00 CEST): 03-29 starts 23:00 UTC
            # on 03-28 (CET), 03-30 starts 22:00 UTC on 03-29 (CEST): a 23-hour day.
            (utc(2026, 3, 29, 21, 59), MIDNIGHT, PRAGUE, date(2026, 3, 29), utc(2026, 3, 28, 23)),
            (utc(2026, 3, 29, 22, 30), MIDNIGHT, PRAGUE, date(2026, 3, 30), utc(2026, 3, 29, 22)),
            # EU fall back (Sun 2026-10-25 03:00 CEST -> 02:00 CET): 10-25 starts 22:00 UTC on
            # 10-24, 10-26 starts 23:00 UTC on 10-25: a 25-hour day.
            (utc(2026, 10, 25, 22, 30), MIDNIGHT, PRAGUE, date(2026, 10, 25), utc(2026, 10, 24, 22)),
            (utc(2026, 10, 25, 23), MIDNIGHT, PRAGUE, date(2026, 10, 26), utc(2026, 10, 25, 23)),
            # March weeks between the changes (US on EDT, EU still on CET): New York 17:00 is
            # 21:00 UTC and Prague midnight 23:00 UTC, 2 hours apart instead of 1.
            (utc(2026, 3, 16, 21), FX, NEW_YORK, date(2026, 3, 17), utc(2026, 3, 16, 21)),
            (utc(2026, 3, 16, 22, 30), MIDNIGHT, PRAGUE, date(2026, 3, 16), utc(2026, 3, 15, 23)),
            (utc(2026, 3, 16, 23), MIDNIGHT, PRAGUE, date(2026, 3, 17), utc(2026, 3, 16, 23)),
            # Oct/Nov week between the changes (EU on CET, US still on EDT): the same.
            (utc(2026, 10, 27, 21), FX, NEW_YORK, date(2026, 10, 28), utc(2026, 10, 27, 21)),
            (utc(2026, 10, 27, 22, 59), MIDNIGHT, PRAGUE, date(2026, 10, 27), utc(2026, 10, 26, 23)),
            (utc(2026, 10, 27, 23), MIDNIGHT, PRAGUE, date(2026, 10, 28), utc(2026, 10, 27, 23)),
            # Once both have changed, 17:00 New York is Prague's 23:00 again (1 hour apart).
            (utc(2026, 11, 3, 22), FX, NEW_YORK, date(2026, 11, 4), utc(2026, 11, 3, 22)),
            (utc(2026, 11, 3, 23), MIDNIGHT, PRAGUE, date(2026, 11, 4), utc(2026, 11, 3, 23)),
            # UTC midnight.
            (utc(2026, 1, 12, 0), MIDNIGHT, UTC_ZONE, date(2026, 1, 12), utc(2026, 1, 12)),
            # A boundary inside the spring-forward gap (02:30 does not exist on 2026-03-08 in New
            # York) takes the offset before the gap: 02:30 EST = 07:30 UTC (03:30 EDT).
            (utc(2026, 3, 8, 7, 15), time(2, 30), NEW_YORK, date(2026, 3, 7), utc(2026, 3, 7, 7, 30)),
            (utc(2026, 3, 8, 7, 30), time(2, 30), NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 7, 30)),
            # A boundary the clock shows twice (01:30 on 2026-11-01) is the first: 01:30 EDT = 05:30 UTC.
            (utc(2026, 11, 1, 5, 29), time(1, 30), NEW_YORK, date(2026, 10, 31), utc(2026, 10, 31, 5, 30)),
            (utc(2026, 11, 1, 5, 30), time(1, 30), NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),
        ],
    )
    def test_the_day_containing_now(
        self, now: datetime, day_start: time, tz: ZoneInfo, trading_day: date, start: datetime
    ) -> None:
        assert day_bounds(now, day_start, tz) == DayBounds(trading_day, start)

    def test_a_naive_time_is_refused(self) -> None:
        with pytest.raises(ValueError):
            day_bounds(datetime(2026, 1, 12, 22), FX, NEW_YORK)


BOUNDARY = utc(2026, 1, 12, 22)  # 17:00 New York, trading day 2026-01-13
DAY = date(2026, 1, 13)


READ_AT = utc(2026, 1, 12, 22, 0, 30)


def reading(balance: str, equity: str, at: datetime = READ_AT) -> GuardReading:
    return GuardReading(login=5001, equity=D(equity), balance=D(balance), at=at)


def deal(
    ticket: int, type_: int, at: datetime, profit: str, commission: str = "0", swap: str = "0", fee: str = "0"
) -> DayDeal:
    return DayDeal(ticket, type_, at, D(profit), D(commission), D(swap), D(fee))


class TestAnchorFrom:
    @pytest.mark.parametrize(
        ("basis", "balance", "equity", "value"),
        [
            (DayBasis.BALANCE, "10000.00", "9800.00", "10000.00"),
            (DayBasis.EQUITY, "10000.00", "9800.00", "9800.00"),
            (DayBasis.MAX, "10000.00", "9800.00", "10000.00"),  # max(10000, 9800)
            (DayBasis.MAX, "10000.00", "10150.00", "10150.00"),  # max(10000, 10150)
        ],
    )
    def test_the_basis(self, basis: DayBasis, balance: str, equity: str, value: str) -> None:
        anchor = anchor_from(reading(balance, equity), basis, DAY)

        assert (anchor.value, anchor.anchor_value_now(), anchor.anchored_at) == (
            D(value),
            D(value),
            utc(2026, 1, 12, 22, 0, 30),
        )
        assert (anchor.trading_day, anchor.source) == (DAY, AnchorSource.READING)


class TestBalanceOperations:
    ANCHOR = DayAnchor(DAY, DayBasis.BALANCE, D("10000.00"), utc(2026, 1, 12, 22, 0, 30))

    @pytest.mark.parametrize(
        ("deals", "anchor_now"),
        [
            ([deal(1, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 23), "5000.00")], "15000.00"),  # deposit: 10000 + 5000
            ([deal(1, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 23), "-2000.00")], "8000.00"),  # withdrawal: 10000 - 2000
            ([deal(1, c.DEAL_TYPE_CREDIT, utc(2026, 1, 12, 23), "1000.00")], "11000.00"),  # credit: 10000 + 1000
            (
                [
                    deal(1, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 23), "5000.00"),
                    deal(2, c.DEAL_TYPE_BALANCE, utc(2026, 1, 13, 1), "-1250.50"),
                ],
                "13749.50",
            ),  # 10000 + 5000 - 1250.50
            ([deal(1, c.DEAL_TYPE_SELL, utc(2026, 1, 12, 23), "-350.00")], "10000.00"),  # trading is P&L, not a move
            ([deal(1, c.DEAL_TYPE_CHARGE, utc(2026, 1, 12, 23), "-15.00")], "10000.00"),  # a charge is a cost
            (
                [deal(1, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 22, 0, 10), "5000.00")],
                "10000.00",
            ),  # before: in the value
            ([deal(1, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 22, 0, 30), "5000.00")], "10000.00"),  # at anchored_at too
        ],
    )
    def test_the_anchor_moves_by_deposits_withdrawals_and_credit(self, deals: list[DayDeal], anchor_now: str) -> None:
        assert moved_by_balance_ops(self.ANCHOR, deals).anchor_value_now() == D(anchor_now)

    def test_an_operation_is_applied_once(self) -> None:
        deposit = deal(7, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 23), "5000.00")

        once = moved_by_balance_ops(self.ANCHOR, [deposit])
        twice = moved_by_balance_ops(once, [deposit])

        assert twice is once
        assert (twice.adjustments, twice.applied) == (D("5000.00"), frozenset({7}))

    def test_an_operation_after_the_reading_waits_for_the_next(self) -> None:
        deposit = deal(7, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 23, 0, 1), "5000.00")

        assert moved_by_balance_ops(self.ANCHOR, [deposit], until=utc(2026, 1, 12, 23)) is self.ANCHOR
        assert moved_by_balance_ops(self.ANCHOR, [deposit], until=utc(2026, 1, 12, 23, 1)).adjustments == D("5000.00")


class TestRebuild:
    NOW = utc(2026, 1, 13, 1)
    BOUNDS = DayBounds(DAY, BOUNDARY)
    DEALS = [
        deal(10, c.DEAL_TYPE_SELL, utc(2026, 1, 12, 21, 30), "999.00"),  # yesterday: not the day's
        deal(11, c.DEAL_TYPE_SELL, utc(2026, 1, 12, 22, 15), "300.00", commission="-3.50", swap="-1.25"),  # +295.25
        deal(12, c.DEAL_TYPE_BALANCE, utc(2026, 1, 12, 23, 30), "1000.00"),  # a deposit: +1000.00
        deal(13, c.DEAL_TYPE_BUY, utc(2026, 1, 13, 0, 10), "-45.25", commission="-3.50"),  # -48.75
        deal(14, c.DEAL_TYPE_BUY, utc(2026, 1, 13, 1, 0, 5), "-80.00"),  # after the reading: not in its balance
    ]

    def test_the_balance_at_the_boundary_is_rebuilt_from_the_day_s_deals(self) -> None:
        # balance at start = 10250.00 - (295.25 + 1000.00 - 48.75) = 10250.00 - 1246.50 = 9003.50
        anchor = rebuild_anchor(self.BOUNDS, reading("10250.00", "10100.00", self.NOW), self.DEALS, DayBasis.BALANCE)

        assert anchor is not None
        assert (anchor.value, anchor.anchored_at, anchor.source) == (D("9003.50"), BOUNDARY, AnchorSource.DEALS)
        # the deposit moves it: 9003.50 + 1000.00 = 10003.50 (the day's trading: +246.50)
        assert (anchor.adjustments, anchor.applied, anchor.anchor_value_now()) == (
            D("1000.00"),
            frozenset({12}),
            D("10003.50"),
        )
        assert moved_by_balance_ops(anchor, self.DEALS) is anchor  # the deposit is not applied twice

    def test_no_deals_on_the_day_means_the_balance_did_not_move(self) -> None:
        anchor = rebuild_anchor(self.BOUNDS, reading("10250.00", "10100.00", self.NOW), [], DayBasis.BALANCE)

        assert anchor is not None and anchor.anchor_value_now() == D("10250.00")

    @pytest.mark.parametrize(
        ("basis", "deals"),
        [
            (DayBasis.EQUITY, DEALS),  # the equity at the boundary cannot be rebuilt
            (DayBasis.MAX, DEALS),  # nor the higher of the two
            (DayBasis.BALANCE, None),  # the history was not read
        ],
    )
    def test_what_cannot_be_rebuilt_is_not_guessed(self, basis: DayBasis, deals: list[DayDeal] | None) -> None:
        assert rebuild_anchor(self.BOUNDS, reading("10250.00", "10100.00", self.NOW), deals, basis) is None


def test_day_deal_reads_a_wire_deal_in_decimal() -> None:
    wire = TradeDeal(
        ticket=9001,
        order=0,
        time=1768258800,
        time_msc=1768258800123,
        type=c.DEAL_TYPE_BALANCE,
        entry=c.DEAL_ENTRY_IN,
        magic=0,
        position_id=0,
        reason=c.DEAL_REASON_CLIENT,
        volume=0.0,
        price=0.0,
        commission=0.0,
        swap=0.0,
        profit=5000.1,
        fee=0.0,
        symbol="",
        comment="deposit",
        external_id="",
    )

    got = day_deal(wire)

    assert got == DayDeal(
        9001,
        c.DEAL_TYPE_BALANCE,
        datetime(2026, 1, 12, 23, 0, 0, 123000, tzinfo=UTC),
        D("5000.10"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )
    assert got.is_balance_operation and got.balance_effect == D("5000.10")
