"""Scenarios 4, 5 and 13 of the fault suite, on real worker processes, a Redis server of
their own and PostgreSQL: concurrent triggers of one job and date, every chunk message
delivered twice, and two environments sharing one Redis prefix by mistake."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import signature
from sqlalchemy import func, select

from db.engine import dispose_all
from db.migrate import upgrade
from db.models import BatchRun, MtmSnapshot
from tests import services
from tests.cluster import BIN, rows
from tests.faults.harness import AS_OF, OwnRedis, effects, load_book, mtm_planned_here, own_cluster

pytestmark = pytest.mark.e2e
N = 2000
MTM = "hedgeops.valuation.compute_mtm_snapshots"


def mtm_runs(url: str) -> list[Any]:
    return rows(url, select(BatchRun.id, BatchRun.attempt, BatchRun.status).where(BatchRun.job == "mtm"))


def test_4_ten_concurrent_triggers_one_attempt(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    # Chunks of 2 on one process: the run outlasts the sending of the ten triggers.
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE="2")
    try:
        load_book(N, tmp_path / "incoming")
        cluster.worker("w", concurrency=1)
        cluster.wait_run(
            cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(timeout=120)["batch_run_id"]
        )

        def cli(_: int) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(BIN / "hedgeops"), "run", "mtm", "--as-of", AS_OF, "--json"],
                env=cluster.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        def celery_call(_: int) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    str(BIN / "celery"),
                    "-A",
                    "workers.celery_app",
                    "call",
                    MTM,
                    "--kwargs",
                    f'{{"as_of": "{AS_OF}"}}',
                    "--queue",
                    "valuation",
                ],
                env=cluster.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        with ThreadPoolExecutor(10) as pool:
            sent = list(pool.map(cli, range(6))) + list(pool.map(celery_call, range(3)))
        beat_like = cluster.trigger(MTM, as_of=AS_OF, trigger="beat")  # what beat sends
        sent_by = datetime.now(UTC)
        assert all(p.returncode == 0 for p in sent), [p.stderr for p in sent]
        ids = [p.stdout.strip().splitlines()[-1] for p in sent[6:]]
        results = [cluster.app.AsyncResult(i).get(timeout=300) for i in ids] + [beat_like.get(timeout=300)]
        runs_ = mtm_runs(pg_url)
        print(f"\nruns: {runs_}; reported: {[r['batch_run_id'] for r in results]}")
        ended = cluster.wait_run(runs_[0][0], timeout=300)["finished_at"]
        assert datetime.fromisoformat(ended) > sent_by, "the run ended before every trigger was sent: make it longer"
        assert len(runs_) == 1
        assert {r["batch_run_id"] for r in results} == {runs_[0][0]}
        cluster.wait_run(runs_[0][0], timeout=300)
        assert (effects(pg_url).snapshots, effects(pg_url).duplicated) == (N, 0)
    finally:
        cluster.stop_all()


def test_5_every_chunk_delivered_twice(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE="50")
    prefix = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"]
    try:
        run_id = mtm_planned_here(cluster, N, tmp_path / "incoming")  # its chunk messages wait in Redis
        client = redis.Redis.from_url(redis_server.url)
        queue = f"{prefix}valuation"
        messages = client.lrange(queue, 0, -1)
        assert len(messages) == N // 50
        for raw in messages:
            client.lpush(queue, raw)  # a byte-identical copy
        for chunk_no in range(N // 50):  # re-sends with new task ids
            signature(
                "hedgeops.valuation.compute_mtm_chunk",
                kwargs={
                    "run_id": run_id,
                    "chunk_no": chunk_no,
                    "first_id": chunk_no * 50 + 1,
                    "last_id": chunk_no * 50 + 50,
                },
            ).apply_async()
        cluster.worker("w", concurrency=2)
        final = cluster.wait_run(run_id, timeout=300)
        time.sleep(3)  # the copies still queued behind the last chunk are drained
        after = effects(pg_url)
        print(f"\n{len(messages)} chunks x3 messages: {final['counts']} {after}")
        assert final["counts"] == {"processed": N, "created": N, "existing": 0, "conflicts": 0, "exceptions": 0}
        assert (after.snapshots, after.distinct_keys, after.duplicated, after.conflicts, after.chunks) == (
            N,
            N,
            0,
            0,
            N // 50,
        )
    finally:
        cluster.stop_all()


def test_13_two_environments_on_one_prefix(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    other_url = services.create_pg_database()
    upgrade(other_url)
    dispose_all()
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE="20")
    # Given back (not dead-lettered) for as long as the right worker needs to take each message.
    wrong = {"HEDGEOPS_DATABASE_URL": other_url, "HEDGEOPS_FOREIGN_MESSAGE_REQUEUES": "100"}
    try:
        load_book(N, tmp_path / "incoming")
        cluster.worker("wrong", concurrency=2, extra_env=wrong)  # same Redis, same prefix, another database
        cluster.worker("right", concurrency=1)
        cluster.wait_run(
            cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(timeout=300)["batch_run_id"],
            timeout=300,
        )
        run_id = cluster.trigger(MTM, as_of=AS_OF).get(timeout=300)["batch_run_id"]
        final = cluster.wait_run(run_id, timeout=600)
        refused = cluster.log_tail("wrong").count("task_of_another_database_refused")
        print(f"\nrun {run_id}: {final['counts']}; the wrong worker refused (last log lines) {refused}")
        assert final["status"] == "succeeded" and final["counts"]["processed"] == N
        assert effects(pg_url).snapshots == N
        assert rows(other_url, select(func.count()).select_from(BatchRun))[0][0] == 0
        assert rows(other_url, select(func.count()).select_from(MtmSnapshot))[0][0] == 0
    finally:
        cluster.stop_all()
        services.drop_pg_database(other_url)
