"""Snapshot figures and the float-to-Decimal boundary, as tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from decimal import localcontext

import pytest

from core.mt5 import constants as c
from core.mt5.convert import account_reading, actual_position, closing_deals, decimal_of, symbol_spec
from core.mt5.snapshot import drawdown_percent, peak_equity, snapshot_figures
from core.mt5.types import AccountInfo, SymbolInfo, TradeDeal, TradePosition
from core.mt5.values import AccountMode, AccountReading
from core.values import Side


def info(**fields: object) -> AccountInfo:
    base = dict(
        login=5001,
        trade_mode=0,
        leverage=100,
        limit_orders=200,
        margin_so_mode=0,
        trade_allowed=True,
        trade_expert=True,
        margin_mode=c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
        currency_digits=2,
        fifo_close=False,
        balance=10000.0,
        credit=0.0,
        profit=0.0,
        equity=10000.0,
        margin=0.0,
        margin_free=10000.0,
        margin_level=0.0,
        margin_so_call=50.0,
        margin_so_so=30.0,
        margin_initial=0.0,
        margin_maintenance=0.0,
        assets=0.0,
        liabilities=0.0,
        commission_blocked=0.0,
        name="Sim",
        server="Sim-Demo",
        currency="USD",
        company="Sim",
    )
    return AccountInfo(**{**base, **fields})  # type: ignore[arg-type]


def position(ticket: int, **fields: object) -> TradePosition:
    base = dict(
        ticket=ticket,
        time=0,
        time_msc=0,
        time_update=0,
        time_update_msc=0,
        type=c.POSITION_TYPE_BUY,
        magic=7,
        identifier=ticket,
        reason=c.DEAL_REASON_EXPERT,
        volume=0.1,
        price_open=1.085,
        sl=0.0,
        tp=0.0,
        price_current=1.086,
        swap=0.0,
        profit=10.0,
        symbol="EURUSD",
        comment="",
        external_id="",
    )
    return TradePosition(**{**base, **fields})  # type: ignore[arg-type]


class TestDrawdown:
    @pytest.mark.parametrize(
        ("previous", "equity", "peak"),
        [
            (None, D("10000.00"), D("10000.00")),  # the first equity starts the mark
            (D("10000.00"), D("10250.50"), D("10250.50")),  # a new high moves it
            (D("10250.50"), D("9800.00"), D("10250.50")),  # a fall keeps it
        ],
    )
    def test_peak_equity_is_a_high_water_mark(self, previous: D | None, equity: D, peak: D) -> None:
        assert peak_equity(previous, equity) == peak

    @pytest.mark.parametrize(
        ("peak", "equity", "percent"),
        [
            (D("10250.50"), D("9800.00"), D("4.39")),  # (10250.50 - 9800) / 10250.50 * 100 = 4.3949...
            (D("10000.00"), D("9000.00"), D("10.00")),  # (10000 - 9000) / 10000 * 100
            (D("10000.00"), D("9999.75"), D("0.00")),  # 0.0025 % rounds half-even to 0.00
            (D("10000.00"), D("9999.50"), D("0.00")),  # 0.005 % -> 0.00 (half to even)
            (D("10000.00"), D("9998.50"), D("0.02")),  # 0.015 % -> 0.02 (half to even)
            (D("10000.00"), D("10000.00"), D("0.00")),
            (D("0.00"), D("0.00"), D("0.00")),  # an empty account has no drawdown
        ],
    )
    def test_drawdown_percent(self, peak: D, equity: D, percent: D) -> None:
        assert drawdown_percent(peak, equity) == percent


def test_snapshot_figures_add_up_the_positions() -> None:
    account = AccountReading(5001, "Sim-Demo", "USD", D("10000.00"), D("9800.00"), D("1234.57"), AccountMode.HEDGING)
    positions = [
        actual_position(position(1, volume=0.1, profit=-150.25, swap=-1.5)),
        actual_position(position(2, volume=0.25, profit=-48.25, swap=0.0)),
    ]

    figures = snapshot_figures(account, positions, previous_peak=D("10250.50"))

    assert figures.open_positions == 2
    assert figures.total_volume == D("0.35")  # 0.1 + 0.25
    assert figures.open_pnl == D("-200.00")  # (-150.25 - 1.50) + (-48.25 + 0)
    assert (figures.peak_equity, figures.drawdown_percent) == (D("10250.50"), D("4.39"))
    assert figures.margin_level == D("1234.57")


class TestTheFloatBoundary:
    @pytest.mark.parametrize(
        ("value", "quantum", "result"),
        [
            (1.1, D("0.000001"), D("1.100000")),  # the float's shortest repr, not 1.10000000000000008881...
            (99553.22, D("0.01"), D("99553.22")),
            (0.125, D("0.01"), D("0.12")),  # half-even
            (0.135, D("0.01"), D("0.14")),  # str(0.135) is "0.135": half-even on the decimal text
            (-0.001, D("0.01"), D("0.00")),  # never a negative zero
            (1e-05, D("0.000001"), D("0.000010")),
        ],
    )
    def test_decimal_of(self, value: float, quantum: D, result: D) -> None:
        converted = decimal_of(value, quantum)
        assert converted == result and str(converted) == str(result)

    def test_decimal_of_ignores_the_threads_context(self) -> None:
        # Remembered by its arguments only, so it must not read the thread's context: under a
        # 3-digit context 99553.22 would not quantize at all (InvalidOperation).
        with localcontext() as ctx:
            ctx.prec = 3
            assert decimal_of(99553.23, D("0.01")) == D("99553.23")

    def test_account_info_becomes_a_reading(self) -> None:
        reading = account_reading(
            info(
                balance=99511.4,
                equity=99553.22,
                margin_level=101398.67590140559,
                margin_mode=c.ACCOUNT_MARGIN_MODE_RETAIL_NETTING,
            )
        )

        assert (reading.balance, reading.equity, reading.margin_level) == (D("99511.40"), D("99553.22"), D("101398.68"))
        assert reading.mode is AccountMode.NETTING

    def test_a_position_with_no_stops_has_none_and_a_sell_is_a_sell(self) -> None:
        p = actual_position(position(7, type=c.POSITION_TYPE_SELL, sl=0.0, tp=1.07))

        assert (p.direction, p.sl, p.tp, p.volume) == (Side.SELL, None, D("1.070000"), D("0.100000"))

    def test_symbol_spec(self) -> None:
        spec = symbol_spec(SymbolInfo(name="EURJPY", digits=3, point=0.001, volume_step=0.01))

        assert (spec.symbol, spec.digits, spec.point, spec.volume_step) == ("EURJPY", 3, D("0.001"), D("0.01"))

    def test_only_deals_that_take_volume_out_are_closing_deals(self) -> None:
        def d(ticket: int, entry: int, msc: int) -> TradeDeal:
            return TradeDeal(
                ticket,
                0,
                msc // 1000,
                msc,
                c.DEAL_TYPE_SELL,
                entry,
                7,
                1001,
                c.DEAL_REASON_SL,
                0.1,
                1.0799,
                0.0,
                0.0,
                -20.1,
                0.0,
                "EURUSD",
                "",
                "",
            )

        deals = closing_deals(
            [
                d(3, c.DEAL_ENTRY_OUT, 1_763_600_000_250),
                d(1, c.DEAL_ENTRY_IN, 1_763_500_000_000),
                d(2, c.DEAL_ENTRY_OUT_BY, 1_763_600_000_100),
            ]
        )

        assert [x.ticket for x in deals] == [2, 3]  # oldest first; the entry-in deal left out
        assert deals[1].time == datetime(2025, 11, 20, 0, 53, 20, 250000, tzinfo=UTC)
        assert (deals[1].price, deals[1].profit) == (D("1.079900"), D("-20.10"))
