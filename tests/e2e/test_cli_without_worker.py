"""`run --wait` with no worker on the queue: a clear message and exit 4, never a hang."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cluster import BIN, Cluster

pytestmark = pytest.mark.e2e


def test_wait_without_a_worker_says_so_at_once_sends_nothing_and_exits_4(cluster: Cluster, tmp_path: Path) -> None:
    import json

    result = subprocess.run(
        [str(BIN / "hedgeops"), "run", "nightly", "--as-of", "2026-11-20", "--wait", "--json"],
        env=cluster.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        "hedgeops: no worker consumes queue prices, valuation (0 worker(s) answered): start one "
        "(README: Running distributed by hand); nothing sent"
    ]
    assert json.loads(result.stdout)["status"] == "no_worker"
    with cluster.app.connection_for_write() as conn:
        assert conn.default_channel._size("valuation") == 0  # nothing enqueued
