"""What the fault scenarios share: a Redis server of their own (restartable, with or
without AOF), a cluster of real worker and beat processes on it and a throwaway
PostgreSQL database, a book of N contracts, and the effects counted per key from the
database (lost, duplicated, conflicting), never from logs."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from db.models import BatchRun, BatchRunChunk, IdempotencyConflict, MtmSnapshot
from tests.cluster import Cluster, rows

#: Short limits: a killed worker's unacked messages come back within the test, and beat
#: re-sends a stale run's missing chunks within seconds.
FAST = {
    "HEDGEOPS_VISIBILITY_TIMEOUT": "60",
    "HEDGEOPS_TASK_TIME_LIMIT": "45",
    "HEDGEOPS_TASK_SOFT_TIME_LIMIT": "40",
    "HEDGEOPS_REDELIVERY_SWEEP": "2",
    "HEDGEOPS_CHUNK_RESEND_AFTER": "10",
    "HEDGEOPS_CHUNK_RESEND_SWEEP": "2",
    "HEDGEOPS_RUN_STALE_AFTER": "600",
}
AS_OF = "2026-11-20"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OwnRedis:
    """A `redis-server` of the scenario's own, on a free port, in a folder of its own:
    restarting it touches no other test's Redis."""

    folder: Path
    aof: bool
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.port = self.port or free_port()
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--appendonly",
            "yes" if self.aof else "no",
            "--save",
            "",
            "--protected-mode",
            "no",
        ]
        self.proc = subprocess.Popen(args, stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on {self.port} never answered")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: with AOF, what was appended survives; without, queues are lost
            self.proc.wait(timeout=20)
        self.proc = None


def own_cluster(pg_url: str, base: Path, broker: str, **extra: str) -> Cluster:
    """A cluster (test process app, worker and beat env) on `broker` and `pg_url`; `extra`
    settings go beside FAST's, or over them."""
    from workers.celery_app import create_app
    from workers.settings import load_settings

    (base / "incoming").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(
        HEDGEOPS_DATABASE_URL=pg_url,
        HEDGEOPS_BROKER_URL=broker,
        HEDGEOPS_RESULT_BACKEND=broker,
        HEDGEOPS_PRICE_DROP_DIR=str(base / "incoming"),
        HEDGEOPS_DROP_SETTLE_SECONDS="0",  # whole files, triggered at once
        HEDGEOPS_LOG_FORMAT="json",
        HEDGEOPS_NIGHTLY_ENABLED="false",
        HEDGEOPS_REDIS_KEY_PREFIX=f"hedgeops-faults-{uuid.uuid4().hex[:8]}:",
        HEDGEOPS_FAULT_DIR=str(base),
        **(FAST | extra),
    )
    settings = load_settings(
        **{k.removeprefix("HEDGEOPS_").lower(): v for k, v in env.items() if k.startswith("HEDGEOPS_")}
    )
    cluster = Cluster(env=env, logs=base)
    cluster.app = create_app(settings)
    return cluster


def load_book(n: int, drop: Path) -> None:
    """N active LME-AL buy contracts (10 mt at 2500) and the D-1 price 2510.125: every
    snapshot is 101.25, so a wrong one is visible."""
    from tasks.loading import load_contracts_csv
    from tests.builders import contract, contracts_csv, prices_csv

    load_contracts_csv(contracts_csv(*(contract(f"K{i:06d}") for i in range(n))), "book.csv")
    (drop / "p.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2510.125")))


def mtm_planned_here(cluster: Cluster, n: int, drop: Path) -> int:
    """N contracts and their D-1 price loaded (the prices run by a worker that then stops),
    and an MTM run planned in this process: its id. Its chunk messages wait in Redis, no
    worker on them yet."""
    from tasks.valuation import compute_mtm_snapshots

    load_book(n, drop)
    planner = cluster.worker("planner", queues="prices", concurrency=1)
    cluster.wait_run(
        cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(timeout=120)["batch_run_id"]
    )
    cluster.stop(planner)
    return int(compute_mtm_snapshots.apply(kwargs={"as_of": AS_OF}).get()["batch_run_id"])


@dataclass(frozen=True)
class Effects:
    """Effects per key, from the database."""

    snapshots: int
    distinct_keys: int
    duplicated: int
    conflicts: int
    wrong_values: int
    chunks: int
    running: int

    def lost(self, expected: int) -> int:
        return expected - self.distinct_keys


def effects(url: str) -> Effects:
    def one(query: Any) -> int:
        return int(rows(url, query)[0][0] or 0)

    dup = select(MtmSnapshot.idempotency_key).group_by(MtmSnapshot.idempotency_key).having(func.count() > 1)
    return Effects(
        snapshots=one(select(func.count()).select_from(MtmSnapshot)),
        distinct_keys=one(select(func.count(func.distinct(MtmSnapshot.idempotency_key)))),
        duplicated=len(rows(url, dup)),
        conflicts=one(select(func.count()).select_from(IdempotencyConflict)),
        wrong_values=one(
            select(func.count()).select_from(MtmSnapshot).where(MtmSnapshot.mtm_value != Decimal("101.25"))
        ),
        chunks=one(select(func.count()).select_from(BatchRunChunk)),
        running=one(select(func.count()).select_from(BatchRun).where(BatchRun.status == "running")),
    )


def chunks_done(url: str, run_id: int) -> int:
    return int(rows(url, select(BatchRun.chunks_done).where(BatchRun.id == run_id))[0][0] or 0)


def run_status(url: str, run_id: int) -> str:
    return str(rows(url, select(BatchRun.status).where(BatchRun.id == run_id))[0][0])


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def verify_clean(cluster: Cluster) -> bool:
    """`hedgeops verify` of the date on the cluster's database: exit 0, no mismatch."""
    from tests.cluster import BIN

    result = subprocess.run(
        [str(BIN / "hedgeops"), "verify", "--as-of", AS_OF],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode == 0
