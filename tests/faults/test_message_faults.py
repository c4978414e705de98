"""Scenario 16 of the fault suite, on real processes (a `celery worker`, its own Redis server,
PostgreSQL, `celery call`): large task messages (issue 21, point 2). A 5 MB argument sent
with `send_task` by a client that is not the app (no publish check, as a hostile client
would), and a 100 KB `as_of` sent by `celery call`: refused by `celery call` itself at the
default limit, and, from a `celery call` configured with a larger limit than the worker's,
refused by the worker. The worker sets each aside unread, dead-letters it with its reason,
keeps answering pings, and runs the next task. A large message for a task that is not ours
is dropped unread; a small one that forges the consumer's mark of refusal is run."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import func, select

import tasks.deadletter  # noqa: F401 - DeadLettered, rebuilt from the result backend
from db.models import AuditEvent, BatchRun
from tasks import names
from tasks.base import REFUSED_HEADER
from tests.cluster import BIN, Cluster, rows
from tests.faults.harness import OwnRedis, own_cluster, wait_until

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024  # the default, HEDGEOPS_MAX_MESSAGE_KB=64
FIVE_MB = "2026-10-01" + "A" * (5 * 1024 * 1024)
HUNDRED_KB = "2026-10-02" + "B" * (100 * 1024)


def hostile_send(
    cluster: Cluster, broker: str, as_of: str, task: str = names.COMPUTE_MTM_SNAPSHOTS, **options: Any
) -> str:
    """`send_task` from a plain Celery app on the same broker and key prefix: no publish check."""
    hostile = Celery("hostile", broker=broker, set_as_current=False)
    hostile.conf.broker_transport_options = {"global_keyprefix": cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"]}
    try:
        return str(hostile.send_task(task, kwargs={"as_of": as_of}, queue="valuation", **options).id)
    finally:
        hostile.close()


def celery_call(cluster: Cluster, as_of: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "celery"),
            "-A",
            "workers.celery_app",
            "call",
            names.COMPUTE_MTM_SNAPSHOTS,
            "--kwargs",
            json.dumps({"as_of": as_of}),
        ],
        env={**cluster.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ping_after(cluster: Cluster, node: str, since: float) -> float:
    """Seconds from `since` until the worker answered a ping (each ask waits 1 s)."""
    wait_until(lambda: bool(cluster.app.control.ping(destination=[node], timeout=1.0)), 60, f"{node} to answer")
    return time.monotonic() - since


def events(log: Path, name: str) -> list[dict[str, Any]]:
    found = (json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{"))
    return [e for e in found if e.get("event") == name]


def test_16_large_messages_are_set_aside_unread(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    cluster = own_cluster(pg_url, tmp_path, redis_server.url)
    prefix = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"]
    client = redis.Redis.from_url(redis_server.url)
    try:
        worker = cluster.worker("w", queues="prices,valuation", concurrency=1)
        node = str(next(iter(cluster.app.control.ping(timeout=2)[0])))

        # A 100 KB as_of through `celery call` at the default limit: refused where it is sent.
        refused = celery_call(cluster, HUNDRED_KB)
        queued_after_refusal = client.llen(f"{prefix}valuation")

        sent = time.monotonic()
        big = hostile_send(cluster, redis_server.url, FIVE_MB)
        big_ping = ping_after(cluster, node, sent)

        called = celery_call(cluster, HUNDRED_KB, HEDGEOPS_MAX_MESSAGE_KB="1024")  # a sender with a larger limit
        medium = called.stdout.strip()
        sent = time.monotonic()
        medium_ping = ping_after(cluster, node, sent)

        def answered(task_id: str) -> bool:
            return cluster.app.AsyncResult(task_id).state == "FAILURE"

        wait_until(lambda: answered(big) and answered(medium), 120, "both messages dead-lettered")
        # A large message for a task that is none of ours is dropped unread; a small one that says it was
        # refused (the consumer's own mark, forged) is read and run as any other.
        hostile_send(cluster, redis_server.url, FIVE_MB[: 1024 * 1024], task="hostile.not_a_task")
        forged = hostile_send(
            cluster,
            redis_server.url,
            "2026-11-19",
            task=names.FETCH_SETTLEMENT_PRICES,
            headers={REFUSED_HEADER: {"reason": "message_too_large", "size": 1, "limit": 1}},
        )
        after = cluster.trigger(names.FETCH_SETTLEMENT_PRICES, as_of="2026-11-20").get(timeout=120)
        forged_state = cluster.app.AsyncResult(forged).get(timeout=60)["status"]
        wait_until(
            lambda: client.llen(f"{prefix}valuation") == 0 and client.hlen(f"{prefix}unacked") == 0,
            30,
            "the queue drained and nothing unacked",
        )
        answers = {task_id: cluster.app.AsyncResult(task_id).result for task_id in (big, medium)}
        alive = worker.poll() is None
    finally:
        cluster.stop_all()
        client.close()

    audits = rows(pg_url, select(AuditEvent).where(AuditEvent.event_type == "message_dead_lettered"))
    letters = {a[0].entity_id: a[0].details for a in audits}
    runs = rows(pg_url, select(func.count()).select_from(BatchRun))[0][0]
    log = tmp_path / "w.log"
    logged = events(log, "message_dead_lettered")
    dropped = events(log, "message_refused_unread")
    print(
        f"\ncelery call at the default limit: exit {refused.returncode}, {refused.stderr.strip()!r}, "
        f"{queued_after_refusal} queued; worker pinged back {big_ping:.1f} s after the 5 MB message, "
        f"{medium_ping:.1f} s after the 100 KB one; dead letters {letters}; dropped unread "
        f"{[(e['task_name'], e['size']) for e in dropped]}; {runs} batch run(s), the forged one {forged_state}, "
        f"the next task {after['status']}"
    )
    # Refused at publish: one line, exit 2, nothing queued.
    assert (refused.returncode, queued_after_refusal, refused.stdout) == (2, 0, "")
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"hedgeops: task {names.COMPUTE_MTM_SNAPSHOTS}: its message is ") and line.endswith(
        f"over the limit of {LIMIT:,} bytes (HEDGEOPS_MAX_MESSAGE_KB=64); nothing sent"
    ), line
    assert called.returncode == 0, called.stderr
    # Refused by the worker, each once, with its reason and size; never run (no batch run but the last task's).
    assert set(letters) == {big, medium}
    assert {k: (v["reason"], v["limit"], v["size"] > LIMIT) for k, v in letters.items()} == {
        big: ("message_too_large", LIMIT, True),
        medium: ("message_too_large", LIMIT, True),
    }
    assert letters[big]["size"] > 5 * 1024 * 1024 > letters[medium]["size"] > 100 * 1024
    assert sorted(str(e["task_id"]) for e in logged) == sorted([big, medium])
    assert {type(a).__name__ for a in answers.values()} == {"DeadLettered"}
    assert all("HEDGEOPS_MAX_MESSAGE_KB" in str(a) for a in answers.values())
    assert [(e["task_name"], e["size"] > 1024 * 1024) for e in dropped] == [("hostile.not_a_task", True)]
    assert (runs, forged_state, after["status"], alive) == (2, "succeeded", "succeeded", True)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "AAAAAAAA" not in text and "BBBBBBBB" not in text
