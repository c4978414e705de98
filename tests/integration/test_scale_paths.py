"""The bulk paths at scale, on SQLite and PostgreSQL: key-range plans read by range, and
the write path's rerun settled in the database (created, existing, conflict)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.ledger import job_scope
from core.plans import KeyRange
from core.values import Job, Trigger, WriteOutcome
from db import ledger
from db.contracts import active_key_ranges, contracts_by_ids, contracts_in_range
from db.engine import session_factory
from db.models import HedgeContract, IdempotencyConflict, MtmSnapshot, SettlementPrice
from db.writepath import ResultRow, result_row, write_results
from tasks import runs
from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv, prices_csv
from tests.fakes import InMemoryPriceSource

NOW = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
AS_OF = date(2026, 11, 20)


def seed_book(n: int) -> None:
    """n active contracts C0..C(n-1) (ids 1..n)."""
    load_contracts_csv(contracts_csv(*(contract(f"C{i}", entry_price="2500") for i in range(n))), "c.csv")


class TestKeyRangePlans:
    def test_ranges_hold_every_active_contract_once_and_at_most_size_each(self, runtime: Any) -> None:
        seed_book(11)
        with runtime.uow() as uow:
            s = uow.session
            s.execute(update(HedgeContract).where(HedgeContract.id.in_([2, 3, 8])).values(status="settled"))
            ranges = active_key_ranges(s, 3)
            read = [[c.id for c in contracts_in_range(s, r)] for r in ranges]
        assert read == [[1, 4, 5], [6, 7, 9], [10, 11]]
        assert ranges[0] == KeyRange(1, 5) and ranges[-1] == KeyRange(10, 11)

    def test_no_active_contract_no_range(self, runtime: Any) -> None:
        with runtime.uow() as uow:
            assert active_key_ranges(uow.session, 1000) == []

    def test_old_plans_by_ids_read_the_same_contracts(self, runtime: Any) -> None:
        seed_book(5)
        with runtime.uow() as uow:
            by_ids = contracts_by_ids(uow.session, [2, 4, 5])
            by_range = contracts_in_range(uow.session, KeyRange(2, 5))
        assert [c.id for c in by_ids] == [2, 4, 5]
        assert [c for c in by_range if c.id in (2, 4, 5)] == by_ids

    def test_a_range_chunk_message_values_its_range_and_counts_once(
        self, runtime: Any, price_source: InMemoryPriceSource
    ) -> None:
        from tasks.prices import fetch_settlement_prices
        from tasks.valuation import compute_mtm_chunk

        seed_book(4)
        price_source.add("p.csv", prices_csv(("LME-AL", "2026-11-19", "2510")))
        fetch_settlement_prices.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
        begun = runs.begin(runtime, job_scope(Job.MTM, AS_OF), Trigger.MANUAL, task_id="plan")
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, begun.run_id)
            run.chunks_total = 2
            run.details = {"d1_policy": "business", "symbol_calendars": {}}
            uow.commit()
        message = {"run_id": begun.run_id, "chunk_no": 0, "first_id": 1, "last_id": 3}
        first = compute_mtm_chunk.apply(kwargs=message).get()
        again = compute_mtm_chunk.apply(kwargs=message).get()
        assert (first["counted"], first["created"], again["counted"], again["existing"]) == (True, 3, False, 3)
        compute_mtm_chunk.apply(kwargs={**message, "chunk_no": 1, "first_id": 4, "last_id": 4}).get()
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, begun.run_id)
            assert (run.chunks_done, run.created, run.status) == (2, 4, "succeeded")
            assert uow.session.scalar(select(func.count()).select_from(MtmSnapshot)) == 4


def price(i: int, value: str) -> ResultRow:
    day = date(2026, 11, 19)
    payload = {"symbol": f"S{i}", "price_date": day, "price": Decimal(value), "source": "test"}
    columns = {
        "symbol": f"S{i}",
        "price_date": day,
        "price": Decimal(value),
        "currency": "USD",
        "unit": "mt",
        "price_type": "cash_settlement",
        "source": "test",
        "confidence": "FIRM",
        "fetched_at": NOW,
    }
    return result_row(f"PRICE:S{i}:{day.isoformat()}:test", payload, columns)


class TestRerunInTheDatabase:
    """500 rows: the bulk form (COPY and one merge statement on PostgreSQL)."""

    @pytest.fixture
    def session(self, db_url: str) -> Any:
        with session_factory(db_url)() as s:
            yield s

    # Without the probe (a writer whose keys are new by construction: an MT5 sync's) the
    # merge alone tells the same outcomes when keys are stored after all.
    @pytest.mark.parametrize("probe", [True, False], ids=["probe", "no-probe"])
    def test_a_rerun_is_all_existing_and_a_changed_value_a_conflict(self, session: Session, probe: bool) -> None:
        rows = [price(i, f"{i + 1}.5") for i in range(500)]
        first = write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW, rerun_probe=probe)
        session.commit()
        again = write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW, rerun_probe=probe)
        changed = [*rows[:499], price(499, "1.25"), price(500, "7")]
        third = write_results(session, SettlementPrice, changed, batch_run_id=None, now=NOW, rerun_probe=probe)
        session.commit()
        assert set(first.outcomes) == {WriteOutcome.CREATED}
        assert set(again.outcomes) == {WriteOutcome.EXISTING}
        assert third.outcomes[-2:] == [WriteOutcome.CONFLICT, WriteOutcome.CREATED]
        assert set(third.outcomes[:499]) == {WriteOutcome.EXISTING}
        assert session.scalar(select(func.count()).select_from(IdempotencyConflict)) == 1
        assert session.scalar(select(func.count()).select_from(SettlementPrice)) == 501


class TestKeyStoredMeanwhile:
    """A COPY batch merged while another transaction stores one of its keys: ON CONFLICT
    waits for it, the merge's snapshot does not see it; the write path's second look (the
    one the SQL valuation's rows get too) settles it as existing or conflict."""

    @pytest.mark.parametrize(("value", "outcome"), [("1.5", WriteOutcome.EXISTING), ("9", WriteOutcome.CONFLICT)])
    def test_the_raced_key_is_settled_once(self, pg_url: str, value: str, outcome: WriteOutcome) -> None:
        import threading
        import time

        from sqlalchemy import text

        rows = [price(i, f"{i + 1}.5") for i in range(250)]  # the bulk form: COPY and one merge
        sessions = session_factory(pg_url)
        other, mine = sessions(), sessions()
        write_results(other, SettlementPrice, [price(0, value)], batch_run_id=None, now=NOW)  # not committed
        pid = mine.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        done: list[Any] = []
        worker = threading.Thread(
            target=lambda: done.append(write_results(mine, SettlementPrice, rows, batch_run_id=None, now=NOW))
        )
        worker.start()
        deadline = time.monotonic() + 30
        while not other.execute(
            text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar():
            assert time.monotonic() < deadline, "the merge never waited for the other transaction"
            time.sleep(0.05)
        other.commit()
        worker.join(timeout=30)
        mine.commit()
        assert done and done[0].outcomes == [outcome] + [WriteOutcome.CREATED] * 249
        conflicts = mine.scalars(select(IdempotencyConflict.existing_payload)).all()
        assert [c["price"] for c in conflicts] == (["9"] if outcome is WriteOutcome.CONFLICT else [])
        assert mine.scalar(select(func.count()).select_from(SettlementPrice)) == 250
        other.close()
        mine.close()
