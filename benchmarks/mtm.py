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
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
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
from mtm_reference import REFERENCES, time_floor, time_sql_reference, written_snapshots
from mtm_report import Pipeline, RunFigures, print_report
from sqlalchemy import select

from core.ports import PriceBatch
from core.prices import PriceRow
from core.values import ContractStatus, Instrument, ParseReport, PriceType, Side
from db import ledger
from db.engine import engine_for, session_factory
from db.models import BatchRun
from db.prices import write_price_batch
from tasks.summary import run_summary
from workers.celery_app import create_app
from workers.settings import Settings, load_settings

REDIS_URL = "redis://127.0.0.1:6379/13"
AS_OF, PRICE_DATE = date(2026, 11, 20), date(2026, 11, 19)
#: D-1 settlement prices (USD/mt) and the entry prices the seeded contracts scatter around.
PRICES = {
    "LME-AL": Decimal("2510.125"),
    "LME-CU": Decimal("9875.5"),
    "LME-ZN": Decimal("2998.25"),
    "LME-NI": Decimal("15420.75"),
}
MTM_TASK = "hedgeops.valuation.compute_mtm_snapshots"


@dataclass(frozen=True, slots=True)
class Options:
    """The command line: see `--help`."""

    contracts: int
    chunk_size: int
    concurrency: int
    nodes: int
    database_url: str
    redis_url: str
    keep: bool
    timeout: float
    floors: tuple[str, ...]
    in_database: bool = True


def parse_args(argv: Sequence[str] | None) -> Options:
    """The options of the command line (`argv` None: sys.argv)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contracts", type=int, default=100_000, help="active contracts to value")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=Settings.model_fields["mtm_chunk_size"].default,
        help="HEDGEOPS_MTM_CHUNK_SIZE (default: the setting's)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes per node (celery -c)")
    parser.add_argument("--nodes", type=int, default=1, help="worker nodes (celery worker commands)")
    parser.add_argument(
        "--database-url", default=ADMIN_URL, help="PostgreSQL URL the scratch databases are created through"
    )
    parser.add_argument("--redis-url", default=REDIS_URL, help="a Redis database of its own: it is flushed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one run")
    parser.add_argument(
        "--floors", default=",".join(REFERENCES), help="the COPY floors to measure, comma-separated ('' for none)"
    )
    parser.add_argument(
        "--python-path",
        action="store_true",
        help="HEDGEOPS_MTM_IN_DATABASE=false: core values every contract in the worker",
    )
    args = parser.parse_args(argv)
    floors = tuple(f for f in args.floors.split(",") if f)
    if unknown := [f for f in floors if f not in REFERENCES]:
        parser.error(f"unknown floor {', '.join(unknown)} (known: {', '.join(REFERENCES)})")
    return Options(
        args.contracts,
        args.chunk_size,
        args.concurrency,
        args.nodes,
        args.database_url,
        args.redis_url,
        args.keep,
        args.timeout,
        floors,
        not args.python_path,
    )


# -- seeds -------------------------------------------------------------------------------------


def contract_values(n: int, now: datetime) -> list[dict[str, Any]]:
    """N active commodity forwards over four metals, one in three a sell, varied sizes."""
    symbols = list(PRICES)
    rows = []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        rows.append(
            {
                "contract_ref": f"BENCH-{i:07d}",
                "instrument": Instrument.COMMODITY_FORWARD.value,
                "underlying": symbol,
                "side": (Side.SELL if i % 3 == 0 else Side.BUY).value,
                "quantity": Decimal(5 + i % 50),
                "unit": "mt",
                "entry_price": PRICES[symbol] + Decimal(i % 200 - 100) / 4,
                "currency": "USD",
                "trade_date": date(2026, 10, 1),
                "maturity_date": date(2027, 3, 17),
                "status": ContractStatus.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def price_batch(now: datetime) -> PriceBatch:
    """The D-1 cash settlement prices of PRICES as one vendor file would bring them."""
    rows = [
        (
            line,
            PriceRow(
                symbol=symbol,
                price_date=PRICE_DATE,
                price=value,
                currency="USD",
                unit="mt",
                price_type=PriceType.CASH_SETTLEMENT,
            ),
        )
        for line, (symbol, value) in enumerate(PRICES.items(), start=2)
    ]
    return PriceBatch(source="vendor_csv", report=ParseReport("bench_prices.csv", rows), fetched_at=now)


def seed_prices(url: str) -> None:
    """The D-1 prices, through the write path like a price fetch writes them."""
    with session_factory(url)() as session:
        write_price_batch(session, price_batch(datetime.now(UTC)), batch_run_id=None, now=datetime.now(UTC))
        session.commit()


def seed(url: str, n: int) -> float:
    """Contracts (COPY) and prices; returns the seconds it took."""
    started = time.perf_counter()
    values = contract_values(n, datetime.now(UTC))
    with engine_for(url).begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY hedge_contracts ({', '.join(values[0])}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(list(value.values()))
    seed_prices(url)
    return time.perf_counter() - started


# -- the worker --------------------------------------------------------------------------------


def hedgeops_settings(opts: Options, url: str) -> dict[str, str]:
    """The settings the worker and this process share (as keyword arguments of Settings)."""
    return {
        "database_url": url,
        "broker_url": opts.redis_url,
        "result_backend": opts.redis_url,
        "mtm_chunk_size": str(opts.chunk_size),
        "mtm_in_database": str(opts.in_database).lower(),
        "nightly_enabled": "false",
        "log_level": "WARNING",
    }


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
def running_workers(opts: Options, url: str, app: Celery) -> Iterator[list[int]]:
    """`opts.nodes` ready worker nodes for the duration of the block (their main pids);
    stopped however the block ends."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(opts.nodes):
            tag = uuid.uuid4().hex[:6]
            node, log = f"bench-mtm-{tag}@localhost", Path(tempfile.gettempdir()) / f"hedgeops-bench-mtm-{tag}.log"
            procs.append(start_worker(opts, url, node, log))
            wait_ready(app, procs[-1], node, log)
            print(f"worker log: {log}")
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            stop_worker(proc)


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


def cpu_now(url: str, worker_pids: list[int]) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds so far of the workers' processes and of the database's backends."""
    return cpu_seconds(process_tree(worker_pids)), cpu_seconds(backend_pids(url))


def timed_run(url: str, label: str, timeout: float, worker_pid: list[int]) -> RunFigures:
    """Trigger the MTM of AS_OF and wait for its ledger row to end."""
    worker_before, database_before = cpu_now(url, worker_pid)
    machine_before, started = machine_busy_seconds(), time.perf_counter()
    task_id = signature(MTM_TASK, kwargs={"as_of": AS_OF.isoformat(), "trigger": "manual"}).apply_async().id
    summary, chunks = wait_run(url, run_of_task(url, task_id, timeout), timeout)
    wall, machine = time.perf_counter() - started, machine_busy_seconds() - machine_before
    worker_after, database_after = cpu_now(url, worker_pid)
    return RunFigures(
        label,
        wall,
        summary,
        chunks,
        cpu_spent(worker_before, worker_after),
        cpu_spent(database_before, database_after),
        machine,
    )


# -- the whole ----------------------------------------------------------------------------


def measure_pipeline(opts: Options, rerun: bool = True) -> tuple[Pipeline, list[dict[str, Any]]]:
    """Seed, start the workers, time a first run and (unless not `rerun`: naive.py needs the
    first alone) a rerun, then the SQL reference in the same database; keep what the pipeline
    wrote (for the floors)."""
    with scratch_database(opts.database_url, opts.keep, "pipeline") as url:
        seeding = seed(url, opts.contracts)
        app = create_app(load_settings(**hedgeops_settings(opts, url)))
        with running_workers(opts, url, app) as pids:
            runs = [timed_run(url, "run (all new)", opts.timeout, pids)]
            if rerun:
                runs.append(timed_run(url, "rerun (all existing)", opts.timeout, pids))
            rss = [peak_rss_mib(process_tree([pid])) for pid in pids]
        sql = time_sql_reference(url, AS_OF, PRICE_DATE)
        snapshots = written_snapshots(url) if opts.floors else []
        return Pipeline(seeding, runs, rss, sql.rows, sql), snapshots


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when both runs succeeded; the figures are printed either way."""
    opts = parse_args(argv)
    redis.Redis.from_url(opts.redis_url).flushdb()
    pipeline, snapshots = measure_pipeline(opts)
    floors = {name: time_floor(opts.database_url, opts.keep, name, snapshots, seed_prices) for name in opts.floors}
    print_report(
        f"MTM benchmark: {opts.contracts} contracts, chunk size {opts.chunk_size}, {opts.nodes} node(s) "
        f"x concurrency {opts.concurrency}",
        pipeline,
        floors,
    )
    return 0 if all(run.summary["status"] == "succeeded" for run in pipeline.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
