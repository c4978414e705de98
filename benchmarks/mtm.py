"""Benchmark: the nightly MTM of N commodity contracts on PostgreSQL with a real worker.

    python benchmarks/mtm.py [--contracts N] [--chunk-size K] [--concurrency C]
                             [--database-url URL] [--redis-url URL] [--keep]

It makes a throwaway database, seeds N active contracts and their D-1 prices (timed
apart), starts `celery worker -Q prices,valuation -c C`, triggers
`hedgeops.valuation.compute_mtm_snapshots` for 2026-11-20 and times it from the trigger to
the end of its batch_runs row; then the same date again (every snapshot already exists).

The floor, measured in the same run after the worker has stopped: the same N snapshot
rows (built by core and db.valuations beforehand, untimed) inserted into mtm_snapshots of
a second throwaway database with one plain SQLAlchemy Core executemany INSERT in one
transaction: same table, indexes and trigger, but no idempotency, no Celery, no valuation.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from celery import Celery, signature
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from core.mtm import value_contracts
from core.ports import PriceBatch
from core.prices import PriceRow
from core.values import Contract, ContractStatus, Instrument, ParseReport, PriceType, Side
from db import ledger, migrate
from db.engine import dispose_all, engine_for, session_factory
from db.models import BatchRun, HedgeContract, MtmSnapshot
from db.prices import prices_on, write_price_batch
from db.valuations import snapshot_row
from tasks.summary import run_summary
from workers.celery_app import create_app
from workers.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CELERY = Path(sys.executable).with_name("celery")
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
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

    @property
    def per_second(self) -> float:
        return float(self.summary["counts"]["processed"]) / self.wall


def parse_args(argv: Sequence[str] | None) -> Options:
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


# -- scratch database and seeds --------------------------------------------------------------

def admin_execute(admin_url: str, sql: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_database(opts: Options, purpose: str) -> Iterator[str]:
    """A new, migrated database on the server of `opts.database_url`; dropped afterwards."""
    name = f"hedgeops_bench_{uuid.uuid4().hex[:10]}"
    admin_execute(opts.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(opts.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        dispose_all()
        if opts.keep:
            print(f"kept {purpose} database {name}")
        else:
            admin_execute(opts.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    return {"database_url": url, "broker_url": opts.redis_url, "result_backend": opts.redis_url,
            "mtm_chunk_size": str(opts.chunk_size), "nightly_enabled": "false", "log_level": "WARNING"}


def worker_env(opts: Options, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update({f"HEDGEOPS_{k.upper()}": v for k, v in hedgeops_settings(opts, url).items()})
    return env


def start_worker(opts: Options, url: str, node: str, log: Path) -> subprocess.Popen[bytes]:
    command = [str(CELERY), "-A", "workers.celery_app", "worker", "-Q", "prices,valuation",
               "-c", str(opts.concurrency), "-n", node, "--loglevel", "WARNING",
               "--without-gossip", "--without-mingle"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=worker_env(opts, url), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(app: Celery, proc: subprocess.Popen[bytes], node: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if app.control.ping(destination=[node], timeout=0.5):
            return
    raise RuntimeError(f"worker never answered a ping:\n{log.read_text(errors='replace')[-3000:]}")


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker's process group (warm shutdown), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def running_worker(opts: Options, url: str, app: Celery) -> Iterator[subprocess.Popen[bytes]]:
    node = f"bench-{uuid.uuid4().hex[:6]}@localhost"
    log = Path(tempfile.gettempdir()) / f"hedgeops-bench-{node.split('@')[0]}.log"
    proc = start_worker(opts, url, node, log)
    try:
        wait_ready(app, proc, node, log)
        yield proc
    finally:
        stop_worker(proc)
        print(f"worker log: {log}")


# -- process figures (/proc) -----------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    """The worker's main process and its pool processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid] + ([int(p) for p in children.read_text().split()] if children.exists() else [])


def peak_rss_mib(pids: list[int]) -> list[float]:
    """VmHWM (peak resident set) of each process still alive, MiB, in the order given."""
    found: list[float] = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    found.append(int(line.split()[1]) / 1024)
    return found


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process so far (fields 14 and 15 of /proc/pid/stat)."""
    found: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends serving the benchmark database, but the one asking."""
    query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with engine_for(url).connect() as conn:
        return list(conn.scalars(query))


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings; a process that appeared in between counts from 0."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# -- timed runs ------------------------------------------------------------------------------

def run_of_task(url: str, task_id: str, timeout: float) -> int:
    """The id of the batch run the MTM task `task_id` started (read from the ledger, so the
    benchmark needs nothing of the result backend)."""
    deadline = time.monotonic() + timeout
    with session_factory(url)() as session:
        while (run_id := session.scalar(select(BatchRun.id).where(BatchRun.task_id == task_id))) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} started no run within {timeout:.0f} s")
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
            raise TimeoutError(f"run {run_id} still running after {timeout:.0f} s: {summary}")
        time.sleep(0.1)


def cpu_now(url: str, worker_pid: int) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds so far of the worker's processes and of the database's backends."""
    return cpu_by_pid(process_tree(worker_pid)), cpu_by_pid(backend_pids(url))


def timed_run(url: str, label: str, timeout: float, worker_pid: int) -> RunFigures:
    """Trigger the MTM of AS_OF and wait for its ledger row to end."""
    worker_before, database_before = cpu_now(url, worker_pid)
    started = time.perf_counter()
    task_id = signature(MTM_TASK, kwargs={"as_of": AS_OF.isoformat(), "trigger": "manual"}).apply_async().id
    summary, chunks = wait_run(url, run_of_task(url, task_id, timeout), timeout)
    wall = time.perf_counter() - started
    worker_after, database_after = cpu_now(url, worker_pid)
    return RunFigures(label, wall, summary, chunks, cpu_spent(worker_before, worker_after),
                      cpu_spent(database_before, database_after))


# -- the floor -------------------------------------------------------------------------------

def seeded_contracts(n: int, now: datetime) -> list[Contract]:
    """The seeded contracts as the valuation sees them (ids 1..N, as in a fresh table)."""
    contracts = []
    for contract_id, row in enumerate(contract_values(n, now), start=1):
        del row["created_at"], row["updated_at"]
        enums = {"instrument": Instrument(row["instrument"]), "side": Side(row["side"]),
                 "status": ContractStatus(row["status"])}
        contracts.append(Contract(id=contract_id, **{**row, **enums}))
    return contracts


def snapshot_values(url: str, n: int) -> list[dict[str, Any]]:
    """The N snapshot rows the pipeline writes, as write_results would insert them."""
    now = datetime.now(timezone.utc)
    contracts = seeded_contracts(n, now)
    with session_factory(url)() as session:
        prices = prices_on(session, PRICES, PRICE_DATE)
    valuation = value_contracts(contracts, AS_OF, PRICE_DATE, prices)
    rows = (snapshot_row(snap, correlation_id=None) for snap in valuation.snapshots)
    return [{**r.columns, "idempotency_key": r.key, "payload": r.payload, "payload_sha256": r.sha256,
             "batch_run_id": None, "created_at": now} for r in rows]


def time_reference(url: str, n: int) -> float:
    """Seconds to INSERT the N rows with one executemany in one transaction."""
    seed_prices(url)
    values = snapshot_values(url, n)
    started = time.perf_counter()
    with engine_for(url).begin() as conn:
        conn.execute(insert(MtmSnapshot), values)
    return time.perf_counter() - started


# -- report ----------------------------------------------------------------------------------

ROW = "{:<22}{:>8}{:>9}{:>13}{:>14}{:>18}  {}"


def print_run(run: RunFigures, reference: float) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in run.summary["counts"].items())
    print(ROW.format(run.label, f"{run.wall:.2f}", f"{run.per_second:.0f}", f"{run.wall / reference:.1f}",
                     f"{run.worker_cpu:.1f}", f"{run.database_cpu:.1f}", f"{run.summary['status']}: {counts}"))


def print_report(opts: Options, seeding: float, runs: list[RunFigures], reference: float, rss: list[float]) -> None:
    print(f"MTM benchmark: {opts.contracts} contracts, chunk size {opts.chunk_size} ({runs[0].chunks} chunks), "
          f"worker concurrency {opts.concurrency}, {os.cpu_count()} CPUs; seeding took {seeding:.2f} s (not measured)")
    print(ROW.format("", "wall s", "per s", "x reference", "CPU s worker", "CPU s PostgreSQL", "status: counts"))
    for run in runs:
        print_run(run, reference)
    print(ROW.format("reference", f"{reference:.2f}", f"{opts.contracts / reference:.0f}", "1.0", "", "",
                     "one executemany INSERT of the same N snapshot rows into mtm_snapshots, one transaction"))
    if rss:
        pool = ", ".join(f"{mib:.0f}" for mib in rss[1:])
        print(f"worker peak RSS (VmHWM): main {rss[0]:.0f} MiB, pool processes {pool} MiB")


def measure_pipeline(opts: Options) -> tuple[float, list[RunFigures], list[float]]:
    """Seed, start the worker, time a first run and a rerun; the seconds seeding took,
    the runs, and the worker's peak RSS."""
    with scratch_database(opts, "pipeline") as url:
        seeding = seed(url, opts.contracts)
        app = create_app(load_settings(**hedgeops_settings(opts, url)))
        with running_worker(opts, url, app) as worker:
            runs = [timed_run(url, "run (all new)", opts.timeout, worker.pid),
                    timed_run(url, "rerun (all existing)", opts.timeout, worker.pid)]
            rss = peak_rss_mib(process_tree(worker.pid))
    return seeding, runs, rss


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when both runs succeeded; the figures are printed either way."""
    opts = parse_args(argv)
    redis.Redis.from_url(opts.redis_url).flushdb()
    seeding, runs, rss = measure_pipeline(opts)
    with scratch_database(opts, "reference") as ref_url:
        reference = time_reference(ref_url, opts.contracts)
    print_report(opts, seeding, runs, reference, rss)
    return 0 if all(run.summary["status"] == "succeeded" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
