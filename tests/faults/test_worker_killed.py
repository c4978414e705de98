"""A worker killed (SIGKILL) in the middle of an MTM run loses nothing and duplicates
nothing: its unacknowledged chunks are redelivered after the visibility timeout, chunks
it had already committed count once, and the run ends with every snapshot written."""

from __future__ import annotations

import signal
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import BatchRun, BatchRunChunk, IdempotencyConflict, MtmSnapshot
from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import Cluster, rows

pytestmark = pytest.mark.e2e

#: Contracts, in chunks of 7 (the e2e cluster's HEDGEOPS_MTM_CHUNK_SIZE). Valued in the
#: database a chunk takes milliseconds: 2,000 contracts (286 chunks) once ended between the
#: poll that saw 40 chunks and the kill, on a loaded CI machine.
N = 6000
CHUNKS = -(-N // 7)  # 858
#: Short limits so that Redis redelivers the killed worker's messages within the test.
FAST_REDELIVERY = {
    "HEDGEOPS_VISIBILITY_TIMEOUT": "20",
    "HEDGEOPS_TASK_TIME_LIMIT": "15",
    "HEDGEOPS_TASK_SOFT_TIME_LIMIT": "10",
    "HEDGEOPS_REDELIVERY_SWEEP": "2",
}


def scalar(url: str, query: object) -> int:
    return int(rows(url, query)[0][0] or 0)


def test_a_killed_worker_loses_and_duplicates_nothing(cluster: Cluster, pg_url: str, drop_dir: Path) -> None:
    load_contracts_csv(contracts_csv(*(contract(f"K{i:05d}", entry_price="2500") for i in range(N))), "k.csv")
    (drop_dir / "p.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2510.125")))
    first = cluster.worker("doomed", concurrency=2, extra_env=FAST_REDELIVERY)
    prices = cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of="2026-11-20").get(timeout=60)
    assert cluster.wait_run(prices["batch_run_id"])["counts"]["created"] == 1
    started = cluster.trigger("hedgeops.valuation.compute_mtm_snapshots", as_of=date(2026, 11, 20).isoformat())
    run_id = started.get(timeout=60)["batch_run_id"]
    deadline = time.monotonic() + 120
    while scalar(pg_url, select(BatchRun.chunks_done).where(BatchRun.id == run_id)) < 20:
        assert time.monotonic() < deadline, "the first worker made no progress"
        time.sleep(0.05)
    cluster.stop(first, signal.SIGKILL)
    done_at_kill = scalar(pg_url, select(BatchRun.chunks_done).where(BatchRun.id == run_id))
    assert done_at_kill < CHUNKS, "the run ended before the kill: make it longer"

    second = cluster.worker("rescuer", concurrency=2, extra_env=FAST_REDELIVERY)
    try:
        final = cluster.wait_run(run_id, timeout=180)
    finally:
        cluster.stop(second)
    assert final["status"] == "succeeded"
    assert final["counts"] == {"processed": N, "created": N, "existing": 0, "conflicts": 0, "exceptions": 0}
    assert scalar(pg_url, select(func.count()).select_from(MtmSnapshot)) == N
    assert scalar(pg_url, select(func.count()).select_from(BatchRunChunk)) == CHUNKS
    assert scalar(pg_url, select(func.count()).select_from(IdempotencyConflict)) == 0
    values = {v for (v,) in rows(pg_url, select(MtmSnapshot.mtm_value).distinct())}
    assert values == {Decimal("101.25")}  # buy 10 mt * (2510.125 - 2500) = 101.25
