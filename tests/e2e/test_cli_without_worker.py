"""`run --wait` with no worker on the queue: a clear message and exit 4, never a hang."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cluster import BIN, Cluster

pytestmark = pytest.mark.e2e


def test_wait_without_a_worker_says_so_and_exits_4(cluster: Cluster, tmp_path: Path) -> None:
    result = subprocess.run([str(BIN / "hedgeops"), "run", "nightly", "--as-of", "2026-11-20", "--wait",
                             "--timeout", "2"], env=cluster.env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 4
    assert "no worker answered within 2s" in result.stderr
