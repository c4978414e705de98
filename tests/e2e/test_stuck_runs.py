"""Stuck runs on real processes (issue 20, point 3): a nightly whose step message was purged
is moved on by the re-send sweep while `run --wait` follows the run that answered it; a
nightly stuck on a queue nobody consumes is ended by `runs abandon`, lock released."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import date

import pytest
from sqlalchemy import select

from core.keys import run_lock_key
from db.models import BatchRun
from tasks import names
from tests import services
from tests.cluster import BIN, Cluster

pytestmark = pytest.mark.e2e

#: Dates of their own: the session's database is shared with the other e2e modules.
STUCK, ABANDONED = "2026-10-14", "2026-10-15"
FAST = {"HEDGEOPS_CHUNK_RESEND_AFTER": "10"}


def hedgeops(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hedgeops"), *args], env=cluster.env, capture_output=True, text=True, timeout=120, check=False
    )


def nightly_of(cluster: Cluster, day: str) -> BatchRun:
    query = select(BatchRun).where(BatchRun.job == "nightly", BatchRun.as_of_date == date.fromisoformat(day))
    return cluster.wait_for(query.order_by(BatchRun.id.desc()), timeout=60)


def test_a_purged_step_is_sent_again_while_wait_follows_the_run_that_answered(cluster: Cluster) -> None:
    cluster.worker("valuation", queues="valuation", concurrency=1, extra_env=FAST)
    assert hedgeops(cluster, "run", "nightly", "--as-of", STUCK, "--json").returncode == 0
    run = nightly_of(cluster, STUCK)
    # The first advance sends the prices step: nobody consumes it yet; once it is queued, it is
    # purged (waited for, not slept on: on a loaded machine the advance may come later).
    client = services.redis_client(cluster.env["HEDGEOPS_BROKER_URL"])
    queue = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"] + "prices"
    deadline = time.monotonic() + 60
    while not client.llen(queue) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.llen(queue) == 1, "the prices step was never queued"
    client.delete(queue)
    cluster.worker("prices", queues="prices", concurrency=1, extra_env=FAST)
    waiting = subprocess.Popen(
        [str(BIN / "hedgeops"), "run", "nightly", "--as-of", STUCK, "--wait", "--timeout", "90", "--json"],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(11)  # past HEDGEOPS_CHUNK_RESEND_AFTER since the nightly's last move
    cluster.trigger(names.RESEND_STALE_CHUNKS)
    out, err = waiting.communicate(timeout=120)
    answered = [line for line in err.splitlines() if "following it" in line]
    assert answered == [
        f"hedgeops: already running: batch run {run.id} (nightly {STUCK}, attempt 1, running); following it"
    ], err[-3000:]
    summary = json.loads(out)
    assert (summary["batch_run_id"], summary["note"]) == (run.id, "already running")
    # Ended, not stuck. The session's database is shared with the other e2e modules: their
    # contracts have no price on this date when they ran first, so the night may end with
    # exceptions; the exit code is the documented one of the status either way.
    assert summary["status"] in ("succeeded", "completed_with_exceptions"), summary
    assert waiting.returncode == {"succeeded": 0, "completed_with_exceptions": 5}[summary["status"]], err[-3000:]


def test_abandon_ends_a_stuck_nightly_and_releases_its_lock(cluster: Cluster) -> None:
    cluster.worker("valuation", queues="valuation", concurrency=1)  # nobody consumes prices
    assert hedgeops(cluster, "run", "nightly", "--as-of", ABANDONED, "--json").returncode == 0
    run = nightly_of(cluster, ABANDONED)
    key = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"] + run_lock_key("nightly", date.fromisoformat(ABANDONED))
    client = services.redis_client(cluster.env["HEDGEOPS_BROKER_URL"])
    assert client.get(key) is not None
    done = hedgeops(cluster, "runs", "abandon", str(run.id), "--by", "alice", "--reason", "no prices worker", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (json.loads(done.stdout)["status"], json.loads(done.stdout)["error"]) == (
        "failed",
        "abandoned by alice: no prices worker",
    )
    assert client.get(key) is None
