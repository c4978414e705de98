"""End to end: no terminal call runs inside an open database transaction in a real `celery
worker` process (issue 19, point 5). The worker runs `tests.e2e.watched_app`: the real app,
with every call to the simulated terminal checked against the connections the process
holds (and written to a report the test reads), through the paths that call the terminal
most: the sync's read, the market guard's ticks, the trip's closes (one answered `requote`:
a fresh tick and a resend), the latch's closes and removals over later syncs, and an unknown
outcome (`timeout_but_fill`) resolved from the broker's positions and deals before anything
is sent again.

The scenario is tests/e2e/test_guard_latch.py's: it trips at sync 2 ((10000 - 8900) / 10000
* 100 = 11 % >= 10 %); the trader opens 88820 and 88821 and places 88830 (sync 3), opens
88822 and places 88831 (sync 4)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from db.mt5.guard_models import CloseIntent
from tests.cluster import Cluster, rows
from tests.e2e.test_guard_latch import OPENED, PLACED, scenario, seed, sync
from tests.mt5 import PASSWORD

pytestmark = pytest.mark.e2e


def test_no_terminal_call_of_a_worker_runs_inside_a_transaction(cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    seed(pg_url)
    world = scenario()
    world["accounts"][0]["close_answers"] = {"88811": ["requote"], "88820": ["timeout_but_fill"]}
    (tmp_path / "scenario.json").write_text(json.dumps(world))
    report = tmp_path / "calls.txt"
    env = {
        "HEDGEOPS_MT5_SCENARIO": str(tmp_path / "scenario.json"),
        "HEDGEOPS_MT5_SIMULATOR_STATE": str(tmp_path / "broker.json"),
        "HEDGEOPS_GUARD_UNKNOWN_AFTER_S": "1",
        "TEST_TRANSACTION_REPORT": str(report),
        "MT5_PW": PASSWORD,
    }
    worker = cluster.worker("watched-t1", queues="mt5.t1", concurrency=1, extra_env=env, app="tests.e2e.watched_app")
    try:
        for _ in range(5):
            sync(cluster, pg_url)
        deadline = time.monotonic() + 60
        while rows(pg_url, select(CloseIntent.id).where(CloseIntent.status != "confirmed")):
            assert time.monotonic() < deadline, cluster.log_tail("watched-t1")
            sync(cluster, pg_url)  # the unknown outcome is resolved once unknown_after has passed
    finally:
        cluster.stop(worker)

    seen = [line.split()[:2] for line in report.read_text(encoding="utf-8").splitlines()]
    assert [call for where, call in seen if where == "inside"] == [], cluster.log_tail("watched-t1")
    made = Counter(call for _, call in seen)
    # the watch saw the paths it is for: reads, ticks, orders sent, the look that resolves an unknown outcome
    assert {"login", "account_info", "positions_get", "orders_get", "symbol_info_tick", "history_deals_get"} <= set(
        made
    )
    assert made["order_send"] >= 1 + len(OPENED) + len(PLACED) + 1  # each close and removal, and the requote's resend
    journal = json.loads((tmp_path / "broker.json").read_text(encoding="utf-8"))["orders"]
    filled = Counter(o["request"]["position"] or o["request"]["order"] for o in journal if o["filled"])
    assert filled == {t: 1 for t in (88811, *OPENED, *PLACED)}  # nothing filled twice, the unknown one included
    assert {s for (s,) in rows(pg_url, select(CloseIntent.status))} == {"confirmed"}
