"""The write path on SQLite and PostgreSQL: created / existing / conflict, single and bulk."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.values import WriteOutcome
from db.engine import session_factory
from db.models import IdempotencyConflict, SettlementPrice
from db.writepath import ResultRow, result_row, write_result, write_results

NOW = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)


def price(symbol: str, value: str, day: date = date(2026, 11, 19)) -> ResultRow:
    payload = {"symbol": symbol, "price_date": day, "price": Decimal(value), "source": "test"}
    columns = {
        "symbol": symbol,
        "price_date": day,
        "price": Decimal(value),
        "currency": "USD",
        "unit": "mt",
        "price_type": "cash_settlement",
        "source": "test",
        "confidence": "FIRM",
        "fetched_at": NOW,
    }
    return result_row(f"PRICE:{symbol}:{day.isoformat()}:test", payload, columns)


@pytest.fixture
def session(db_url: str) -> Session:
    with session_factory(db_url)() as s:
        yield s


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


class TestSingleWrite:
    def test_new_key_is_created_then_existing(self, session: Session) -> None:
        assert (
            write_result(session, SettlementPrice, price("LME-AL", "2563.5"), batch_run_id=None, now=NOW)
            is WriteOutcome.CREATED
        )
        session.commit()
        again = price("LME-AL", "2563.500000")  # same value, other exponent: the same payload
        assert write_result(session, SettlementPrice, again, batch_run_id=None, now=NOW) is WriteOutcome.EXISTING
        session.commit()
        assert count(session, SettlementPrice) == 1
        assert count(session, IdempotencyConflict) == 0

    def test_other_payload_is_a_conflict_and_overwrites_nothing(self, session: Session) -> None:
        write_result(session, SettlementPrice, price("LME-AL", "2563.50"), batch_run_id=None, now=NOW)
        session.commit()
        outcome = write_result(session, SettlementPrice, price("LME-AL", "2570.00"), batch_run_id=None, now=NOW)
        session.commit()
        assert outcome is WriteOutcome.CONFLICT
        stored = session.scalars(select(SettlementPrice)).one()
        assert stored.price == Decimal("2563.50")
        conflict = session.scalars(select(IdempotencyConflict)).one()
        assert conflict.table_name == "settlement_prices"
        assert conflict.idempotency_key == "PRICE:LME-AL:2026-11-19:test"
        assert conflict.existing_payload["price"] == "2563.5"
        assert conflict.incoming_payload["price"] == "2570"
        assert conflict.existing_sha256 != conflict.incoming_sha256

    def test_the_same_conflict_twice_is_recorded_once(self, session: Session) -> None:
        write_result(session, SettlementPrice, price("LME-AL", "1"), batch_run_id=None, now=NOW)
        for _ in range(2):
            assert (
                write_result(session, SettlementPrice, price("LME-AL", "2"), batch_run_id=None, now=NOW)
                is WriteOutcome.CONFLICT
            )
        session.commit()
        assert count(session, IdempotencyConflict) == 1


class TestBulkWrite:
    def test_thousands_of_rows_in_one_call(self, session: Session) -> None:
        rows = [price(f"SYM{i}", f"{i + 1}.25") for i in range(3000)]
        report = write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW)
        session.commit()
        assert report.counts().created == 3000
        assert count(session, SettlementPrice) == 3000

    def test_mixed_batch_says_what_became_of_each_row_in_order(self, session: Session) -> None:
        write_results(session, SettlementPrice, [price("A", "1"), price("B", "2")], batch_run_id=None, now=NOW)
        session.commit()
        rows = [price("A", "1"), price("C", "3"), price("B", "2.5"), price("D", "4")]
        report = write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW)
        session.commit()
        assert report.outcomes == [
            WriteOutcome.EXISTING,
            WriteOutcome.CREATED,
            WriteOutcome.CONFLICT,
            WriteOutcome.CREATED,
        ]
        assert report.conflict_keys == ["PRICE:B:2026-11-19:test"]
        counts = report.counts()
        assert (counts.processed, counts.created, counts.existing, counts.conflicts) == (4, 2, 1, 1)
        assert session.scalar(select(SettlementPrice.price).where(SettlementPrice.symbol == "B")) == Decimal("2")

    def test_a_key_twice_in_one_batch(self, session: Session) -> None:
        rows = [price("A", "1"), price("A", "1"), price("A", "9")]
        report = write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW)
        session.commit()
        assert report.outcomes == [WriteOutcome.CREATED, WriteOutcome.EXISTING, WriteOutcome.CONFLICT]
        assert count(session, SettlementPrice) == 1
        assert count(session, IdempotencyConflict) == 1

    def test_rerun_of_a_bulk_batch_is_all_existing(self, session: Session) -> None:
        rows = [price(f"S{i}", "10") for i in range(1200)]
        write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW)
        session.commit()
        report = write_results(session, SettlementPrice, rows, batch_run_id=None, now=NOW)
        session.commit()
        assert report.counts().existing == 1200
        assert count(session, SettlementPrice) == 1200

    def test_nothing_is_written_when_the_unit_of_work_rolls_back(self, session: Session) -> None:
        write_results(session, SettlementPrice, [price("A", "1")], batch_run_id=None, now=NOW)
        session.rollback()
        assert count(session, SettlementPrice) == 0


class TestCopyNew:
    """PostgreSQL's bulk form with `copy_new`: a part none of whose keys is stored is COPYed
    straight into the table; a key stored after the probe sends the part to the merge."""

    def test_new_rows_are_created_then_existing_then_conflicts(self, pg_url: str) -> None:
        rows = [price(f"LME-C{i}", f"{100 + i}.5") for i in range(300)]
        with session_factory(pg_url)() as s:
            first = write_results(s, SettlementPrice, rows, batch_run_id=None, now=NOW, copy_new=True)
            again = write_results(s, SettlementPrice, rows, batch_run_id=None, now=NOW, copy_new=True)
            changed = [price(f"LME-C{i}", f"{200 + i}.5") for i in range(300)]
            third = write_results(s, SettlementPrice, changed, batch_run_id=None, now=NOW, copy_new=True)
            s.commit()
            assert (first.counts().created, again.counts().existing, third.counts().conflicts) == (300, 300, 300)
            assert count(s, SettlementPrice) == 300

    def test_a_key_stored_after_the_probe_sends_the_part_to_the_merge(self, pg_url: str) -> None:
        from db.writepath import _copy_new

        rows = [price(f"LME-K{i}", "7.5") for i in range(300)]
        with session_factory(pg_url)() as other:
            write_results(other, SettlementPrice, rows[150:151], batch_run_id=None, now=NOW)
            other.commit()
        with session_factory(pg_url)() as s:
            assert _copy_new(s.connection(), SettlementPrice, rows, None, NOW) is False
            assert count(s, SettlementPrice) == 1  # the savepoint rolled back, the transaction goes on
            report = write_results(s, SettlementPrice, rows, batch_run_id=None, now=NOW, copy_new=True)
            s.commit()
            assert (report.counts().created, report.counts().existing) == (299, 1)
            assert count(s, SettlementPrice) == 300
