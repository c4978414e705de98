"""A message for another database is dead-lettered, on real processes (issue 20, point 1):
a worker of database X takes a trigger sent by a CLI of database Y, gives it back
HEDGEOPS_FOREIGN_MESSAGE_REQUEUES times (one warning line each), then sets it aside once
(one audit row in X, one log line, one alert naming both fingerprints); nothing is left
on the broker, Flower shows it DEAD_LETTERED, and the waiting CLI says which database the
message was for, exit 2."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from db.engine import database_fingerprint, dispose_all
from db.migrate import upgrade
from db.models import AuditEvent, BatchRun
from tests import services
from tests.cluster import BIN, Cluster, rows
from tests.e2e.test_operations import flower_env, free_port, get, start_flower, until  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

REQUEUES = 3
AUTH = ("ops", "s3cret-flower")


@pytest.fixture
def other_database() -> Iterator[str]:
    url = services.create_pg_database()
    upgrade(url)
    dispose_all()
    yield url
    dispose_all()
    services.drop_pg_database(url)


def flower_state(port: int, task_id: str) -> str | None:
    code, body = get(f"http://127.0.0.1:{port}/api/task/info/{task_id}", AUTH)
    return json.loads(body).get("state") if code == 200 else None


def log_events(cluster: Cluster, name: str) -> list[dict[str, object]]:
    lines = (cluster.logs / f"{name}.log").read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_a_message_for_another_database_is_dead_lettered_once(
    cluster: Cluster, other_database: str, flower_env: dict[str, str], tmp_path: Path
) -> None:
    ours, theirs = cluster.env["HEDGEOPS_DATABASE_URL"], other_database
    worker = cluster.worker(
        "x", queues="valuation", concurrency=1, extra_env={"HEDGEOPS_FOREIGN_MESSAGE_REQUEUES": "3"}
    )
    port = free_port()
    flower = start_flower(flower_env, port, tmp_path / "flower.log")
    try:
        until(lambda: json.loads(get(f"http://127.0.0.1:{port}/api/workers", AUTH)[1] or "{}"))
        cli = subprocess.run(
            [str(BIN / "hedgeops"), "run", "mtm", "--as-of", "2026-10-21", "--wait", "--timeout", "120"],
            env={**cluster.env, "HEDGEOPS_DATABASE_URL": theirs},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        task_id = cli.stderr.split(" as task ")[1].split(";")[0]
        in_flower = until(lambda: flower_state(port, task_id) == "DEAD_LETTERED")
    finally:
        cluster.stop(flower)
        cluster.stop(worker)
    assert in_flower  # Flower shows the task in a state of its own
    fp_ours, fp_theirs = database_fingerprint(ours), database_fingerprint(theirs)
    _sent, *rest = cli.stderr.strip().splitlines()
    assert (cli.returncode, rest) == (
        2,
        [
            f"hedgeops: task {task_id} was dead-lettered: it was for database {fp_theirs} (this CLI's "
            f"HEDGEOPS_DATABASE_URL), but the worker that took it serves database {fp_ours}; give the workers "
            "and this CLI the same HEDGEOPS_DATABASE_URL (or separate environments with HEDGEOPS_REDIS_KEY_PREFIX)"
        ],
    ), cli.stderr

    [audit] = rows(ours, select(AuditEvent).where(AuditEvent.event_type == "message_dead_lettered"))
    assert (audit[0].entity_type, audit[0].entity_id) == ("task", task_id)
    assert {k: audit[0].details[k] for k in ("reason", "database", "ours", "deliveries")} == {
        "reason": "foreign_database",
        "database": fp_theirs,
        "ours": fp_ours,
        "deliveries": REQUEUES + 1,  # given back three times, set aside at the fourth delivery
    }
    assert rows(ours, select(BatchRun.id).where(BatchRun.as_of_date == date(2026, 10, 21))) == []  # never ran
    assert rows(theirs, select(BatchRun.id)) == []

    client = services.redis_client(cluster.env["HEDGEOPS_BROKER_URL"])
    prefix = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"]
    assert (client.llen(prefix + "valuation"), client.hlen(prefix + "unacked")) == (0, 0)
    client.close()

    events = log_events(cluster, "x")
    refused = [e for e in events if e.get("event") == "task_of_another_database_refused"]
    dead = [e for e in events if e.get("event") == "message_dead_lettered"]
    alerts = [e for e in events if e.get("kind") == "message_dead_lettered"]
    assert [e["delivery"] for e in refused] == [1, 2, 3]
    assert [(e["task_id"], e["database"], e["ours"]) for e in dead] == [(task_id, fp_theirs, fp_ours)]
    assert len(alerts) == 1 and fp_theirs in str(alerts[0]["message"]) and fp_ours in str(alerts[0]["message"])
    assert "Traceback" not in (cluster.logs / "x.log").read_text(errors="replace")
