"""In Flower an ordinary night with exceptions is no traceback FAILURE (issue 20, point 5), on
real processes: a worker, a locked Flower and `hedgeops run nightly --wait` for a night with
no price file. The tasks that ended its runs show the state COMPLETED_WITH_EXCEPTIONS (the
worker's own task event), none is FAILURE, every entry of the night shows its as-of date
(its arguments, or the run's date after them), the result backend answers SUCCESS with the
outcome, and the CLI's exit code is still 5."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv
from tests.cluster import BIN, Cluster
from tests.e2e.test_operations import flower_env, free_port, get, start_flower, until  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

AS_OF = "2026-10-28"  # a date of its own: the e2e database is shared
AUTH = ("ops", "s3cret-flower")


def night_tasks(port: int) -> dict[str, dict[str, Any]]:
    body = get(f"http://127.0.0.1:{port}/api/tasks", AUTH)[1]
    return {k: v for k, v in json.loads(body).items() if AS_OF in f"{v.get('kwargs')} {v.get('result')}"}


def test_a_night_with_exceptions_is_no_failure_in_flower(
    cluster: Cluster, flower_env: dict[str, str], drop_dir: Path, tmp_path: Path
) -> None:
    load_contracts_csv(contracts_csv(contract("FLOWER-1")), "flower.csv")  # no price file: its price is missing
    worker = cluster.worker("outcomes-worker")
    port = free_port()
    flower = start_flower(flower_env, port, tmp_path / "flower.log")
    try:
        until(lambda: get(f"http://127.0.0.1:{port}/api/workers", AUTH)[0] == 200)
        until(lambda: json.loads(get(f"http://127.0.0.1:{port}/api/workers", AUTH)[1]))  # Flower sees the worker
        cli = subprocess.run(
            [str(BIN / "hedgeops"), "run", "nightly", "--as-of", AS_OF, "--wait", "--json"],
            env=cluster.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert cli.returncode == 5, cli.stderr  # completed_with_exceptions: the exit code is unchanged
        assert json.loads(cli.stdout)["status"] == "completed_with_exceptions"

        def settled() -> dict[str, dict[str, Any]] | None:
            tasks = night_tasks(port)
            ended = [t for t in tasks.values() if t["state"] == "COMPLETED_WITH_EXCEPTIONS"]
            return tasks if len(ended) == 3 else None  # the prices step, the MTM's last chunk, the nightly

        tasks = until(settled)
        everything = json.loads(get(f"http://127.0.0.1:{port}/api/tasks", AUTH)[1])
        ended = next(k for k, t in tasks.items() if t["name"] == "hedgeops.prices.fetch_settlement_prices")
        answer = json.loads(get(f"http://127.0.0.1:{port}/api/task/result/{ended}", AUTH)[1])
    finally:
        cluster.stop(flower)
        cluster.stop(worker)
    ended_by = sorted(t["name"] for t in tasks.values() if t["state"] == "COMPLETED_WITH_EXCEPTIONS")
    assert [t for t in everything.values() if t["state"] == "FAILURE"] == []
    # Every task of the night shows its as-of date: run_nightly and its steps by their arguments,
    # chunks and advance steps after theirs (found above by AS_OF), so every task Flower saw is one.
    assert len(tasks) == len(everything), sorted(t["name"] for t in everything.values())
    # The runs that ended with exceptions: the nightly (its last step), the prices, the MTM (its last chunk).
    assert ended_by == [
        "hedgeops.nightly.advance_nightly",
        "hedgeops.prices.fetch_settlement_prices",
        "hedgeops.valuation.compute_mtm_chunk",
    ]
    assert {t["state"] for t in tasks.values()} == {"SUCCESS", "COMPLETED_WITH_EXCEPTIONS"}
    assert "Traceback" not in str(tasks[ended]) and "completed_with_exceptions" in str(tasks[ended]["result"])
    assert answer["state"] == "SUCCESS"
    assert [r["status"] for r in answer["result"]["ended_runs"]] == ["completed_with_exceptions"]
