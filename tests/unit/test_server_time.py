"""Trade server clocks (core.mt5.server_time): broker times to UTC and bounds back, and the
day's anchor of a `ny-close` server around the US daylight-saving changes.

By hand: `ny-close` is UTC+2 while New York is on EST and UTC+3 while it is on EDT. In 2026
New York changes at 2026-03-08 07:00 UTC (02:00 EST) and 2026-11-01 06:00 UTC (02:00 EDT);
the EU at 03-29 and 10-25, so from 03-08 to 03-29 a ny-close server is on UTC+3 while
Helsinki is still on UTC+2 (EET). The server's wall clock jumps from 09:00 to 10:00 on
03-08 and shows 08:00-09:00 twice on 11-01."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D

import pytest

from core.mt5 import constants as c
from core.mt5.guard import GuardDecision, GuardEvent, evaluate
from core.mt5.guard_day import GuardReading, day_deal
from core.mt5.guard_policy import DayBasis, GuardPolicy
from core.mt5.guard_state import GuardState
from core.mt5.server_time import (
    EPOCH,
    deal_in_utc,
    msc_of_wall,
    server_zone,
    utc_of_msc,
    utc_of_wall,
    wall_of,
)
from core.mt5.types import TradeDeal


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def broker_msc(*wall: int) -> int:
    """What the terminal shows: the server's wall clock counted as if it were UTC."""
    return int((datetime(*wall) - EPOCH) / timedelta(milliseconds=1))  # type: ignore[arg-type, misc]


class TestBrokerTimeToUtc:
    @pytest.mark.parametrize(
        ("spec", "wall", "expected"),
        [
            ("ny-close", (2026, 1, 15, 12, 0), utc(2026, 1, 15, 10, 0)),  # winter: 12:00 - 2 h
            ("ny-close", (2026, 7, 15, 12, 0), utc(2026, 7, 15, 9, 0)),  # summer: 12:00 - 3 h
            ("ny-close", (2026, 3, 6, 23, 30), utc(2026, 3, 6, 21, 30)),  # Friday before the US change: - 2 h
            ("ny-close", (2026, 3, 18, 0, 30), utc(2026, 3, 17, 21, 30)),  # US on EDT, EU not yet: - 3 h
            ("Europe/Helsinki", (2026, 3, 18, 0, 30), utc(2026, 3, 17, 22, 30)),  # EET still: - 2 h
            ("ny-close", (2026, 3, 8, 8, 59), utc(2026, 3, 8, 6, 59)),  # last winter minute
            ("ny-close", (2026, 3, 8, 9, 30), utc(2026, 3, 8, 7, 30)),  # skipped: the offset before (+2)
            ("ny-close", (2026, 3, 8, 10, 0), utc(2026, 3, 8, 7, 0)),  # first summer minute (+3)
            ("ny-close", (2026, 11, 1, 8, 30), utc(2026, 11, 1, 5, 30)),  # shown twice: the first (+3)
            ("ny-close", (2026, 11, 1, 9, 30), utc(2026, 11, 1, 7, 30)),  # after: winter (+2)
            ("UTC+02:00", (2026, 7, 15, 12, 0), utc(2026, 7, 15, 10, 0)),
            ("-05:00", (2026, 7, 15, 12, 0), utc(2026, 7, 15, 17, 0)),
            ("UTC", (2026, 7, 15, 12, 0), utc(2026, 7, 15, 12, 0)),
            ("+05:30", (2026, 7, 15, 12, 0), utc(2026, 7, 15, 6, 30)),  # a fixed offset with minutes
            ("UTC-03:30", (2026, 1, 1, 1, 15), utc(2026, 1, 1, 4, 45)),
            ("Europe/Helsinki", (2026, 7, 15, 12, 0), utc(2026, 7, 15, 9, 0)),  # EEST: - 3 h
        ],
    )
    def test_a_broker_time_is_its_server_wall_clock(self, spec: str, wall: tuple[int, ...], expected: datetime) -> None:
        zone = server_zone(spec)
        assert utc_of_msc(broker_msc(*wall), zone) == int(expected.timestamp() * 1000)
        assert utc_of_wall(datetime(*wall), zone) == expected  # type: ignore[arg-type, misc]

    @pytest.mark.parametrize(
        ("instant", "wall", "fold"),
        [
            (utc(2026, 3, 6, 21, 30), datetime(2026, 3, 6, 23, 30), 0),
            (utc(2026, 11, 1, 5, 30), datetime(2026, 11, 1, 8, 30), 0),  # first showing
            (utc(2026, 11, 1, 6, 30), datetime(2026, 11, 1, 8, 30), 1),  # second showing
        ],
    )
    def test_a_bound_is_the_server_wall_clock(self, instant: datetime, wall: datetime, fold: int) -> None:
        shown = wall_of(instant, server_zone("ny-close"))
        assert (shown, shown.fold) == (wall, fold)
        assert utc_of_wall(shown, server_zone("ny-close")) == instant
        assert msc_of_wall(instant, server_zone("ny-close")) == broker_msc(*wall.timetuple()[:5])

    def test_every_instant_across_both_changes_comes_back(self) -> None:
        zone = server_zone("ny-close")
        for start in (utc(2026, 3, 8, 5), utc(2026, 11, 1, 4)):
            for n in range(5 * 4):
                instant = start + n * timedelta(minutes=15)
                assert utc_of_wall(wall_of(instant, zone), zone) == instant

    @pytest.mark.parametrize("spec", ["Mars/Olympus", "UTC+2", "+24:00", "ny", ""])
    def test_an_unknown_spec_is_refused(self, spec: str) -> None:
        with pytest.raises(ValueError):
            server_zone(spec)


NY = "ny-close"
SERVER_DAY = GuardPolicy(
    warning_pct=D("40"),
    execution_pct=D("50"),
    daily_loss_pct=D("3"),
    daily_basis=DayBasis.BALANCE,
    day_start=time(0, 0),
    day_start_tz="server",
    max_sync_age_s=600,
    equity_jump_pct=D("50"),
).on_server(NY)


def balance_op(ticket: int, amount: float, *wall: int) -> TradeDeal:
    """A deposit (or, negative, a withdrawal) as the terminal gives it: server time."""
    msc = broker_msc(*wall)
    return TradeDeal(
        ticket, 0, msc // 1000, msc, c.DEAL_TYPE_BALANCE, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, amount, 0.0, "", "", ""
    )


def run_day(readings: list[tuple[datetime, str, str]], deals: list[TradeDeal]) -> list[GuardDecision]:
    """Readings (UTC time, balance, equity); the deals converted as the gateway does."""
    day_deals = [day_deal(deal_in_utc(d, server_zone(NY))) for d in deals]
    state, out = GuardState(), []
    for at, balance, equity in readings:
        reading = GuardReading(5001, D(equity), D(balance), at)
        out.append(evaluate(state, reading, SERVER_DAY, at, [d for d in day_deals if d.time <= at]))
        state = out[-1].state
    return out


class TestNyCloseAnchors:
    def test_a_deposit_at_2330_server_time_on_the_friday_before_the_us_change(self) -> None:
        # Server midnight is 22:00 UTC (UTC+2). The deposit at 23:30 server time is 21:30 UTC:
        # Friday's. Read as UTC (23:30 UTC) it would fall in Saturday's day, after that
        # day's anchor had taken it already: 11000 + 1000 = 12000, counted twice.
        decisions = run_day(
            [
                (utc(2026, 3, 5, 22, 5), "10000.00", "10000.00"),  # Friday (server) anchors: 10000
                (utc(2026, 3, 6, 21, 45), "11000.00", "10800.00"),  # deposit: 10000 + 1000 = 11000
                (utc(2026, 3, 6, 22, 5), "11000.00", "10800.00"),  # Saturday anchors: balance 11000
                (utc(2026, 3, 6, 23, 45), "11000.00", "10800.00"),  # nothing moves it
            ],
            [balance_op(9001, 1000.0, 2026, 3, 6, 23, 30)],
        )
        anchors = [d.state.anchor for d in decisions]
        assert [(a.trading_day.isoformat(), a.anchor_value_now()) for a in anchors if a] == [
            ("2026-03-06", D("10000.00")),
            ("2026-03-06", D("11000.00")),
            ("2026-03-07", D("11000.00")),
            ("2026-03-07", D("11000.00")),
        ]
        # (11000 - 10800) / 11000 * 100 = 1.8182 %
        assert decisions[1].day_loss_pct == D("1.8182")
        assert decisions[1].events == (GuardEvent.ANCHOR_MOVED,)

    def test_a_withdrawal_in_the_weeks_us_and_eu_differ(self) -> None:
        # 2026-03-18 00:30 server time (UTC+3, New York on EDT, Europe not yet) is
        # 2026-03-17 21:30 UTC; server midnight is 21:00 UTC. The withdrawal moves the
        # anchor 10000 - 2000 = 8000: day loss (8000 - 8000) / 8000 = 0 %. Read as 00:30 UTC it
        # would come after the reading of 21:45 UTC: (10000 - 8000) / 10000 = 20 %, executed.
        decisions = run_day(
            [
                (utc(2026, 3, 17, 21, 5), "10000.00", "10000.00"),
                (utc(2026, 3, 17, 21, 45), "8000.00", "8000.00"),
            ],
            [balance_op(9002, -2000.0, 2026, 3, 18, 0, 30)],
        )
        first, second = decisions
        assert first.state.anchor is not None and first.state.anchor.trading_day.isoformat() == "2026-03-18"
        assert second.state.anchor is not None and second.state.anchor.anchor_value_now() == D("8000.00")
        assert (second.day_loss_pct, second.executes) == (D("0.0000"), False)

    def test_a_worker_late_for_the_day_rebuilds_it_with_the_withdrawal_in_it(self) -> None:
        # First reading 23:00 UTC, two hours after the 21:00 UTC boundary: rebuilt from the
        # day's deals. balance at start = 8000 - (-2000) = 10000; adjustments -2000; now 8000.
        (late,) = run_day(
            [(utc(2026, 3, 17, 23, 0), "8000.00", "8000.00")], [balance_op(9002, -2000.0, 2026, 3, 18, 0, 30)]
        )
        anchor = late.state.anchor
        assert anchor is not None
        assert (anchor.value, anchor.adjustments, anchor.anchored_at) == (
            D("10000.00"),
            D("-2000.00"),
            utc(2026, 3, 17, 21, 0),
        )
