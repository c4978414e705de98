"""The consumer watchdog and `check queues` on a real worker (issue 21, point 6).

The kombu reconnect freeze leaves a worker that answers pings and consumes nothing; here a
real worker is put in that state by cancelling its consumer of `prices` (remote control:
the process and its event loop run on, it answers `inspect ping`, it fetches nothing). A
task then waits in `prices`. `check queues` says CRITICAL; the watchdog stops the worker
with exit code 70 once the message has waited HEDGEOPS_QUEUE_STALL_SECONDS (10 here) and
the worker, holding nothing, fetched nothing for as long; the test, as a supervisor would,
starts a fresh worker, which runs the task."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tasks import names
from tests.cluster import BIN, Cluster

pytestmark = pytest.mark.e2e

AS_OF = "2026-11-20"


def node_of(cluster: Cluster) -> str:
    replies = cluster.app.control.ping(timeout=2)
    assert len(replies) == 1, replies
    return next(iter(replies[0]))


def check_queues(cluster: Cluster) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [str(BIN / "hedgeops"), "check", "queues", "--queue", "prices", "--json"],
        env={**cluster.env, "HEDGEOPS_QUEUE_STALL_SECONDS": "10"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def test_a_worker_that_consumes_nothing_stops_and_a_fresh_one_runs_the_task(cluster: Cluster, tmp_path: Path) -> None:
    health = tmp_path / "watchdog"
    extra = {"HEDGEOPS_QUEUE_STALL_SECONDS": "10", "HEDGEOPS_WATCHDOG_FILE": str(health)}
    frozen = cluster.worker("frozen", queues="prices", concurrency=1, extra_env=extra)
    node = node_of(cluster)
    assert health.exists()  # touched at start: what compose's healthcheck reads
    cluster.app.control.cancel_consumer("prices", destination=[node], reply=True, timeout=5)
    result = cluster.trigger(names.FETCH_SETTLEMENT_PRICES, as_of=AS_OF)
    assert cluster.app.control.ping(destination=[node], timeout=2)  # pings answered, nothing consumed
    code, report = check_queues(cluster)
    assert (code, report["state"]) == (2, "CRITICAL"), report
    assert report["queues"] == [
        {
            "queue": "prices",
            "messages": 1,
            "oldest_age_seconds": report["queues"][0]["oldest_age_seconds"],
            "consumers": 0,
        }  # type: ignore[index]
    ]
    assert frozen.wait(timeout=120) == 70
    log = (cluster.logs / "frozen.log").read_text(errors="replace")
    stalled = [json.loads(line) for line in log.splitlines() if '"consumer_stalled"' in line]
    assert len(stalled) == 1 and stalled[0]["queues"] == ["prices"], log[-3000:]
    # Its idle time counts from its consumer's connection at start (it never fetched).
    idle = re.search(r"holding none, fetched nothing for (\d+) s \(limit 10 s\)", stalled[0]["reason"])
    assert idle is not None and int(idle.group(1)) >= 10, stalled[0]["reason"]
    # The supervisor's part: a fresh worker. The message waited in the queue all along.
    cluster.worker("fresh", queues="prices", concurrency=1, extra_env=extra)
    summary = result.get(timeout=120)
    assert summary["job"] == "prices" and summary["as_of"] == AS_OF
    code, report = check_queues(cluster)
    assert (code, report["state"], report["queues"]) == (
        0,
        "OK",
        [{"queue": "prices", "messages": 0, "oldest_age_seconds": None, "consumers": 1}],
    )
