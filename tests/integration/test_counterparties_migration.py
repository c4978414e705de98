"""Migration 0014 (counterparties) goes up and down on SQLite and PostgreSQL, keeping the
contracts stored before it (SQLite rebuilds hedge_contracts to add the column)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from db.engine import dispose_all
from db.migrate import alembic_config, upgrade
from tests import services

NEW_TABLES = {"counterparties", "counterparty_exposures"}
CONTRACT = (
    "INSERT INTO hedge_contracts (contract_ref, instrument, underlying, side, quantity, unit, entry_price, currency, "
    "trade_date, maturity_date, status, created_at, updated_at) VALUES ('HC-1', 'commodity_forward', 'LME-AL', "
    "'buy', '10.000000', 'mt', '2500.000000', 'USD', '2026-10-01', '2027-03-17', 'active', "
    "'2026-11-20 00:00:00+00:00', '2026-11-20 00:00:00+00:00')"
)


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


def shape(url: str) -> tuple[set[str], set[str], list[str]]:
    engine = create_engine(url)
    found = inspect(engine)
    tables = set(found.get_table_names())
    columns = {c["name"] for c in found.get_columns("hedge_contracts")}
    with engine.connect() as conn:
        refs = list(conn.scalars(text("SELECT contract_ref FROM hedge_contracts")))
    engine.dispose()
    return tables, columns, refs


def test_migration_0014_goes_down_and_up_again(fresh_url: str) -> None:
    upgrade(fresh_url, "0013")
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text(CONTRACT))
    engine.dispose()

    upgrade(fresh_url, "0014")
    tables, columns, refs = shape(fresh_url)
    assert NEW_TABLES <= tables and "counterparty_id" in columns and refs == ["HC-1"]

    command.downgrade(alembic_config(fresh_url), "0013")
    tables, columns, refs = shape(fresh_url)
    assert not NEW_TABLES & tables and "counterparty_id" not in columns and refs == ["HC-1"]

    upgrade(fresh_url, "0014")
    tables, columns, refs = shape(fresh_url)
    assert NEW_TABLES <= tables and "counterparty_id" in columns and refs == ["HC-1"]
