"""Scenarios 1-3 of the fault suite: an MTM batch on real worker and beat processes, its
own Redis server and PostgreSQL, while a worker is SIGKILLed (a pool process, then the
main process, twice), Redis restarts (with and without AOF), or PostgreSQL terminates the
workers' connections. After each: every contract has exactly one snapshot, none
conflicts, the run ended (none left running) and `verify` is clean. Recovery times are
printed (docs/reliability.md records them), never asserted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cluster import Cluster
from tests.faults.harness import (
    AS_OF,
    OwnRedis,
    chunks_done,
    effects,
    load_book,
    own_cluster,
    run_status,
    verify_clean,
    wait_until,
)

pytestmark = pytest.mark.e2e

#: Scenario 1's book: the issue's 50,000 contracts (HEDGEOPS_FAULTS_BOOK for another size).
BOOK = int(os.environ.get("HEDGEOPS_FAULTS_BOOK", "50000"))
CHUNK = "250"


@pytest.fixture(params=[False, True], ids=["no-aof", "aof"])
def aof(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def started(cluster: Cluster, tmp: Path) -> int:
    """Workers and beat up, the prices of D-1 in, the MTM run triggered: its id."""
    cluster.worker("w", concurrency=2)
    cluster.start("beat", "-s", str(tmp / "schedule"), "--loglevel", "INFO", name="beat")
    prices = cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(timeout=120)
    cluster.wait_run(prices["batch_run_id"])
    return int(
        cluster.trigger("hedgeops.valuation.compute_mtm_snapshots", as_of=AS_OF).get(timeout=120)["batch_run_id"]
    )


def finished(cluster: Cluster, url: str, run_id: int, total: int, t0: float, timeout: float = 600) -> None:
    try:
        final = cluster.wait_run(run_id, timeout=timeout)
    except AssertionError as exc:  # what the processes said, to tell a stuck consumer from our bug
        raise AssertionError(
            f"{exc}; {chunks_done(url, run_id)} chunks counted in; {cluster_report(cluster)}"
        ) from None
    took = time.monotonic() - t0
    after = effects(url)
    print(f"\nrun {run_id}: {final['status']} counts={final['counts']} effects={after} recovered_in={took:.1f}s")
    assert final["status"] == "succeeded"
    assert (after.snapshots, after.distinct_keys, after.duplicated, after.conflicts, after.wrong_values) == (
        total,
        total,
        0,
        0,
        0,
    )
    assert after.running == 0
    assert final["counts"]["processed"] == total and final["counts"]["conflicts"] == 0
    assert verify_clean(cluster)


def cluster_report(cluster: Cluster) -> str:
    """Which worker answers a ping, and the end of every process's log."""
    try:
        answers = cluster.app.control.ping(timeout=2)
    except Exception as exc:  # noqa: BLE001 - a report, never the failure itself
        answers = [repr(exc)]
    tails = {log.stem: log.read_text(errors="replace")[-2500:] for log in sorted(cluster.logs.glob("*.log"))}
    return f"ping answers: {answers}; logs: {tails}"


def healed_if_frozen(cluster: Cluster, url: str, run_id: int, wait: float = 90) -> bool:
    """After a Redis restart: the run moves on (a chunk counted in, or it ends) within
    `wait` seconds; else, when no worker answers a ping, it is restarted, as its supervisor
    would restart a worker that is gone (kombu's Redis consumer was known to stop consuming
    after a reconnect: celery#8030, #8091, #10205, #10302; fixed in kombu 5.7.0). True when
    it had to be. A worker that answers and does nothing is left alone here (its watchdog's
    part: scenario 23); the run's wait then fails with the report."""
    at = chunks_done(url, run_id)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if chunks_done(url, run_id) > at or run_status(url, run_id) != "running":
            return False
        time.sleep(0.5)
    for _ in range(3):
        try:
            if cluster.app.control.ping(timeout=5):
                return False
        except Exception:  # noqa: BLE001 - the test process's own connection may be the one to recover
            time.sleep(1)
    restarted(cluster, "w-restarted")
    print(
        f"\nno chunk counted in for {wait:.0f}s after the Redis restart and no worker answered a ping: "
        f"worker restarted (as its healthcheck would) at {chunks_done(url, run_id)} chunks"
    )
    return True


@pytest.fixture
def broker(tmp_path: Path, aof: bool) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path, aof=aof)
    server.start()
    yield server
    server.stop()


def worker_pids(cluster: Cluster) -> tuple[int, list[int]]:
    # `celery -A workers.celery_app worker ...`: the subcommand, not the app's module name (beat's too)
    main = [p for p in cluster.procs if p.poll() is None and list(map(str, p.args))[3:4] == ["worker"]][-1]
    children = subprocess.run(["pgrep", "-P", str(main.pid)], capture_output=True, text=True, check=False)
    return main.pid, [int(x) for x in children.stdout.split()]


@pytest.mark.parametrize("aof", [False], ids=["redis"])
def test_1_workers_killed_three_times(pg_url: str, tmp_path: Path, broker: OwnRedis) -> None:
    cluster = own_cluster(pg_url, tmp_path, broker.url, HEDGEOPS_MTM_CHUNK_SIZE=CHUNK)
    try:
        load_book(BOOK, tmp_path / "incoming")
        run_id = started(cluster, tmp_path)
        total_chunks = -(-BOOK // int(CHUNK))
        t0 = time.monotonic()
        for round_, kind in enumerate(("pool", "main", "main")):
            at = random.randint(1 + round_ * total_chunks // 5, (round_ + 1) * total_chunks // 5)
            wait_until(lambda at=at: chunks_done(pg_url, run_id) >= at, 600, f"{at} chunks")
            if kind == "pool":
                main, children = worker_pids(cluster)
                os.kill(children[0] if children else main, signal.SIGKILL)
            else:
                restarted(cluster, f"w{round_}")
            print(f"\nkilled the {kind} process at {chunks_done(pg_url, run_id)} of {total_chunks} chunks")
        finished(cluster, pg_url, run_id, BOOK, t0)
    finally:
        cluster.stop_all()


def restarted(cluster: Cluster, name: str) -> None:
    """SIGKILL the worker's main process and its pool, then start a new worker."""
    main, children = worker_pids(cluster)
    for pid in (main, *children):
        with_suppressed(os.kill, pid, signal.SIGKILL)
    cluster.worker(name, concurrency=2)


def with_suppressed(call: object, *args: object) -> None:
    try:
        call(*args)  # type: ignore[operator]
    except ProcessLookupError:
        pass


def test_2_redis_restarted_during_the_batch(pg_url: str, tmp_path: Path, broker: OwnRedis, aof: bool) -> None:
    n = 4000
    cluster = own_cluster(pg_url, tmp_path, broker.url, HEDGEOPS_MTM_CHUNK_SIZE="50")
    try:
        load_book(n, tmp_path / "incoming")
        run_id = started(cluster, tmp_path)
        wait_until(lambda: chunks_done(pg_url, run_id) >= 10, 300, "10 chunks")
        t0 = time.monotonic()
        broker.stop()
        print(f"\nredis (aof={aof}) stopped at {chunks_done(pg_url, run_id)} of {n // 50} chunks")
        time.sleep(3)
        broker.start()
        healed_if_frozen(cluster, pg_url, run_id)
        finished(cluster, pg_url, run_id, n, t0, timeout=300)
    finally:
        cluster.stop_all()


@pytest.mark.parametrize("aof", [False], ids=["redis"])
def test_3_postgres_connections_terminated(pg_url: str, tmp_path: Path, broker: OwnRedis) -> None:
    n = 4000
    cluster = own_cluster(pg_url, tmp_path, broker.url, HEDGEOPS_MTM_CHUNK_SIZE="50")
    database = pg_url.rsplit("/", 1)[1]
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        load_book(n, tmp_path / "incoming")
        run_id = started(cluster, tmp_path)
        t0 = time.monotonic()
        terminated = 0
        for at in (5, 25, 50):
            wait_until(lambda at=at: chunks_done(pg_url, run_id) >= at, 300, f"{at} chunks")
            with admin.connect() as conn:
                terminated += len(
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                            "AND pid <> pg_backend_pid()"
                        ),
                        {"d": database},
                    ).all()
                )
        print(f"\nterminated {terminated} backends")
        assert terminated > 0
        finished(cluster, pg_url, run_id, n, t0, timeout=300)
    finally:
        admin.dispose()
        cluster.stop_all()
