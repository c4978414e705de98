"""One beat (issue 20, point 7): two real beats on one broker. The second waits as a standby
and says so in one line; only the first sends. Killed with SIGKILL (no goodbye, its lock
left to lapse), the first is followed by the standby, which sends on from the first's
last send: the count of messages on the queue is the count of sends, and no send comes
sooner than the schedule's period after the one before it, across the change of beat."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests import services
from tests.cluster import Cluster

pytestmark = pytest.mark.e2e

EVERY = 6  # seconds: the re-send sweep, the one entry of this schedule
TTL = 3  # seconds: the lock outlives a dead beat this long, shorter than the period
BEAT = {"HEDGEOPS_CHUNK_RESEND_SWEEP": str(EVERY), "HEDGEOPS_BEAT_LOCK_TTL": str(TTL)}
SEND = "Scheduler: Sending due task resend-stale-chunks"


def events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    path = cluster.logs / f"{name}.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


def sends(cluster: Cluster, name: str) -> list[datetime]:
    return [datetime.fromisoformat(e["timestamp"]) for e in events(cluster, name) if str(e["event"]).startswith(SEND)]


def named(cluster: Cluster, name: str, event: str) -> list[dict[str, Any]]:
    return [e for e in events(cluster, name) if e["event"] == event]


def wait(probe: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing after {timeout}s")


def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(cluster: Cluster, tmp_path: Path) -> None:
    first = cluster.start("beat", "-s", str(tmp_path / "first"), "--loglevel", "INFO", name="beat-1", extra_env=BEAT)
    wait(lambda: named(cluster, "beat-1", "beat_active"))
    second = cluster.start("beat", "-s", str(tmp_path / "second"), "--loglevel", "INFO", name="beat-2", extra_env=BEAT)
    try:
        wait(lambda: named(cluster, "beat-2", "beat_standby"))
        wait(lambda: len(sends(cluster, "beat-1")) >= 3)  # the standby renewed its ask several times meanwhile
        cluster.stop(first, signal.SIGKILL)
        by_first = sends(cluster, "beat-1")
        wait(lambda: len(sends(cluster, "beat-2")) >= 2)
        cluster.stop(second)
    finally:
        cluster.stop(first, signal.SIGKILL)
        cluster.stop(second)
    by_second = sends(cluster, "beat-2")
    [standby] = named(cluster, "beat-2", "beat_standby")  # said once, in one line
    assert standby["holder"] == named(cluster, "beat-1", "beat_active")[0]["beat"]
    [active] = named(cluster, "beat-2", "beat_active")
    assert max(by_first) < datetime.fromisoformat(active["timestamp"]) < min(by_second)  # silent while standing by
    client = services.redis_client(cluster.env["HEDGEOPS_BROKER_URL"])
    queued = client.llen(cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"] + "valuation")
    client.close()
    assert queued == len(by_first) + len(by_second)  # every message on the queue is one logged send
    times = sorted(by_first + by_second)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # No send sooner than the period after the one before (a little for the log's own clock),
    # the take-over included: the standby knew when the dead beat last sent.
    assert min(gaps) > EVERY - 0.5, gaps
