"""The schema: Alembic migrations agree with the models; append-only tables on PostgreSQL;
decimals are exact on both databases."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from db.engine import session_factory
from db.models import AuditEvent, Base, HedgeContract

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)


def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_decimals_come_back_exact(db_url: str) -> None:
    value = Decimal("123456789012345678.123456")  # beyond a float's 15-16 digits
    with session_factory(db_url)() as s:
        s.add(HedgeContract(contract_ref="X", instrument="commodity_forward", underlying="LME-AL", side="buy",
                            quantity=value, unit="mt", entry_price=Decimal("0.000001"), currency="USD",
                            trade_date=date(2026, 1, 1), maturity_date=date(2026, 2, 1), status="active",
                            created_at=NOW, updated_at=NOW))
        s.commit()
        row = s.scalars(select(HedgeContract)).one()
        assert row.quantity == value
        assert row.entry_price == Decimal("0.000001")


@pytest.mark.parametrize("table", ["mtm_snapshots", "audit_events"])
class TestAppendOnlyOnPostgres:
    def _one_row(self, pg_url: str, table: str) -> None:
        with session_factory(pg_url)() as s:
            if table == "audit_events":
                s.add(AuditEvent(event_type="test", entity_type="t", entity_id="1", actor="test", details={},
                                 occurred_at=NOW))
            else:
                s.execute(text(
                    "INSERT INTO settlement_prices (idempotency_key, symbol, price_date, price, currency, unit, "
                    "price_type, source, confidence, fetched_at, payload, payload_sha256, created_at) VALUES "
                    "('k', 'LME-AL', '2026-11-19', 1, 'USD', 'mt', 'cash_settlement', 't', 'FIRM', now(), '{}', 'x', now())"))
                s.execute(text(
                    "INSERT INTO mtm_snapshots (idempotency_key, object_type, object_id, as_of_date, price_date, "
                    "price_id, mtm_value, price_d1, entry_price, quantity_mt, currency, payload, payload_sha256, "
                    "created_at) SELECT 'm', 'hedge_contract', 1, '2026-11-20', '2026-11-19', id, 1, 1, 1, 1, "
                    "'USD', '{}', 'x', now() FROM settlement_prices"))
            s.commit()

    def test_update_is_refused(self, pg_url: str, table: str) -> None:
        self._one_row(pg_url, table)
        engine = create_engine(pg_url)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET created_at = now()" if table == "mtm_snapshots"
                              else f"UPDATE {table} SET actor = 'someone'"))
        engine.dispose()

    def test_truncate_is_refused(self, pg_url: str, table: str) -> None:
        self._one_row(pg_url, table)
        engine = create_engine(pg_url)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
        engine.dispose()

    def test_delete_is_refused(self, pg_url: str, table: str) -> None:
        self._one_row(pg_url, table)
        engine = create_engine(pg_url)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
        with engine.connect() as conn:
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 1
        engine.dispose()
