"""Benchmark: the naive baseline, one Celery task per contract with per-row ORM reads and
writes, against the pipeline at the same N in the same run.

    python benchmarks/naive.py [--contracts N] [--concurrency C] [--pipeline-1m SECONDS] [--keep]

It seeds N active contracts (default 20,000) and their D-1 prices like benchmarks/mtm.py,
starts `celery -A naive_app worker -Q naive -c C` (benchmarks/naive_app.py), sends one
`bench.naive.value_contract` task per contract and times from the first send to the N-th
snapshot row. Then, on a fresh database, the pipeline's first run at the same N (the
benchmark of mtm.py, without its rerun and floors). Printed: both times, the naive time projected
linearly to 1,000,000 contracts, and the pipeline's speed-up over the naive baseline (at
N; and at 1,000,000 against `--pipeline-1m`, a pipeline time measured by mtm.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis
from benchkit import ADMIN_URL, CELERY, ROOT, headline, scratch_database, stop_worker, worker_env
from celery import Celery
from mtm import AS_OF, PRICE_DATE, REDIS_URL, Options, measure_pipeline, seed
from sqlalchemy import func, select

from db.engine import engine_for
from db.models import MtmSnapshot

TASK = "bench.naive.value_contract"
MILLION = 1_000_000


def start_naive_worker(url: str, redis_url: str, concurrency: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    node = f"bench-naive-{uuid.uuid4().hex[:6]}@localhost"
    env = worker_env(
        {"database_url": url, "broker_url": redis_url, "log_level": "WARNING"},
        PYTHONPATH=f"{ROOT}:{ROOT / 'benchmarks'}",
    )
    command = [
        str(CELERY),
        "-A",
        "naive_app",
        "worker",
        "-Q",
        "naive",
        "-c",
        str(concurrency),
        "-n",
        node,
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT / "benchmarks", stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc, node


def wait_ping(app: Celery, proc: subprocess.Popen[bytes], node: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"naive worker exited:\n{log.read_text(errors='replace')[-3000:]}")
        if app.control.ping(destination=[node], timeout=0.5):
            return
    raise RuntimeError("naive worker never answered a ping")


def snapshots(url: str) -> int:
    with engine_for(url).connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(MtmSnapshot)) or 0)


def time_naive(opts: argparse.Namespace) -> float:
    """Seconds from the first of N sends to the N-th snapshot stored."""
    with scratch_database(opts.database_url, opts.keep, "naive") as url:
        seed(url, opts.contracts)
        app = Celery("naive-client", broker=opts.redis_url)
        app.conf.update(task_serializer="json", accept_content=["json"])
        log = Path(tempfile.gettempdir()) / f"hedgeops-bench-naive-{uuid.uuid4().hex[:6]}.log"
        proc, node = start_naive_worker(url, opts.redis_url, opts.concurrency, log)
        try:
            wait_ping(app, proc, node, log)
            started = time.perf_counter()
            for contract_id in range(1, opts.contracts + 1):
                app.send_task(TASK, args=[contract_id, AS_OF.isoformat(), PRICE_DATE.isoformat()], queue="naive")
            while snapshots(url) < opts.contracts:
                if time.perf_counter() - started > opts.timeout:
                    raise TimeoutError(f"naive baseline: {snapshots(url)} of {opts.contracts} after {opts.timeout} s")
                time.sleep(0.2)
            return time.perf_counter() - started
        finally:
            stop_worker(proc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contracts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pipeline-1m", type=float, default=None, help="the pipeline's 1M run, seconds (mtm.py)")
    parser.add_argument("--database-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL, help="a Redis database of its own: it is flushed")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800)
    opts = parser.parse_args(argv)
    redis.Redis.from_url(opts.redis_url).flushdb()
    naive = time_naive(opts)
    pipeline, _ = measure_pipeline(
        Options(
            opts.contracts, 1000, opts.concurrency, 1, opts.database_url, opts.redis_url, opts.keep, opts.timeout, ()
        ),
        rerun=False,
    )
    ours = pipeline.runs[0].wall
    projected = naive * MILLION / opts.contracts
    print(f"naive baseline: {opts.contracts} contracts, one task each, concurrency {opts.concurrency}")
    print(
        f"  naive          {naive:8.2f} s  {opts.contracts / naive:8.0f} per s  "
        f"projected to 1,000,000: {projected:.0f} s ({projected / 3600:.1f} h)"
    )
    print(f"  pipeline       {ours:8.2f} s  {opts.contracts / ours:8.0f} per s  speed-up at N: {naive / ours:.1f}x")
    headline("naive.pipeline_over_naive", ours / naive)
    if opts.pipeline_1m:
        print(
            f"  at 1,000,000: pipeline {opts.pipeline_1m:.1f} s (given), speed-up {projected / opts.pipeline_1m:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
