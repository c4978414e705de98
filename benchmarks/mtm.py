"""Benchmark: the nightly MTM of N commodity contracts on PostgreSQL with a real worker.

    python benchmarks/mtm.py [--contracts N] [--chunk-size K] [--concurrency C]
                             [--database-url URL] [--redis-url URL] [--keep]

It makes a throwaway database, seeds N active contracts and their D-1 prices (timed
apart), starts `celery worker -Q prices,valuation -c C`, triggers
`hedgeops.valuation.compute_mtm_snapshots` for 2026-11-20 and times it from the trigger to
the end of its batch_runs row; then the same date again (every snapshot already exists).

The floor, measured in the same run after the worker has stopped: the snapshot rows the
pipeline wrote (read back, untimed) stored again into mtm_snapshots of a fresh throwaway
database in one transaction by COPY: same table, indexes and trigger, but no valuation,
no idempotency, no Celery. Runs print their wall time as a multiple of it. A plain
SQLAlchemy Core executemany INSERT of the same rows is printed too.

Each run also prints the CPU seconds the worker's processes and the database's backends
spent, and what the rest of the machine spent meanwhile ("other": a busy machine makes
the wall time mean less; the CPU seconds hold).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis

# Run as `python benchmarks/mtm.py`: sys.path[0] is benchmarks/, so its sibling imports bare.
from benchkit import (
    ADMIN_URL,
    backend_pids,
    cpu_seconds,
    cpu_spent,
    machine_busy_seconds,
    peak_rss_mib,
    process_tree,
    scratch_database,
    start_celery_worker,
    stop_worker,
    worker_env,
)
from celery import Celery, signature
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, insert, select

from core.ports import PriceBatch
from core.prices import PriceRow
from core.values import ContractStatus, Instrument, ParseReport, PriceType, Side
from db import ledger
from db.engine import engine_for, session_factory
from db.models import BatchRun, HedgeContract, MtmSnapshot
from db.prices import write_price_batch
from tasks.summary import run_summary
from workers.celery_app import create_app
from workers.settings import load_settings

REDIS_URL = "redis://127.0.0.1:6379/13"
AS_OF, PRICE_DATE = date(2026, 11, 20), date(2026, 11, 19)
#: D-1 settlement prices (USD/mt) and the entry prices the seeded contracts scatter around.
PRICES = {"LME-AL": Decimal("2510.125"), "LME-CU": Decimal("9875.5"),
          "LME-ZN": Decimal("2998.25"), "LME-NI": Decimal("15420.75")}
MTM_TASK = "hedgeops.valuation.compute_mtm_snapshots"


@dataclass(frozen=True, slots=True)
class Options:
    """The command line: see `--help`."""

    contracts: int
    chunk_size: int
    concurrency: int
    database_url: str
    redis_url: str
    keep: bool
    timeout: float


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One timed MTM run: wall seconds from the trigger to the end of its ledger row, and
    the CPU seconds the worker's processes and the database's backends spent meanwhile."""

    label: str
    wall: float
    summary: dict[str, Any]
    chunks: int
    worker_cpu: float
    database_cpu: float
    machine_cpu: float

    @property
    def other_cpu(self) -> float:
        """CPU the rest of the machine spent meanwhile (this process, other jobs): noise."""
        return max(0.0, self.machine_cpu - self.worker_cpu - self.database_cpu)

    @property
    def per_second(self) -> float:
        """Contracts processed (snapshots and exceptions) per second of wall time."""
        return float(self.summary["counts"]["processed"]) / self.wall


def parse_args(argv: Sequence[str] | None) -> Options:
    """The options of the command line (`argv` None: sys.argv)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contracts", type=int, default=100_000, help="active contracts to value")
    parser.add_argument("--chunk-size", type=int, default=1000, help="HEDGEOPS_MTM_CHUNK_SIZE")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (celery -c)")
    parser.add_argument("--database-url", default=ADMIN_URL,
                        help="PostgreSQL URL the scratch databases are created through")
    parser.add_argument("--redis-url", default=REDIS_URL, help="a Redis database of its own: it is flushed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one run")
    args = parser.parse_args(argv)
    return Options(args.contracts, args.chunk_size, args.concurrency, args.database_url, args.redis_url,
                   args.keep, args.timeout)


# -- seeds -------------------------------------------------------------------------------------

def contract_values(n: int, now: datetime) -> list[dict[str, Any]]:
    """N active commodity forwards over four metals, one in three a sell, varied sizes."""
    symbols = list(PRICES)
    rows = []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        rows.append({
            "contract_ref": f"BENCH-{i:07d}", "instrument": Instrument.COMMODITY_FORWARD.value,
            "underlying": symbol, "side": (Side.SELL if i % 3 == 0 else Side.BUY).value,
            "quantity": Decimal(5 + i % 50), "unit": "mt",
            "entry_price": PRICES[symbol] + Decimal(i % 200 - 100) / 4, "currency": "USD",
            "trade_date": date(2026, 10, 1), "maturity_date": date(2027, 3, 17),
            "status": ContractStatus.ACTIVE.value, "created_at": now, "updated_at": now,
        })
    return rows


def price_batch(now: datetime) -> PriceBatch:
    """The D-1 cash settlement prices of PRICES as one vendor file would bring them."""
    rows = [(line, PriceRow(symbol=symbol, price_date=PRICE_DATE, price=value, currency="USD", unit="mt",
                            price_type=PriceType.CASH_SETTLEMENT))
            for line, (symbol, value) in enumerate(PRICES.items(), start=2)]
    return PriceBatch(source="vendor_csv", report=ParseReport("bench_prices.csv", rows), fetched_at=now)


def seed_prices(url: str) -> None:
    """The D-1 prices, through the write path like a price fetch writes them."""
    with session_factory(url)() as session:
        write_price_batch(session, price_batch(datetime.now(timezone.utc)), batch_run_id=None,
                          now=datetime.now(timezone.utc))
        session.commit()


def seed(url: str, n: int) -> float:
    """Contracts (one bulk executemany INSERT) and prices; returns the seconds it took."""
    started = time.perf_counter()
    with engine_for(url).begin() as conn:
        conn.execute(insert(HedgeContract), contract_values(n, datetime.now(timezone.utc)))
    seed_prices(url)
    return time.perf_counter() - started


# -- the worker --------------------------------------------------------------------------------

def hedgeops_settings(opts: Options, url: str) -> dict[str, str]:
    """The settings the worker and this process share (as keyword arguments of Settings)."""
    return {"database_url": url, "broker_url": opts.redis_url, "result_backend": opts.redis_url,
            "mtm_chunk_size": str(opts.chunk_size), "nightly_enabled": "false", "log_level": "WARNING"}


def start_worker(opts: Options, url: str, node: str, log: Path) -> subprocess.Popen[bytes]:
    """`celery worker` in a process group of its own, so it can be stopped with its pool."""
    env = worker_env(hedgeops_settings(opts, url))
    return start_celery_worker("prices,valuation", opts.concurrency, node, env, log)


def wait_ready(app: Celery, proc: subprocess.Popen[bytes], node: str, log: Path) -> None:
    """Until the worker answers a ping; its log's tail if it exits or stays silent."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if app.control.ping(destination=[node], timeout=0.5):
            return
    raise RuntimeError(f"worker never answered a ping:\n{log.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def running_worker(opts: Options, url: str, app: Celery) -> Iterator[subprocess.Popen[bytes]]:
    """A ready worker for the duration of the block; stopped however the block ends."""
    tag = uuid.uuid4().hex[:6]
    node, log = f"bench-mtm-{tag}@localhost", Path(tempfile.gettempdir()) / f"hedgeops-bench-mtm-{tag}.log"
    proc = start_worker(opts, url, node, log)
    try:
        wait_ready(app, proc, node, log)
        yield proc
    finally:
        stop_worker(proc)
        print(f"worker log: {log}")


# -- timed runs ------------------------------------------------------------------------------

def run_of_task(url: str, task_id: str, timeout: float) -> int:
    """The id of the batch run the MTM task `task_id` started (read from the ledger, so the
    benchmark needs nothing of the result backend)."""
    deadline = time.monotonic() + timeout
    with session_factory(url)() as session:
        while (run_id := session.scalar(select(BatchRun.id).where(BatchRun.task_id == task_id))) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} started no run within {timeout:g} s")
            session.rollback()
            time.sleep(0.05)
    return run_id


def wait_run(url: str, run_id: int, timeout: float) -> tuple[dict[str, Any], int]:
    """The run's summary and chunk count once it has ended."""
    deadline = time.monotonic() + timeout
    factory = session_factory(url)
    while True:
        with factory() as session:
            run = ledger.get_run(session, run_id)
            summary, chunks = run_summary(run), run.chunks_total
        if summary["status"] != "running":
            return summary, chunks
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still running after {timeout:g} s: {summary}")
        time.sleep(0.1)


def cpu_now(url: str, worker_pid: int) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds so far of the worker's processes and of the database's backends."""
    return cpu_seconds(process_tree([worker_pid])), cpu_seconds(backend_pids(url))


def timed_run(url: str, label: str, timeout: float, worker_pid: int) -> RunFigures:
    """Trigger the MTM of AS_OF and wait for its ledger row to end."""
    worker_before, database_before = cpu_now(url, worker_pid)
    machine_before, started = machine_busy_seconds(), time.perf_counter()
    task_id = signature(MTM_TASK, kwargs={"as_of": AS_OF.isoformat(), "trigger": "manual"}).apply_async().id
    summary, chunks = wait_run(url, run_of_task(url, task_id, timeout), timeout)
    wall, machine = time.perf_counter() - started, machine_busy_seconds() - machine_before
    worker_after, database_after = cpu_now(url, worker_pid)
    return RunFigures(label, wall, summary, chunks, cpu_spent(worker_before, worker_after),
                      cpu_spent(database_before, database_after), machine)


# -- the floor -------------------------------------------------------------------------------

def written_snapshots(url: str) -> list[dict[str, Any]]:
    """The snapshot rows the pipeline wrote, as the floor stores them again: every column
    but the id, and no batch run (the floor's database has none)."""
    columns = [c for c in MtmSnapshot.__table__.columns if c.name != "id"]
    with engine_for(url).connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(*columns).order_by(MtmSnapshot.id))]
    return [{**row, "batch_run_id": None} for row in rows]


def copy_rows(conn: Connection, values: list[dict[str, Any]]) -> None:
    """COPY the rows into mtm_snapshots (the payload goes as jsonb, serialised here)."""
    columns = list(values[0])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY mtm_snapshots ({', '.join(columns)}) FROM STDIN") as copy:
        for value in values:
            copy.write_row([Jsonb(v) if k == "payload" else v for k, v in value.items()])


def insert_rows(conn: Connection, values: list[dict[str, Any]]) -> None:
    """One SQLAlchemy Core executemany INSERT into mtm_snapshots."""
    conn.execute(insert(MtmSnapshot), values)


#: The floors: the same N snapshot rows stored without valuation, idempotency or Celery.
#: The first is the one the runs are compared with.
REFERENCES: dict[str, Callable[[Connection, list[dict[str, Any]]], None]] = {
    "COPY": copy_rows,
    "executemany INSERT": insert_rows,
}


def time_reference(opts: Options, name: str, values: list[dict[str, Any]]) -> float:
    """Seconds to store the rows in a fresh database by one method, in one transaction."""
    with scratch_database(opts.database_url, opts.keep, f"reference ({name})") as url:
        seed_prices(url)  # a fresh database numbers the prices as the pipeline's did
        started = time.perf_counter()
        with engine_for(url).begin() as conn:
            REFERENCES[name](conn, values)
        return time.perf_counter() - started


# -- report ----------------------------------------------------------------------------------

ROW = "{:<30}{:>8}{:>9}{:>13}{:>14}{:>18}{:>13}  {}"


def print_run(run: RunFigures, reference: float) -> None:
    """One line of the table: a run's figures and its wall time over the floor's."""
    counts = ", ".join(f"{k} {v}" for k, v in run.summary["counts"].items())
    print(ROW.format(run.label, f"{run.wall:.2f}", f"{run.per_second:.0f}", f"{run.wall / reference:.1f}",
                     f"{run.worker_cpu:.1f}", f"{run.database_cpu:.1f}", f"{run.other_cpu:.1f}",
                     f"{run.summary['status']}: {counts}"))


def print_report(opts: Options, pipeline: Pipeline, references: dict[str, float]) -> None:
    """The table: both runs and the references, then the worker's peak memory."""
    runs, rss = pipeline.runs, pipeline.peak_rss
    print(f"MTM benchmark: {opts.contracts} contracts, chunk size {opts.chunk_size} ({runs[0].chunks} chunks), "
          f"worker concurrency {opts.concurrency}, {os.cpu_count()} CPUs; "
          f"seeding took {pipeline.seeding:.2f} s (not measured)")
    print(ROW.format("", "wall s", "per s", "x reference", "CPU s worker", "CPU s PostgreSQL", "CPU s other",
                     "status: counts"))
    floor = references[next(iter(REFERENCES))]
    for run in runs:
        print_run(run, floor)
    for name, seconds in references.items():
        print(ROW.format(f"reference: {name}", f"{seconds:.2f}", f"{len(pipeline.snapshots) / seconds:.0f}",
                         f"{seconds / floor:.1f}", "", "", "", f"the {len(pipeline.snapshots)} snapshot rows written "
                         "above, again, into a fresh database, one transaction"))
    if rss:
        pool = ", ".join(f"{mib:.0f}" for mib in rss[1:])
        print(f"worker peak RSS (VmHWM): main {rss[0]:.0f} MiB, pool processes {pool} MiB")


@dataclass(frozen=True, slots=True)
class Pipeline:
    """What the pipeline's part of the benchmark found."""

    seeding: float
    runs: list[RunFigures]
    peak_rss: list[float]
    snapshots: list[dict[str, Any]]


def measure_pipeline(opts: Options) -> Pipeline:
    """Seed, start the worker, time a first run and a rerun; keep what they wrote."""
    with scratch_database(opts.database_url, opts.keep, "pipeline") as url:
        seeding = seed(url, opts.contracts)
        app = create_app(load_settings(**hedgeops_settings(opts, url)))
        with running_worker(opts, url, app) as worker:
            runs = [timed_run(url, "run (all new)", opts.timeout, worker.pid),
                    timed_run(url, "rerun (all existing)", opts.timeout, worker.pid)]
            rss = peak_rss_mib(process_tree([worker.pid]))
        return Pipeline(seeding, runs, rss, written_snapshots(url))


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when both runs succeeded; the figures are printed either way."""
    opts = parse_args(argv)
    redis.Redis.from_url(opts.redis_url).flushdb()
    pipeline = measure_pipeline(opts)
    references = {name: time_reference(opts, name, pipeline.snapshots) for name in REFERENCES}
    print_report(opts, pipeline, references)
    return 0 if all(run.summary["status"] == "succeeded" for run in pipeline.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
