"""The nightly chain in-process (embedded mode) on SQLite and PostgreSQL: prices for D-1,
then MTM for D through the same tasks, ledger and write path as distributed mode."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from db import ledger
from db.models import AuditEvent, BatchRun, IdempotencyConflict, MtmException, MtmSnapshot, SettlementPrice
from tasks.loading import load_contracts_csv
from tasks.nightly import run_nightly
from tests.builders import contract, contracts_csv, prices_csv
from tests.fakes import InMemoryPriceSource

AS_OF = date(2026, 11, 20)  # Friday; D-1 under the business policy is Thursday 2026-11-19
D1 = "2026-11-19"


def load_book(runtime: Any) -> None:
    load_contracts_csv(
        contracts_csv(
            contract("AL-BUY", underlying="LME-AL", side="buy", quantity="250", entry_price="2480.50"),
            contract("AL-SELL", underlying="LME-AL", side="sell", quantity="125", entry_price="2612.00"),
            contract("CU-BUY", underlying="LME-CU", side="buy", quantity="75.5", entry_price="9990.00"),
            contract("NI-BUY", underlying="LME-NI", side="buy", quantity="12", entry_price="16420"),
            contract("ZN-OLD", underlying="LME-ZN", status="settled"),
        ),
        "book.csv",
    )


def nightly(runtime: Any) -> dict[str, Any]:
    started = run_nightly.apply_async(kwargs={"as_of": AS_OF.isoformat()}).get()
    with runtime.uow() as uow:
        from tasks.summary import run_summary

        return run_summary(ledger.get_run(uow.session, started["batch_run_id"]))


def count(runtime: Any, model: type, *where: Any) -> int:
    with runtime.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def snapshot_values(runtime: Any) -> dict[int, Decimal]:
    with runtime.uow() as uow:
        return {oid: value for oid, value in uow.session.execute(select(MtmSnapshot.object_id, MtmSnapshot.mtm_value))}


class TestNightly:
    def test_one_snapshot_per_active_contract_and_an_exception_for_a_missing_price(
        self, runtime: Any, price_source: InMemoryPriceSource
    ) -> None:
        load_book(runtime)
        price_source.add(
            "p.csv",
            prices_csv(("LME-AL", D1, "2563.50"), ("LME-CU", D1, "10012.25"), ("LME-NI", "2026-11-18", "16388")),
        )
        summary = nightly(runtime)
        assert summary["status"] == "completed_with_exceptions"  # no LME-NI price on D-1
        # 3 prices created; 4 active contracts: 3 snapshots + 1 exception (no LME-NI price on D-1)
        assert summary["counts"] == {"processed": 7, "created": 6, "existing": 0, "conflicts": 0, "exceptions": 1}
        values = snapshot_values(runtime)
        assert sorted(values.values()) == sorted(
            [
                Decimal("20750.00"),  # buy: 250 * (2563.50 - 2480.50) = 20750.00
                Decimal("6062.50"),  # sell: -1 * 125 * (2563.50 - 2612.00) = 6062.50
                Decimal("1679.88"),  # buy: 75.5 * (10012.25 - 9990.00) = 1679.875, half-even -> 1679.88
            ]
        )
        with runtime.uow() as uow:
            exc = uow.session.scalars(select(MtmException)).one()
            assert (exc.reason, exc.details) == ("price_unavailable", {"symbol": "LME-NI", "price_date": D1})
            snap = uow.session.scalars(select(MtmSnapshot).where(MtmSnapshot.mtm_value == Decimal("20750"))).one()
            price = uow.session.get(SettlementPrice, snap.price_id)
            assert (price.symbol, price.price_date.isoformat(), price.price) == ("LME-AL", D1, Decimal("2563.5"))
            assert snap.idempotency_key == f"MTM:hedge_contract:{snap.object_id}:{AS_OF}"

    def test_a_second_run_is_a_new_attempt_that_writes_nothing_new(
        self, runtime: Any, price_source: InMemoryPriceSource
    ) -> None:
        load_book(runtime)
        price_source.add("p.csv", prices_csv(("LME-AL", D1, "2563.50"), ("LME-CU", D1, "10012.25")))
        first = nightly(runtime)
        before = snapshot_values(runtime)
        second = nightly(runtime)
        assert (first["attempt"], second["attempt"]) == (1, 2)
        assert second["status"] == "completed_with_exceptions"
        assert second["counts"] == {"processed": 6, "created": 0, "existing": 5, "conflicts": 0, "exceptions": 1}
        assert snapshot_values(runtime) == before
        assert count(runtime, MtmException) == 1

    def test_a_restated_price_is_a_conflict_and_changes_nothing(
        self, runtime: Any, price_source: InMemoryPriceSource
    ) -> None:
        load_book(runtime)
        price_source.add("p.csv", prices_csv(("LME-AL", D1, "2563.50"), ("LME-CU", D1, "10012.25")))
        nightly(runtime)
        before = snapshot_values(runtime)
        price_source.add("p.csv", prices_csv(("LME-AL", D1, "2570.00"), ("LME-CU", D1, "10012.25")))
        summary = nightly(runtime)
        assert summary["status"] == "completed_with_conflicts"
        assert summary["counts"]["conflicts"] == 1
        assert count(runtime, IdempotencyConflict) == 1
        assert snapshot_values(runtime) == before
        with runtime.uow() as uow:
            assert uow.session.scalar(
                select(SettlementPrice.price).where(SettlementPrice.symbol == "LME-AL")
            ) == Decimal("2563.5")

    def test_a_changed_mtm_for_one_contract_is_exactly_one_conflict(
        self, runtime: Any, price_source: InMemoryPriceSource
    ) -> None:
        load_book(runtime)
        price_source.add("p.csv", prices_csv(("LME-AL", D1, "2563.50"), ("LME-CU", D1, "10012.25")))
        nightly(runtime)
        before = snapshot_values(runtime)
        # A more trusted source ("a_vendor" sorts before "vendor_csv", both FIRM) now has
        # another LME-CU price: the one CU contract values differently on a rerun.
        other = InMemoryPriceSource(name="a_vendor", now=price_source.now)
        other.add("q.csv", prices_csv(("LME-CU", D1, "10020.00")))
        object.__setattr__(runtime, "price_sources", [price_source, other])
        summary = nightly(runtime)
        with runtime.uow() as uow:
            mtm = uow.session.scalar(select(BatchRun).where(BatchRun.job == "mtm", BatchRun.attempt == 2))
            conflict = uow.session.scalars(select(IdempotencyConflict)).one()
            assert (mtm.conflicts, mtm.existing, summary["status"]) == (1, 2, "completed_with_conflicts")
            assert conflict.table_name == "mtm_snapshots"
            # incoming: 75.5 * (10020.00 - 9990.00) = 2265.00; stored stays 1679.88
            assert (conflict.incoming_payload["mtm_value"], conflict.existing_payload["mtm_value"]) == (
                "2265",
                "1679.88",
            )
        assert snapshot_values(runtime) == before

    def test_every_step_is_in_the_ledger_and_audited(self, runtime: Any, price_source: InMemoryPriceSource) -> None:
        load_book(runtime)
        nightly(runtime)
        with runtime.uow() as uow:
            runs = [
                (r.id, r.job, r.status, r.trigger, r.parent_run_id, r.finished_at is not None)
                for r in uow.session.scalars(select(BatchRun).order_by(BatchRun.id))
            ]
            events = uow.session.scalars(select(AuditEvent.event_type)).all()
        nightly_id = runs[0][0]
        # LME-NI has no D-1 price: the prices and MTM steps, so the nightly, completed with exceptions
        assert [r[1:] for r in runs] == [
            ("nightly", "completed_with_exceptions", "manual", None, True),
            ("prices", "completed_with_exceptions", "manual", nightly_id, True),
            ("mtm", "completed_with_exceptions", "manual", nightly_id, True),
            ("effectiveness", "succeeded", "manual", nightly_id, True),
            ("postings", "succeeded", "manual", nightly_id, True),
        ]
        assert events.count("batch_run_started") == 5 and events.count("batch_run_finished") == 5
        assert events.count("contract_created") == 5
