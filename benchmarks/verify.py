"""Benchmark: `hedgeops verify` of a whole MTM date, on PostgreSQL.

    python benchmarks/verify.py --contracts N            # builds the date with mtm.py first (kept, then dropped)
    python benchmarks/verify.py --contracts N --embedded # builds it in this process (eager Celery)
    python benchmarks/verify.py --database NAME          # a database mtm.py --keep left (date 2026-11-20)

Runs the real command, `hedgeops verify --as-of 2026-11-20`, in a process of its own and
times it (wall, its CPU with its recomputing processes', the peak RSS of the largest of
them, the load average before it). It recomputes every snapshot with core, independently
of the SQL valuation path. The reference, in the same run: the rows verify reads (each
snapshot joined to its contract; the few price rows are read apart) streamed by psycopg
alone, the floor of reading them (the least of three under a
second). Target (issue 23): the 1,000,000-contract date in 60 s.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from benchkit import (
    ADMIN_URL,
    drop_database,
    floor_of,
    headline,
    judged,
    migrated_template,
    throwaway_database,
    worker_env,
)
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
HEDGEOPS = Path(sys.executable).with_name("hedgeops")
AS_OF = "2026-11-20"
LIMIT_S_PER_MILLION = 60.0
READ = (
    "SELECT s.idempotency_key, s.payload::text, s.payload_sha256, s.price_date, s.price_id, c.id, c.contract_ref, "
    "c.instrument, c.underlying, c.side, c.quantity, c.unit, c.entry_price, c.currency, c.trade_date, "
    "c.maturity_date, c.status, c.settlement_method "
    "FROM mtm_snapshots s JOIN hedge_contracts c ON c.id = s.object_id "
    "WHERE s.as_of_date = %s AND s.object_type = 'hedge_contract' AND c.instrument = 'commodity_forward' ORDER BY s.id"
)


def built_database(contracts: int) -> str:
    """A date of `contracts` snapshots, made by mtm.py --keep (without its COPY floors, which
    verify does not read): the pipeline database's name."""
    done = subprocess.run(
        [sys.executable, str(HERE / "mtm.py"), "--contracts", str(contracts), "--keep", "--floors", ""],
        capture_output=True,
        text=True,
        check=True,
    )
    kept = re.findall(r"kept (.+?) database (\S+)", done.stdout)
    for purpose, name in kept:
        if purpose != "pipeline":
            drop_database(ADMIN_URL, make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    return next(name for purpose, name in kept if purpose == "pipeline")


def embedded_database(admin_url: str, contracts: int) -> str:
    """A date of `contracts` snapshots, seeded as mtm.py seeds it and valued by the real MTM
    task in this process (eager Celery: no worker to start): the database's name."""
    from celery import signature
    from mtm import MTM_TASK, seed

    from db.engine import dispose_all
    from workers.celery_app import create_app
    from workers.settings import load_settings

    url = throwaway_database(admin_url, template=migrated_template(admin_url))
    try:
        seed(url, contracts)
        create_app(load_settings(database_url=url, broker_url=None, result_backend=None, log_level="WARNING"))
        signature(MTM_TASK, kwargs={"as_of": AS_OF, "trigger": "manual"}).apply_async().get()
        dispose_all()
    except BaseException:
        drop_database(admin_url, url)
        raise
    return str(make_url(url).database)


def read_floor(url: str) -> tuple[float, int]:
    """Seconds to stream what verify reads (once, or the least of three under a second:
    benchkit.floor_of), and the number of rows."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    rows = 0

    def once() -> float:
        nonlocal rows
        started, rows = time.perf_counter(), 0
        with psycopg.connect(dsn) as conn, conn.cursor(name="floor") as cur:
            cur.itersize = 5000
            cur.execute(READ, (AS_OF,))
            for _ in cur:
                rows += 1
        return time.perf_counter() - started

    return floor_of(once), rows


def run_verify(url: str) -> tuple[float, float, str, int]:
    """(wall s, CPU s of the command and its processes, its last line, exit code)."""
    env = worker_env({"database_url": url, "log_level": "WARNING"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([str(HEDGEOPS), "verify", "--as-of", AS_OF], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, (done.stdout.strip().splitlines() or [""])[-1], done.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--database", help="a kept mtm.py database (not dropped)")
    parser.add_argument("--database-url", default=ADMIN_URL)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--embedded", action="store_true", help="build the date in this process (eager Celery), not with mtm.py"
    )
    opts = parser.parse_args(argv)
    name = opts.database or (
        embedded_database(opts.database_url, opts.contracts) if opts.embedded else built_database(opts.contracts)
    )
    url = make_url(opts.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        floor, rows = read_floor(url)
        print(f"verify: {rows} commodity snapshots of {AS_OF}; reference: streaming them {floor:.2f} s")
        ok = True
        for run in range(1, opts.runs + 1):
            load = os.getloadavg()[0]
            wall, cpu, line, code = run_verify(url)
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest process so far
            print(
                f"run {run}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MiB, load {load:.2f}, "
                f"exit {code}: {line}"
            )
            headline("verify.wall_over_read", wall / floor)
            limit = LIMIT_S_PER_MILLION * max(rows, 1) / 1_000_000
            target = f"{LIMIT_S_PER_MILLION:.0f} s per million snapshots: {limit:.2f} s at {rows} ({wall:.2f} s)"
            ok = ok and code == 0 and judged(target, wall <= limit)
    finally:
        if not opts.database:
            drop_database(opts.database_url, url)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
