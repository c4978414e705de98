"""The nightly with hedge accounting, in-process on SQLite and PostgreSQL: FX forwards and
hedged items (hypothetical derivatives) snapshotted, then every current designation tested.
Rates are ECB-like EURUSD reference rates; every figure is worked out by hand beside it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from core.values import ObjectType
from db import ledger
from db.contracts import to_contract
from db.hedging.effectiveness import designations_under_test
from db.hedging.legs import partners_of
from db.hedging.models import EffectivenessResult, HedgeRelationship
from db.models import AuditEvent, BatchRun, HedgeContract, IdempotencyConflict, MtmSnapshot
from tasks.hedging.loading import effectiveness_report, load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv
from tasks.nightly import run_nightly
from tasks.ports import Ports
from tasks.summary import run_summary
from tests.fakes import InMemoryPriceSource
from tests.hedging_builders import (
    designation,
    designations_json,
    eurusd_csv,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
    with_hedging,
)

D = Decimal
D0, D1 = date(2026, 11, 17), date(2026, 11, 20)  # Tuesday (the designation date), Friday
# TARGET D-1: Monday 16 Nov for the 17th, Thursday 19 Nov for the 20th.
RATES = eurusd_csv(("2026-11-16", "1.080000"), ("2026-11-19", "1.070000"))


@pytest.fixture
def hedged(runtime: Ports, price_source: InMemoryPriceSource) -> Ports:
    """Four EUR 1m receivables due 31 Dec 2026, each hedged by a EURUSD forward sold at 1.10."""
    rt = with_hedging(runtime, chunk_size=2)  # two effectiveness chunks of two designations
    load_contracts_csv(
        fx_contracts_csv(
            fx_forward("FXF-1"),
            fx_forward("FXF-2", quantity="500000"),
            fx_forward("FXF-3", maturity_date="2027-03-31"),
            fx_forward("FXF-4"),
        ),
        "fx.csv",
    )
    load_hedged_items_json(items_json(*(receivable(f"RCV-{n}") for n in range(1, 5))), "items.json")
    load_designations_json(
        designations_json(
            designation("HD-1", "FXF-1", "RCV-1"),  # a matching hedge
            designation("HD-2", "FXF-2", "RCV-2"),  # half the notional
            designation("HD-3", "FXF-3", "RCV-3", method="critical_terms"),  # matures 90 days later
            designation("HD-4", "FXF-4", "RCV-4", method="regression"),
        ),
        "designations.json",
    )
    price_source.add("ecb.csv", RATES)
    return rt


def nightly(rt: Ports, day: date) -> dict[str, Any]:
    started = run_nightly.apply_async(kwargs={"as_of": day.isoformat()}).get()
    with rt.uow() as uow:
        return run_summary(ledger.get_run(uow.session, started["batch_run_id"]))


def snapshots(rt: Ports, day: date) -> dict[tuple[str, int], Decimal]:
    with rt.uow() as uow:
        rows = uow.session.execute(
            select(MtmSnapshot.object_type, MtmSnapshot.object_id, MtmSnapshot.mtm_value).where(
                MtmSnapshot.as_of_date == day
            )
        )
        return {(kind, oid): value for kind, oid, value in rows}


def outcomes(rt: Ports, day: date) -> dict[str, tuple[str, Decimal | None]]:
    with rt.uow() as uow:
        rows = uow.session.execute(
            select(HedgeRelationship.designation_ref, EffectivenessResult.outcome, EffectivenessResult.ratio)
            .join(HedgeRelationship, HedgeRelationship.id == EffectivenessResult.relationship_id)
            .where(EffectivenessResult.as_of_date == day)
        )
        return {ref: (outcome, ratio) for ref, outcome, ratio in rows}


def count(rt: Ports, model: type, *where: Any) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def flags(rt: Ports) -> list[tuple[str, str]]:
    with rt.uow() as uow:
        events = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "hedge_de_designation_flagged").order_by(AuditEvent.id)
        )
        return [(e.entity_id, e.details["as_of"]) for e in events]


class TestTheNightly:
    def test_both_legs_are_valued_and_every_designation_tested(self, hedged: Ports) -> None:
        first = nightly(hedged, D0)
        assert first["status"] == "succeeded"
        assert snapshots(hedged, D0) == {
            # sell 1m EUR at 1.10, rate 1.08: -1 * 1,000,000 * (1.08 - 1.10) = 20,000.00 (44 days: not discounted)
            ("hedge_contract", 1): D("20000.00"),
            ("hedge_contract", 2): D("10000.00"),  # -1 * 500,000 * (1.08 - 1.10)
            # 134 days to 31 Mar 2027: 20,000 / (1 + 0.05 * 134 / 360) = 19,634.58
            ("hedge_contract", 3): D("19634.58"),
            ("hedge_contract", 4): D("20000.00"),
            # the receivables' hypothetical forwards, bought at the locked 1.10: +1 * 1,000,000 * (1.08 - 1.10)
            **{("hedged_item", n): D("-20000.00") for n in range(1, 5)},
        }
        # on the designation date nothing has moved yet: dollar offset is inconclusive (ΔI = 0)
        assert outcomes(hedged, D0) == {
            "HD-1": ("inconclusive", None),
            "HD-2": ("inconclusive", None),
            "HD-3": ("fail", None),
            "HD-4": ("insufficient_data", None),
        }

        second = nightly(hedged, D1)
        assert snapshots(hedged, D1)[("hedge_contract", 1)] == D("30000.00")  # -1 * 1m * (1.07 - 1.10)
        assert snapshots(hedged, D1)[("hedge_contract", 3)] == D("29463.92")  # 30,000 / (1 + 0.05 * 131 / 360)
        assert snapshots(hedged, D1)[("hedged_item", 1)] == D("-30000.00")
        assert outcomes(hedged, D1) == {
            "HD-1": ("pass", D("1")),  # ΔH = 30,000 - 20,000 = 10,000; ΔI = -10,000: -10,000 / -10,000 = 1
            "HD-2": ("fail", D("0.5")),  # ΔH = 15,000 - 10,000 = 5,000; ΔI = -10,000: 0.5 < 0.80
            "HD-3": ("fail", None),  # maturities 90 days apart
            "HD-4": ("insufficient_data", None),  # 1 change, fewer than 20
        }
        # the 2 rates again (existing), 4 contracts + 4 items valued, 4 designations tested, 4 entries posted
        assert second["counts"] == {"processed": 18, "created": 16, "existing": 2, "conflicts": 0, "exceptions": 0}
        # a fail flags its designation for de-designation; nothing is de-designated
        assert flags(hedged) == [("3", "2026-11-17"), ("2", "2026-11-20"), ("3", "2026-11-20")]
        with hedged.uow() as uow:
            run = uow.session.scalars(
                select(BatchRun).where(BatchRun.job == "effectiveness", BatchRun.as_of_date == D1)
            ).one()
            assert (run.chunks_total, run.chunks_done, run.processed) == (2, 2, 4)

    def test_the_result_keeps_its_inputs(self, hedged: Ports) -> None:
        nightly(hedged, D0)
        nightly(hedged, D1)
        with hedged.uow() as uow:
            details = uow.session.scalars(
                select(EffectivenessResult.details).where(EffectivenessResult.idempotency_key == "EFF:1:1:2026-11-20")
            ).one()
        cumulative = details["cumulative"]
        assert (cumulative["from"], cumulative["h_from"], cumulative["h_to"], cumulative["i_to"]) == (
            "2026-11-17",
            "20000",
            "30000",
            "-30000",
        )
        assert (details["band"], details["materiality_floor"]) == ({"min": "0.8", "max": "1.25"}, "1000")

    def test_a_rerun_appends_nothing(self, hedged: Ports) -> None:
        nightly(hedged, D0)
        nightly(hedged, D1)
        again = nightly(hedged, D1)
        assert again["status"] == "succeeded"
        assert (again["counts"]["created"], again["counts"]["existing"]) == (0, 18)
        assert count(hedged, EffectivenessResult) == 8
        assert len(flags(hedged)) == 3

    def test_a_changed_input_is_a_conflict_not_a_second_result(self, hedged: Ports) -> None:
        early = nightly(hedged, D1)  # before the designation date's nightly: no baseline yet (postings blocked)
        assert outcomes(hedged, D1)["HD-1"] == ("insufficient_data", None)
        nightly(hedged, D0)  # the designation date, late
        late = nightly(hedged, D1)  # now HD-1 could pass, HD-2 fail, HD-4 count one change
        assert (early["status"], late["status"]) == ("completed_with_exceptions", "completed_with_conflicts")
        with hedged.uow() as uow:
            conflicts = uow.session.scalars(
                select(IdempotencyConflict.idempotency_key)
                .where(IdempotencyConflict.table_name == "effectiveness_results")
                .order_by(IdempotencyConflict.id)
            ).all()
        assert conflicts == ["EFF:1:1:2026-11-20", "EFF:2:1:2026-11-20", "EFF:4:1:2026-11-20"]
        # nothing overwritten, nothing added; a conflicting fail raises no flag
        assert outcomes(hedged, D1)["HD-1"] == ("insufficient_data", None)
        assert count(hedged, EffectivenessResult, EffectivenessResult.as_of_date == D1) == 4
        assert ("2", "2026-11-20") not in flags(hedged)

    def test_the_report_of_a_date(self, hedged: Ports) -> None:
        nightly(hedged, D0)
        nightly(hedged, D1)
        lines = effectiveness_report(D1)
        assert [(x["designation_ref"], x["method"], x["outcome"], x["ratio"], x["flagged"]) for x in lines] == [
            ("HD-1", "dollar_offset", "pass", D("1"), False),
            ("HD-2", "dollar_offset", "fail", D("0.5"), True),
            ("HD-3", "critical_terms", "fail", None, True),
            ("HD-4", "regression", "insufficient_data", None, False),
        ]


class TestAChunkReadsItsOwnLegs:
    """A chunk's partners come from its own designations only (not every designation under
    test, read again by every chunk)."""

    def test_the_designations_of_some_legs(self, hedged: Ports) -> None:
        with hedged.uow() as uow:
            s = uow.session
            every = designations_under_test(s, D0)
            assert len(every) == 4
            # contract 2 (FXF-2) is the instrument of HD-2 only; item 3 (RCV-3) the item of HD-3 only
            assert designations_under_test(s, D0, contract_ids=[2]) == [every[1]]
            assert designations_under_test(s, D0, item_ids=[3, 4]) == every[2:]
            assert designations_under_test(s, D0, contract_ids=[]) == []

    def test_the_partners_of_a_chunk(self, hedged: Ports) -> None:
        with hedged.uow() as uow:
            s = uow.session
            contracts = [to_contract(c) for c in s.scalars(select(HedgeContract).where(HedgeContract.id.in_([1, 3])))]
            partners = partners_of(s, contracts, ObjectType.HEDGE_CONTRACT, D0)
            assert sorted(partners) == [(ObjectType.HEDGE_CONTRACT, 1), (ObjectType.HEDGE_CONTRACT, 3)]
            assert {k: (p.designation_id, p.object_type) for k, p in partners.items()} == {
                (ObjectType.HEDGE_CONTRACT, 1): (1, ObjectType.HEDGED_ITEM),
                (ObjectType.HEDGE_CONTRACT, 3): (3, ObjectType.HEDGED_ITEM),
            }


class TestRegressionOverAWeek:
    def test_a_week_of_nightlies_regresses(self, runtime: Ports, price_source: InMemoryPriceSource) -> None:
        rt = with_hedging(runtime)
        load_contracts_csv(fx_contracts_csv(fx_forward("FXF-9", quantity="900000")), "fx.csv")
        load_hedged_items_json(items_json(receivable("RCV-9")), "items.json")
        load_designations_json(
            designations_json(
                designation(
                    "HD-9",
                    "FXF-9",
                    "RCV-9",
                    method="regression",
                    designation_date="2026-11-16",
                    min_observations=3,
                    regression_window=10,
                )
            ),
            "d.json",
        )
        # TARGET D-1 of Mon 16 .. Fri 20 Nov: Fri 13, Mon 16, Tue 17, Wed 18, Thu 19
        price_source.add(
            "ecb.csv",
            eurusd_csv(
                ("2026-11-13", "1.08"),
                ("2026-11-16", "1.075"),
                ("2026-11-17", "1.09"),
                ("2026-11-18", "1.06"),
                ("2026-11-19", "1.07"),
            ),
        )
        for day in range(16, 21):
            nightly(rt, date(2026, 11, day))
        with rt.uow() as uow:
            result = uow.session.execute(
                select(
                    EffectivenessResult.outcome,
                    EffectivenessResult.slope,
                    EffectivenessResult.r_squared,
                    EffectivenessResult.p_value,
                    EffectivenessResult.n_observations,
                ).where(EffectivenessResult.as_of_date == D1)
            ).one()
        # H = -900,000 * (rate - 1.10), I = 1,000,000 * (rate - 1.10): every ΔI = -ΔH / 0.9,
        # so ΔI on ΔH has slope -1 / 0.9 = -1.111111 (inside [-1.25, -0.80]), R² = 1, p = 0; 4 changes
        # (p is stored with its significant digits: binary floating point leaves ~1e-20, not 0)
        assert (*result[:3], result[4]) == ("pass", D("-1.111111"), D("1"), 4)
        assert result[3] < D("1E-12")
