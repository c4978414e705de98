"""Scenario 21 of the fault suite (issue 21, point 1): chunk messages its run never planned,
on a real worker with a Redis of its own and PostgreSQL. An MTM run of 1,000 contracts is
planned in 100 chunks of 10; before a worker takes them, three messages no plan holds are
sent to the same queue, as `celery call` would: chunk 100000, chunk 5 with its key range
reversed (first_id 9, last_id 1) and chunk 7 of a range that is not its own. Was (issue 21):
the stray chunk counted in (the run ended `succeeded` short of its book, `verify` exit 0),
the reversed range failed the run (`ValueError: empty key range 9..1`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from celery import signature
from sqlalchemy import select

from db.models import AuditEvent, BatchRunChunk
from tests.cluster import rows
from tests.faults.harness import OwnRedis, effects, mtm_planned_here, own_cluster, verify_clean

pytestmark = pytest.mark.e2e

N, CHUNK = 1000, 10


def test_21_a_stray_chunk_and_a_reversed_range_are_dead_lettered_never_counted(
    pg_url: str, tmp_path: Path, redis_server: OwnRedis
) -> None:
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE=str(CHUNK))
    try:
        run_id = mtm_planned_here(cluster, N, tmp_path / "incoming")  # 100 chunk messages wait
        strays = [
            {"chunk_no": 100000, "first_id": 1, "last_id": 10},  # a chunk number no plan holds
            {"chunk_no": 5, "first_id": 9, "last_id": 1},  # chunk 5 is 51..60: a reversed range
            {"chunk_no": 7, "first_id": 1, "last_id": 1000},  # chunk 7 is 71..80: the whole book
        ]
        sent = [
            signature("hedgeops.valuation.compute_mtm_chunk", kwargs={"run_id": run_id, **s}).apply_async().id
            for s in strays
        ]
        t0 = time.monotonic()
        cluster.worker("w", concurrency=2)
        final = cluster.wait_run(run_id, timeout=300)
        took = time.monotonic() - t0
        dead = rows(
            pg_url,
            select(AuditEvent.entity_id, AuditEvent.details).where(AuditEvent.event_type == "message_dead_lettered"),
        )
        deadline = time.monotonic() + 60
        while len(dead) < len(strays) and time.monotonic() < deadline:  # the strays may come after the last chunk
            time.sleep(0.2)
            dead = rows(
                pg_url,
                select(AuditEvent.entity_id, AuditEvent.details).where(
                    AuditEvent.event_type == "message_dead_lettered"
                ),
            )
        after = effects(pg_url)
        chunks = sorted(n for (n,) in rows(pg_url, select(BatchRunChunk.chunk_no)))
        print(f"\nscenario 21: run {final['status']} in {took:.1f} s, {final['counts']}; dead letters {len(dead)}")
        assert final["status"] == "succeeded"
        assert final["counts"] == {"processed": N, "created": N, "existing": 0, "conflicts": 0, "exceptions": 0}
        assert (after.snapshots, after.distinct_keys, after.duplicated, after.wrong_values) == (N, N, 0, 0)
        assert chunks == list(range(N // CHUNK))  # 100 chunks counted in, each once; no 100000
        assert {task_id: d["reason"] for task_id, d in dead} == dict.fromkeys(sent, "unplanned_chunk")
        assert verify_clean(cluster)
    finally:
        cluster.stop_all()
    log = (tmp_path / "w.log").read_text(errors="replace")
    lines = [
        e
        for e in (json.loads(x) for x in log.splitlines() if x.startswith("{"))
        if e["event"] == "message_dead_lettered"
    ]
    assert sorted(line["error"] for line in lines) == sorted(
        [
            f"unplanned chunk message: run {run_id} has no chunk 100000 (its chunks: 0 to 99)",
            f"unplanned chunk message: chunk 5 of run {run_id} was planned with first_id=51, last_id=60, "
            "not first_id=9, last_id=1",
            f"unplanned chunk message: chunk 7 of run {run_id} was planned with first_id=71, last_id=80, "
            "not first_id=1, last_id=1000",
        ]
    )
    assert "empty key range" not in log and "Traceback" not in log
