"""Benchmark: the postings step on PostgreSQL, N relationships on one date.

    python benchmarks/postings.py [--relationships N] [--days D] [--chunk-size K]
                                  [--database-url URL] [--keep]

It seeds a throwaway database with benchmarks/effectiveness.py's book (untimed, reported):
N EURUSD forwards sold, N receivables, N cash flow designations and D weekday MTM snapshots
of each leg. Then it runs `hedgeops.postings.post_hedge_accounting_entries` for the last
date in-process (embedded Celery, the real task, ledger and write path: each relationship's
first entry, from the designation date's snapshots) and times it, then the same date again
(every entry already exists).

The reference, measured in the same run: the same N journal entry rows (built by the same
code, untimed) inserted into a copy of journal_entries (same columns and indexes, no
foreign keys) with one plain SQLAlchemy Core executemany INSERT, one transaction: no reads,
no rules, no idempotency, no Celery. Target: the run within 15 s for 10,000 relationships.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Run as `python benchmarks/postings.py`: sys.path[0] is benchmarks/, so its siblings import bare.
from benchkit import ADMIN_URL, best_insert, headline, judged, scratch_database  # noqa: E402
from effectiveness import FIRST_DAY, seed, weekdays  # noqa: E402

from db.engine import engine_for, session_factory  # noqa: E402
from db.hedging.journal_models import JournalEntry  # noqa: E402
from db.writepath import result_row  # noqa: E402

TASK = "hedgeops.postings.post_hedge_accounting_entries"
TARGET_SECONDS = 15.0
COLUMNS = ("relationship_id", "kind", "as_of_date", "posting_date", "period", "reverses_key")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--relationships", type=int, default=10_000, help="relationships to post")
    parser.add_argument("--days", type=int, default=250, help="daily MTM snapshots per leg (the book's)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="HEDGEOPS_POSTINGS_CHUNK_SIZE")
    parser.add_argument("--database-url", default=ADMIN_URL, help="PostgreSQL URL scratch databases are made through")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def run_step(as_of: Any) -> tuple[float, dict[str, Any]]:
    from celery import signature

    from db import ledger
    from tasks.ports import ports
    from tasks.summary import run_summary

    started = time.perf_counter()
    summary = signature(TASK, kwargs={"as_of": as_of.isoformat(), "trigger": "manual"}).apply_async().get()
    wall = time.perf_counter() - started
    with ports().uow() as uow:
        return wall, run_summary(ledger.get_run(uow.session, summary["batch_run_id"]))


def time_reference(url: str) -> float:
    """The stored entries, rebuilt as the write path builds its rows (untimed), inserted with
    one executemany into a copy of the table (same indexes, no foreign keys); the least of
    three (benchkit.best_of)."""
    with session_factory(url)() as session:
        stored = list(session.scalars(select(JournalEntry)))
    rows = []
    for e in stored:
        row = result_row(e.idempotency_key, e.payload, {})
        values = {name: getattr(e, name) for name in COLUMNS}
        rows.append(
            {"idempotency_key": e.idempotency_key, **values, "payload": row.payload_json, "sha": row.sha256}
            | {"created_at": e.created_at}
        )
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE reference_entries (LIKE journal_entries INCLUDING ALL)"))
    statement = text(
        "INSERT INTO reference_entries (idempotency_key, relationship_id, kind, as_of_date, posting_date, period, "
        "reverses_key, payload, payload_sha256, batch_run_id, created_at) VALUES (:idempotency_key, "
        ":relationship_id, :kind, :as_of_date, :posting_date, :period, :reverses_key, CAST(:payload AS jsonb), "
        ":sha, NULL, :created_at)"
    )
    return best_insert(engine, "reference_entries", statement, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when both runs succeeded and the first is within the target."""
    args = parse_args(argv)
    days = weekdays(FIRST_DAY, args.days)
    from workers.celery_app import create_app
    from workers.settings import load_settings

    with scratch_database(args.database_url, args.keep) as url:
        seeding = seed(url, args.relationships, days)
        create_app(
            load_settings(
                database_url=url,
                broker_url=None,
                result_backend=None,
                log_level="WARNING",
                postings_chunk_size=args.chunk_size,
                nightly_enabled=False,
            )
        )
        first, summary = run_step(days[-1])
        again, rerun = run_step(days[-1])
        reference = time_reference(url)
    n = args.relationships
    print(
        f"postings benchmark: {n} relationships on {days[-1]} (effectiveness.py's book, {args.days} days: "
        f"{2 * n * args.days} snapshot rows), chunk size {args.chunk_size}, PostgreSQL, in-process; "
        f"seeding took {seeding:.1f} s (not measured)"
    )
    print(f"{'':<22}{'wall s':>8}{'per s':>9}{'x reference':>13}  status: counts")
    for label, wall, run in (("run (all new)", first, summary), ("rerun (all existing)", again, rerun)):
        counts = ", ".join(f"{k} {v}" for k, v in run["counts"].items())
        print(f"{label:<22}{wall:>8.2f}{n / wall:>9.0f}{wall / reference:>13.1f}  {run['status']}: {counts}")
    print(
        f"{'reference':<22}{reference:>8.2f}{n / reference:>9.0f}{1.0:>13.1f}  one executemany INSERT of the "
        "same entry rows into a copy of journal_entries"
    )
    headline("postings.run_over_reference", first / reference)
    headline("postings.rerun_over_reference", again / reference)
    met = judged(f"the run within {TARGET_SECONDS:.0f} s", first <= TARGET_SECONDS)
    ok = summary["status"] == rerun["status"] == "succeeded" and met
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
