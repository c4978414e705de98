"""Embedded mode retries transient errors as a worker does (issue 21, point 7): an MTM run
in one `hedgeops run mtm --in-process` process on PostgreSQL, whose backend is terminated
while its INSERT waits on a lock the test holds, three times. Each task that met the error waits its back-off and runs
again (one `transient_error_retrying` line each); the run succeeds with every contract
valued once. Before, the first failure was final: the run ended `failed`."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cluster import BIN
from tests.faults.harness import AS_OF, effects, load_book

pytestmark = pytest.mark.postgres

BOOK = 400  # 20 chunks of 20: a run long enough to meet the lock, short enough for CI


def test_an_in_process_run_waits_out_terminated_connections(pg_url: str, tmp_path: Path) -> None:
    from workers.celery_app import create_app
    from workers.settings import load_settings

    drop = tmp_path / "incoming"
    drop.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(
        HEDGEOPS_DATABASE_URL=pg_url,
        HEDGEOPS_PRICE_DROP_DIR=str(drop),
        HEDGEOPS_DROP_SETTLE_SECONDS="0",
        HEDGEOPS_MTM_CHUNK_SIZE="20",
        HEDGEOPS_MTM_IN_DATABASE="false",  # the Python path: a chunk is several statements
        HEDGEOPS_LOG_FORMAT="json",
    )
    create_app(load_settings(database_url=pg_url, broker_url=None, result_backend=None, price_drop_dir=drop))
    load_book(BOOK, drop)
    done = subprocess.run(
        [str(BIN / "hedgeops"), "run", "prices", "--in-process", "--as-of", AS_OF],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    database = pg_url.rsplit("/", 1)[1]
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    holder = create_engine(pg_url).connect()
    log = tmp_path / "run.log"
    try:
        # The snapshots table locked against writes: a chunk's INSERT waits on the lock, an
        # active statement to terminate (no race with a run that would else end in 3 s).
        holder.execute(text("LOCK TABLE mtm_snapshots IN EXCLUSIVE MODE"))
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [str(BIN / "hedgeops"), "run", "mtm", "--in-process", "--as-of", AS_OF],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            terminated, deadline = 0, time.monotonic() + 300
            while terminated < 3 and proc.poll() is None and time.monotonic() < deadline:
                with admin.connect() as conn:
                    terminated += len(
                        conn.execute(
                            text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                                "AND wait_event_type = 'Lock' AND query ILIKE '%mtm_snapshots%'"
                            ),
                            {"d": database},
                        ).all()
                    )
                time.sleep(0.1)
            holder.rollback()  # the lock released: the next retry writes
            code = proc.wait(timeout=600)
    finally:
        holder.close()
        admin.dispose()
    output = log.read_text(errors="replace")
    retried = [json.loads(line) for line in output.splitlines() if '"transient_error_retrying"' in line]
    print(f"\nterminated {terminated} backends; {len(retried)} retries: {[r['in_seconds'] for r in retried]}")
    assert terminated == 3, output[-3000:]
    assert code == 0, output[-3000:]
    assert len(retried) >= 1 and {r["error"] for r in retried} == {"OperationalError"}
    found = effects(pg_url)
    assert (found.snapshots, found.distinct_keys, found.duplicated, found.conflicts, found.wrong_values) == (
        BOOK,
        BOOK,
        0,
        0,
        0,
    )
    assert "Traceback" not in output
