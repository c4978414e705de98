"""The MT5 schema: results are append-only on PostgreSQL; migration 0003 goes down and up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from db.engine import dispose_all
from db.migrate import alembic_config, upgrade
from tests import services

MT5_TABLES = {"mt5_accounts", "expected_positions", "position_snapshots", "reconciliation_logs"}
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def one_row_each(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mt5_accounts (login, server, terminal, currency, policy, enabled, magic_numbers, "
                "credential_ref, created_at, updated_at) VALUES (5001, 'S', 't1', 'USD', 'default', true, '[]', "
                "'env:PW', now(), now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO position_snapshots (idempotency_key, account_id, login, sync_id, attempt, currency, "
                "synced_at, payload, payload_sha256, created_at) SELECT 'k', id, 5001, 1, 0, 'USD', now(), '{}', 'x', "
                "now() FROM mt5_accounts"
            )
        )
        conn.execute(
            text(
                "INSERT INTO reconciliation_logs (idempotency_key, account_id, login, sync_id, event_type, status, "
                "reason, symbol, details, payload, payload_sha256, created_at) SELECT 'k', id, 5001, 1, 'sync', "
                "'matched', 'matched', 'EURUSD', '{}', '{}', 'x', now() FROM mt5_accounts"
            )
        )
    engine.dispose()


@pytest.mark.parametrize("table", ["position_snapshots", "reconciliation_logs"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET login = 1", "DELETE FROM {table}"])
def test_results_are_append_only_on_postgres(pg_url: str, table: str, statement: str) -> None:
    one_row_each(pg_url)
    engine = create_engine(pg_url)
    with pytest.raises(DBAPIError, match=f"{table} is append-only"), engine.begin() as conn:
        conn.execute(text(statement.format(table=table)))
    with engine.connect() as conn:
        assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 1
    engine.dispose()


@pytest.fixture(params=["sqlite", "pg"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own (migrations run down here: the shared ones stay put)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = services.create_pg_database()
    yield url
    dispose_all()
    services.drop_pg_database(url)


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    found = set(inspect(engine).get_table_names())
    engine.dispose()
    return found


def test_migration_0003_goes_down_and_up_again(fresh_url: str) -> None:
    upgrade(fresh_url, "0003")
    assert MT5_TABLES <= tables(fresh_url)

    command.downgrade(alembic_config(fresh_url), "0002")
    assert not MT5_TABLES & tables(fresh_url)
    assert "batch_runs" in tables(fresh_url)

    upgrade(fresh_url, "0003")
    assert MT5_TABLES <= tables(fresh_url)
