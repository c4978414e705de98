"""Retry lines during a database outage, on a real worker (issue 21, point 9): a worker whose
database does not answer (a closed port) on a Redis server of its own, ten triggers that
retry with back-off. Its log writes the first retry line of each quiet period and then one
`task_retries_summarized` line per window (HEDGEOPS_RETRY_LOG_EVERY) per process; the
retries the log accounts for (written plus summarized) are exactly those the worker's
events report, nothing lost at its shutdown."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from tasks import names
from tests.cluster import Cluster
from tests.faults.harness import OwnRedis, own_cluster, wait_until

pytestmark = pytest.mark.e2e

#: A PostgreSQL URL nothing answers: every task's first query is an OperationalError, retried.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/hedgeops"
RETRIES = 40


class RetryEvents(threading.Thread):
    """Counts the worker's `task-retried` events (Celery's own account of its retries)."""

    def __init__(self, app: Any) -> None:
        super().__init__(daemon=True)
        self.app, self.count, self.ready = app, 0, threading.Event()
        self.receiver: Any = None

    def run(self) -> None:
        with self.app.connection() as conn:
            self.receiver = self.app.events.Receiver(conn, handlers={"task-retried": self._on})
            self.ready.set()
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def _on(self, _event: dict[str, Any]) -> None:
        self.count += 1

    def stop(self) -> None:
        self.receiver.should_stop = True
        self.join(timeout=10)


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{")]


def stop_main(cluster: Cluster, proc: Any) -> None:
    """SIGTERM to the worker's main process alone: a warm shutdown that ends its pool."""
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def test_retries_in_a_database_outage_are_summarized(tmp_path: Path, redis_server: OwnRedis) -> None:
    cluster = own_cluster(UNREACHABLE, tmp_path, redis_server.url, HEDGEOPS_RETRY_LOG_EVERY="5")
    events = RetryEvents(cluster.app)
    events.start()
    assert events.ready.wait(30)
    try:
        worker = cluster.worker("w", queues="prices", concurrency=2)
        for day in range(1, 11):
            cluster.trigger(names.FETCH_SETTLEMENT_PRICES, as_of=f"2026-10-{day:02d}")
        wait_until(lambda: events.count >= RETRIES, 240, f"{RETRIES} retries")
        stop_main(cluster, worker)  # its pool's last retries and their events come before it exits
    finally:
        events.stop()
        cluster.stop_all()
    retried = events.count
    lines = log_lines(tmp_path / "w.log")
    written = [e for e in lines if e.get("logger") == "celery.app.trace" and "] retry: " in str(e.get("event"))]
    summaries = [e for e in lines if e.get("event") == "task_retries_summarized"]
    summarized = sum(int(e["retries"]) for e in summaries)
    received = [e for e in lines if e.get("logger") == "celery.worker.strategy"]
    print(
        f"\n{retried} retries (events); log: {len(written)} retry lines written, {len(summaries)} summaries "
        f"({summarized} retries, {sum(int(e['received_again']) for e in summaries)} received again), "
        f"{len(received)} receipt lines for 10 messages"
    )
    assert retried >= RETRIES
    assert len(written) + summarized == retried  # every retry accounted for, once
    # Each written retry line opened a window of its process; a window with retries ends in a summary.
    assert len(written) <= len(summaries) + 2  # two pool processes
    assert len(received) <= 10 + len(summaries) + 1  # each message once, then one per quiet period
    assert all(e["last_error"] is None or "OperationalError" in e["last_error"] for e in summaries)
