"""Real services for tests: PostgreSQL and Redis. Outside CI a missing service skips the
tests that need it; in CI (CI=true) it fails them: nothing that needs a service may skip."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("HEDGEOPS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HEDGEOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def missing(service: str, why: object) -> None:
    message = f"{service} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; in CI every service must run", pytrace=False)
    pytest.skip(message)


def create_pg_database() -> str:
    """A throwaway database for this test run; returns its URL."""
    name = f"hedgeops_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no PostgreSQL"
        missing("PostgreSQL", exc)
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def redis_client(url: str = REDIS_URL) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        missing("Redis", exc)
    return client
