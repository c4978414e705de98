"""Operations with real processes on Redis and PostgreSQL: the metrics endpoint of a worker
node with two pool processes, and a real Flower locked by `hedgeops flower`."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import BatchRun
from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import BIN, Cluster, rows

pytestmark = pytest.mark.e2e

AS_OF, D1 = "2026-11-20", "2026-11-19"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str, auth: tuple[str, str] | None = None, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def until(probe: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"nothing after {timeout}s")


def metric(body: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` that carry `labels`."""
    total = 0.0
    for line in body.splitlines():
        if line.startswith(f"{name}{{") and all(re.search(f'[{{,]{k}="{v}"', line) for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def book(n: int = 20) -> str:
    return contracts_csv(
        *(contract(f"AL-{i:03d}", quantity=str(10 + i)) for i in range(n)), contract("NI-1", underlying="LME-NI")
    )


class TestMetrics:
    def test_one_endpoint_per_node_sums_both_processes(self, cluster: Cluster, pg_url: str, drop_dir: Path) -> None:
        port = free_port()
        worker = cluster.worker("metrics", concurrency=2, extra_env={"HEDGEOPS_METRICS_PORT": str(port)})
        try:
            load_contracts_csv(book(), "book.csv")
            (drop_dir / "lme.csv").write_text(prices_csv(("LME-AL", D1, "2563.50")))
            started = cluster.trigger("hedgeops.nightly.run_nightly", as_of=AS_OF).get(timeout=60)
            run = cluster.wait_run(started["batch_run_id"])
            mtm = rows(pg_url, select(BatchRun).where(BatchRun.job == "mtm"))[0][0]
            assert mtm.chunks_total == 3  # 21 contracts in chunks of 7: work for both processes

            def scraped() -> str | None:
                body = get(f"http://127.0.0.1:{port}/metrics")[1]
                return body if metric(body, "hedgeops_runs_total", hedgeops_job="nightly") >= 1 else None

            body = until(scraped)
        finally:
            cluster.stop(worker)
        assert run["status"] == "completed_with_exceptions"  # LME-NI has no D-1 price
        assert metric(body, "hedgeops_runs_total", hedgeops_job="nightly", status="completed_with_exceptions") == 1
        assert metric(body, "hedgeops_snapshots_written_total", hedgeops_job="mtm", outcome="created") == mtm.created
        assert metric(body, "hedgeops_exceptions_total", hedgeops_job="mtm") == mtm.exceptions == 1
        assert metric(body, "hedgeops_price_missing_total", hedgeops_job="prices") == 1
        assert metric(body, "hedgeops_last_success_timestamp_seconds", hedgeops_job="effectiveness") > 0
        assert metric(body, "hedgeops_chunks_in_flight", hedgeops_job="mtm") == 0
        assert metric(body, "hedgeops_run_duration_seconds_count", hedgeops_job="nightly") == 1
        # Every queue the node consumes, read from the broker at the scrape: the night is over.
        assert metric(body, "hedgeops_queue_messages", queue="valuation") == 0
        assert 'hedgeops_queue_messages{queue="prices"}' in body
        assert 'job="' not in body.replace('hedgeops_job="', "")  # Prometheus' own label, never ours

    def test_a_taken_port_stops_the_worker_at_start(self, cluster: Cluster) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(RuntimeError, match=f"metrics port {port} cannot be bound"):
                cluster.worker("clash", concurrency=1, extra_env={"HEDGEOPS_METRICS_PORT": str(port)})


@pytest.fixture
def flower_env(cluster: Cluster) -> dict[str, str]:
    return {**cluster.env, "HEDGEOPS_FLOWER_USER": "ops", "HEDGEOPS_FLOWER_PASSWORD": "s3cret-flower"}


def start_flower(env: dict[str, str], port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "hedgeops"), "flower", "--port", str(port), *args],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class TestFlower:
    def test_refuses_to_start_without_credentials(self, cluster: Cluster, tmp_path: Path) -> None:
        env = {k: v for k, v in cluster.env.items() if not k.startswith("HEDGEOPS_FLOWER_")}
        result = subprocess.run(
            [str(BIN / "hedgeops"), "flower", "--port", str(free_port())],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "hedgeops: refusing to start Flower without credentials: set HEDGEOPS_FLOWER_USER and "
            "HEDGEOPS_FLOWER_PASSWORD (or pass --insecure-dev on a laptop)"
        ]

    def test_locked_applies_tasks_and_shows_a_run_that_did_not_succeed(
        self, cluster: Cluster, flower_env: dict[str, str], pg_url: str, drop_dir: Path, tmp_path: Path
    ) -> None:
        worker = cluster.worker("flower-worker")
        port = free_port()
        flower = start_flower(flower_env, port, tmp_path / "flower.log")
        auth = ("ops", "s3cret-flower")
        try:
            until(lambda: get(f"http://127.0.0.1:{port}/api/workers")[0] in (200, 401))
            assert get(f"http://127.0.0.1:{port}/api/workers")[0] == 401
            assert get(f"http://127.0.0.1:{port}/api/workers", ("ops", "wrong"))[0] == 401
            assert get(f"http://127.0.0.1:{port}/api/workers", auth)[0] == 200
            # /metrics names workers, hosts and tasks: behind the same credentials (issue 21, point 8)
            assert get(f"http://127.0.0.1:{port}/metrics")[0] == 401
            code, body = get(f"http://127.0.0.1:{port}/metrics", auth)
            assert code == 200 and "flower_" in body
            load_contracts_csv(contracts_csv(contract("A")), "c.csv")  # no price file: a price goes missing
            code, body = get(
                f"http://127.0.0.1:{port}/api/task/async-apply/hedgeops.prices.fetch_settlement_prices",
                auth,
                json.dumps({"kwargs": {"as_of": AS_OF}}).encode(),
            )
            assert code == 200, body
            task_id = json.loads(body)["task-id"]
            run = cluster.wait_for(
                select(BatchRun).where(
                    BatchRun.job == "prices", BatchRun.task_id == task_id, BatchRun.status != "running"
                )
            )
            assert run.status == "completed_with_exceptions"

            def state() -> str | None:
                answer = json.loads(get(f"http://127.0.0.1:{port}/api/task/result/{task_id}", auth)[1])
                return answer.get("state") if answer.get("state") not in (None, "PENDING", "STARTED") else None

            assert until(state) == "SUCCESS"  # a business outcome, not a failure (tasks.outcomes)
            result = json.loads(get(f"http://127.0.0.1:{port}/api/task/result/{task_id}", auth)[1])
            assert "completed_with_exceptions" in str(result.get("result"))
        finally:
            cluster.stop(flower)
            cluster.stop(worker)
        log = (tmp_path / "flower.log").read_text()
        assert "s3cret-flower" not in log and "127.0.0.1" in log  # bound to localhost, password kept out


def test_a_beat_that_cannot_start_says_so_in_one_event(cluster: Cluster, tmp_path: Path) -> None:
    beat = cluster.start("beat", "--schedule", str(tmp_path / "no" / "such" / "dir" / "schedule"), name="bad-beat")
    assert beat.wait(timeout=60) != 0
    lines = (cluster.logs / "bad-beat.log").read_text(errors="replace").splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["event"] for e in events if e["event"] == "process_failed"] == ["process_failed"]
    assert "Traceback" not in "\n".join(line for line in lines if not line.startswith("{"))
    assert len(lines) < 40  # the banner and a few events, not a line per character
