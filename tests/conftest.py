"""Fixtures: databases (SQLite file, PostgreSQL throwaway database) built by
`alembic upgrade head`, Redis, and an in-process (eager) runtime over them."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import create_engine, text

from db.engine import dispose_all
from db.migrate import upgrade
from db.schema import metadata
from tests import services
from tests.fakes import Clock, InMemoryPriceSource


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Each test ends with logging as it found it: a CLI command configures it for its
    process (a level, a handler on its captured stream), and a later test would log
    through that (structlog's filtering logger drops INFO under WARNING before
    capture_logs sees it; a handler writes to a closed stream)."""
    import logging

    import workers.logging as hedgeops_logging

    config, root = structlog.get_config(), logging.getLogger()
    handlers, level, configured = list(root.handlers), root.level, hedgeops_logging._configured
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
    hedgeops_logging._configured = configured


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    url = services.create_pg_database()
    upgrade(url)
    yield url
    dispose_all()
    services.drop_pg_database(url)


def truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        # Replica mode: the append-only triggers (they refuse TRUNCATE too) stand aside for the cleanup.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The run's PostgreSQL database, emptied before the test."""
    truncate_all(pg_database)
    return pg_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_all()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "hedgeops.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "pg"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def redis_url() -> str:
    services.redis_client().close()
    return services.REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own: test runs may share one Redis at once."""
    return f"hedgeops-test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def price_source(clock: Clock) -> InMemoryPriceSource:
    return InMemoryPriceSource(now=clock.now)


@pytest.fixture
def runtime(db_url: str, price_source: InMemoryPriceSource, clock: Clock, tmp_path: Path) -> Iterator[Any]:
    """An embedded (eager) Celery app over `db_url`, with the fake price source and clock:
    the shared bundle of ports (the hedging and MT5 bundles are their defaults)."""
    from core.mt5.accounts import CYCLE_FAMILY
    from tasks.hedging.ports import HedgingPorts
    from tasks.mt5.ports import Mt5Ports
    from tasks.ports import Ports, RunPolicy
    from workers.adapters.locks import NoRunLock
    from workers.bootstrap import Bundles, build_bundles, configure
    from workers.celery_app import create_app
    from workers.settings import load_settings

    settings = load_settings(
        database_url=db_url,
        broker_url=None,
        result_backend=None,
        price_drop_dir=tmp_path / "incoming",
        drop_settle_seconds=0,  # the tests write whole files, then fetch at once
        mtm_chunk_size=2,
    )
    create_app(settings)
    built = build_bundles(settings).shared
    shared = Ports(
        uow=built.uow,
        price_sources=[price_source],
        run_lock=NoRunLock(),
        d1_policy=built.d1_policy,
        chunk_size=settings.mtm_chunk_size,
        stale_after=built.stale_after,
        # MT5 cycles: the ledger alone (no cycle lock), stale after 10 minutes.
        family_policies={CYCLE_FAMILY: RunPolicy(None, timedelta(minutes=10))},
        clock=clock,
    )
    configure(Bundles(shared, HedgingPorts(), Mt5Ports()))
    yield shared
    dispose_all()


@pytest.fixture
def embedded_cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A CliRunner for `hedgeops` in embedded mode over `db_url`, with an empty drop folder."""
    from typer.testing import CliRunner

    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", db_url)
    monkeypatch.setenv("HEDGEOPS_PRICE_DROP_DIR", str(tmp_path / "incoming"))
    monkeypatch.setenv("HEDGEOPS_DROP_SETTLE_SECONDS", "0")  # whole files, fetched at once
    monkeypatch.delenv("HEDGEOPS_BROKER_URL", raising=False)
    monkeypatch.setenv("HEDGEOPS_LOG_LEVEL", "WARNING")
    (tmp_path / "incoming").mkdir(exist_ok=True)
    return CliRunner()
