"""Modes are explicit, on real processes (issue 20, point 1): a worker given a broker but no
database URL, and a beat given a server database but no broker, stop at start with one line
naming both settings (exit 2) and create nothing; the CLI refuses in-process work on a
server database unless told `--in-process`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cluster import BIN
from tests.conftest import truncate_all

pytestmark = pytest.mark.e2e


def started(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    full.update(env)
    return subprocess.run(cmd, env=full, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_worker_with_a_broker_and_no_database_url_stops_and_creates_nothing(tmp_path: Path) -> None:
    result = started(
        [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "--pool", "solo"],
        {"HEDGEOPS_BROKER_URL": "redis://127.0.0.1:6379/14"},
        tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hedgeops: HEDGEOPS_BROKER_URL is set but HEDGEOPS_DATABASE_URL is not: workers and this process would "
        "each use a SQLite file of their own; set HEDGEOPS_DATABASE_URL (postgresql+psycopg://...) or unset "
        "HEDGEOPS_BROKER_URL"
    ]
    assert list(tmp_path.iterdir()) == []


def test_beat_and_the_cli_on_a_server_database_without_a_broker(pg_url: str, tmp_path: Path) -> None:
    env = {"HEDGEOPS_DATABASE_URL": pg_url, "HEDGEOPS_NIGHTLY_ENABLED": "false"}
    beat = started([str(BIN / "celery"), "-A", "workers.celery_app", "beat"], env, tmp_path)
    assert beat.returncode == 2
    [line] = beat.stderr.strip().splitlines()
    assert line.startswith("hedgeops: HEDGEOPS_DATABASE_URL is a server database but HEDGEOPS_BROKER_URL is not set")
    refused = started([str(BIN / "hedgeops"), "run", "mtm", "--as-of", "2026-11-20"], env, tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [line]
    ran = started(
        [str(BIN / "hedgeops"), "run", "mtm", "--as-of", "2026-11-20", "--in-process", "--json"], env, tmp_path
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []  # no celerybeat-schedule, no SQLite file
    truncate_all(pg_url)  # the module clusters of other tests share the database
