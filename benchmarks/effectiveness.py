"""Benchmark: the effectiveness step on PostgreSQL, N designations x D daily snapshots per leg.

    python benchmarks/effectiveness.py [--designations N] [--days D] [--chunk-size K]
                                       [--database-url URL] [--keep]

It makes a throwaway database and seeds it with SQL (untimed, reported): N EURUSD forwards,
N receivables, N designations (one in three each dollar offset, regression over the default
60-change window, critical terms) and D weekday MTM snapshots of each leg, 2 x N x D rows.
Then it runs `hedgeops.effectiveness.assess_hedge_effectiveness` for the last date in-process
(embedded Celery, the real task, ledger and write path) and times it, then the same date
again (every result already exists).

The reference, measured in the same run: the same N result rows (built by the same code,
untimed) inserted into a copy of effectiveness_results (same columns and indexes, no foreign
keys) with one plain SQLAlchemy Core executemany INSERT, one transaction: no reads, no
statistics, no idempotency, no Celery. The ratio says what the step costs over writing alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Run as `python benchmarks/effectiveness.py`: sys.path[0] is benchmarks/, so its sibling imports bare.
from benchkit import ADMIN_URL, best_insert, headline, scratch_database  # noqa: E402

from db.engine import engine_for, session_factory  # noqa: E402
from db.hedging.models import EffectivenessResult  # noqa: E402
from db.writepath import result_row  # noqa: E402

FIRST_DAY = date(2025, 1, 1)
TASK = "hedgeops.effectiveness.assess_hedge_effectiveness"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--designations", type=int, default=10_000, help="designations to test")
    parser.add_argument("--days", type=int, default=250, help="daily MTM snapshots per leg")
    parser.add_argument("--chunk-size", type=int, default=1000, help="HEDGEOPS_EFFECTIVENESS_CHUNK_SIZE")
    parser.add_argument("--database-url", default=ADMIN_URL, help="PostgreSQL URL scratch databases are made through")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def weekdays(first: date, count: int) -> list[date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


SEED = """
INSERT INTO settlement_prices (idempotency_key, symbol, price_date, price, currency, unit, price_type, source,
    confidence, fetched_at, payload, payload_sha256, created_at)
VALUES ('PRICE:EURUSD:bench', 'EURUSD', :first, 1.1, 'USD', 'EUR', 'reference', 'bench', 'REFERENCE', now(), '{}',
        'x', now());
INSERT INTO hedge_contracts (contract_ref, instrument, underlying, side, quantity, unit, entry_price, currency,
    trade_date, maturity_date, status, settlement_method, created_at, updated_at)
SELECT 'FXF-' || g, 'fx_forward', 'EURUSD', 'sell', 1000000 + g, 'EUR', 1.1, 'USD', :first, :expiry, 'active',
       'deliverable', now(), now() FROM generate_series(1, :n) g;
INSERT INTO hedged_items (item_ref, kind, underlying, amount, unit, currency, exposure_date, description, payload,
    payload_sha256, created_at)
SELECT 'RCV-' || g, 'receivable', 'EURUSD', (1000000 + g) * (1 + (g % 7 - 3) / 10.0), 'EUR', 'USD', :expiry,
       'bench', '{}', 'x', now() FROM generate_series(1, :n) g;
INSERT INTO hedge_relationships (designation_ref, contract_id, hedged_item_id, created_at)
SELECT 'HD-' || g, g, g, now() FROM generate_series(1, :n) g;
INSERT INTO hedge_designations (relationship_id, version, hedge_type, method, offset_basis, designation_date,
    hedge_ratio, band_min, band_max, materiality_floor, regression_window, min_observations, r_squared_min,
    p_value_max, maturity_tolerance_days, notional_tolerance, hedged_item_rate, oci_release_method, designated_by,
    approver_1, approver_2, documentation, snapshot, prospective_test, payload, payload_sha256, created_at)
SELECT g, 1, 'cash_flow', (ARRAY['dollar_offset', 'regression', 'critical_terms'])[g % 3 + 1], 'cumulative',
       :first, 1, 0.8, 1.25, 1000, 60, 20, 0.8, 0.05, 30, 0.05, 1.1, 'recycle_to_pnl', 'alice', 'bob', 'carol',
       '{}', '{}', '{}', '{}', 'x', now() FROM generate_series(1, :n) g;
"""

#: Both legs on every day: the forward H = -N (r - 1.1) and the receivable I = A (r - 1.1) plus noise, for a
#: EURUSD random walk r (bench_rates); A/N runs from 0.7 to 1.3, so some designations pass and some fail.
SNAPSHOTS = """
INSERT INTO mtm_snapshots (idempotency_key, object_type, object_id, as_of_date, price_date, price_id, mtm_value,
    price_d1, entry_price, quantity_mt, currency, payload, payload_sha256, created_at)
SELECT 'MTM:' || kind || ':' || g || ':' || r.day, kind, g, r.day, r.day, 1,
       round(CASE WHEN kind = 'hedge_contract' THEN -(1000000 + g) * (r.rate - 1.1)
             ELSE (1000000 + g) * (1 + (g % 7 - 3) / 10.0) * (r.rate - 1.1) + ((g * 31 + r.n * 17) % 1000 - 500)
             END, 2),
       r.rate, 1.1, 1000000 + g, 'USD', '{}', 'x', now()
FROM bench_rates r CROSS JOIN generate_series(1, :n) g CROSS JOIN (VALUES ('hedge_contract'), ('hedged_item')) k(kind)
"""


def seed(url: str, n: int, days: list[date]) -> float:
    started = time.perf_counter()
    rate, rates = Decimal("1.10"), []
    for i, day in enumerate(days):
        rate += Decimal((i * 7919) % 61 - 30) / 10000  # a deterministic walk of up to ±30 pips a day
        rates.append({"n": i, "day": day, "rate": rate})
    with engine_for(url).begin() as conn:
        for statement in SEED.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {"first": days[0], "expiry": days[-1] + timedelta(days=180), "n": n})
        conn.execute(text("CREATE TABLE bench_rates (n int, day date, rate numeric(24, 6))"))
        conn.execute(text("INSERT INTO bench_rates VALUES (:n, :day, :rate)"), rates)
        conn.execute(text(SNAPSHOTS), {"n": n})
        conn.execute(text("DROP TABLE bench_rates"))
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def run_step(as_of: date) -> tuple[float, dict[str, Any]]:
    from celery import signature

    from db import ledger
    from tasks.ports import ports
    from tasks.summary import run_summary

    started = time.perf_counter()
    summary = signature(TASK, kwargs={"as_of": as_of.isoformat(), "trigger": "manual"}).apply_async().get()
    wall = time.perf_counter() - started
    with ports().uow() as uow:
        return wall, run_summary(ledger.get_run(uow.session, summary["batch_run_id"]))


def outcomes(url: str) -> Counter[str]:
    with session_factory(url)() as session:
        return Counter(session.scalars(select(EffectivenessResult.outcome)))


def time_reference(url: str) -> float:
    """The stored results, rebuilt as the write path builds its rows (untimed), inserted
    with one executemany into a copy of the table (same indexes, no foreign keys); the least of
    three (benchkit.best_of)."""
    with session_factory(url)() as session:
        stored = list(session.scalars(select(EffectivenessResult)))
    rows = []
    for r in stored:
        row = result_row(r.idempotency_key, r.payload, {})
        rows.append(
            {
                "idempotency_key": r.idempotency_key,
                "relationship_id": r.relationship_id,
                "designation_id": r.designation_id,
                "version": r.version,
                "as_of_date": r.as_of_date,
                "method": r.method,
                "outcome": r.outcome,
                "ratio": r.ratio,
                "slope": r.slope,
                "r_squared": r.r_squared,
                "p_value": r.p_value,
                "n_observations": r.n_observations,
                "details": row.payload["details"],
                "payload": row.payload_json,
                "payload_sha256": row.sha256,
                "batch_run_id": None,
                "created_at": r.created_at,
            }
        )
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE reference_results (LIKE effectiveness_results INCLUDING ALL)"))
    statement = text(
        "INSERT INTO reference_results (idempotency_key, relationship_id, designation_id, version, as_of_date, "
        "method, outcome, ratio, slope, r_squared, p_value, n_observations, details, payload, payload_sha256, "
        "batch_run_id, created_at) VALUES (:idempotency_key, :relationship_id, :designation_id, :version, "
        ":as_of_date, :method, :outcome, :ratio, :slope, :r_squared, :p_value, :n_observations, "
        "CAST(:details AS jsonb), CAST(:payload AS jsonb), :payload_sha256, :batch_run_id, :created_at)"
    )
    for row in rows:
        row["details"] = json.dumps(row["details"])
    return best_insert(engine, "reference_results", statement, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when both runs succeeded; the figures are printed either way."""
    args = parse_args(argv)
    days = weekdays(FIRST_DAY, args.days)
    from workers.celery_app import create_app
    from workers.settings import load_settings

    with scratch_database(args.database_url, args.keep) as url:
        seeding = seed(url, args.designations, days)
        create_app(
            load_settings(
                database_url=url,
                broker_url=None,
                result_backend=None,
                log_level="WARNING",
                effectiveness_chunk_size=args.chunk_size,
                nightly_enabled=False,
            )
        )
        first, summary = run_step(days[-1])
        again, rerun = run_step(days[-1])
        tally = outcomes(url)
        reference = time_reference(url)
    n = args.designations
    print(
        f"effectiveness benchmark: {n} designations x {args.days} daily snapshots per leg "
        f"({2 * n * args.days} snapshot rows), chunk size {args.chunk_size}, PostgreSQL, in-process; "
        f"seeding took {seeding:.1f} s (not measured)"
    )
    print(f"{'':<22}{'wall s':>8}{'per s':>9}{'x reference':>13}  status: counts")
    for label, wall, run in (("run (all new)", first, summary), ("rerun (all existing)", again, rerun)):
        counts = ", ".join(f"{k} {v}" for k, v in run["counts"].items())
        print(f"{label:<22}{wall:>8.2f}{n / wall:>9.0f}{wall / reference:>13.1f}  {run['status']}: {counts}")
    print(
        f"{'reference':<22}{reference:>8.2f}{n / reference:>9.0f}{1.0:>13.1f}  one executemany INSERT of the "
        "same result rows into a copy of effectiveness_results"
    )
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    headline("effectiveness.run_over_reference", first / reference)
    headline("effectiveness.rerun_over_reference", again / reference)
    ok = summary["status"] == rerun["status"] == "succeeded"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
