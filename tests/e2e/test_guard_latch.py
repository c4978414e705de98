"""End to end: the latch holds on a real `celery worker` process (queue mt5.t1), Redis,
PostgreSQL and the simulated broker that remembers (its state file: positions, pending
orders and the journal of every order it received).

The account: peak 10000.00 at the first sync, 8900.00 from the second: (10000 - 8900) /
10000 * 100 = 11 % >= the execution level 10 %: it trips at sync 2 and 88811 is closed.
After the trip the trader opens 88820 and 88821 and places the pending order 88830 (seen
at sync 3), then opens 88822 and places 88831 (sync 4); sync 5 finds nothing new."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5.accounts import AccountSpec
from db.engine import session_factory
from db.models import BatchRun
from db.mt5.accounts import add_account
from db.mt5.guard_models import CloseIntent, DrawdownAlert, Notification
from tests.cluster import Cluster, rows
from tests.mt5 import PASSWORD, SYMBOLS, account, pending, position

pytestmark = pytest.mark.e2e

LOGIN = 5001
OPENED = {88820: 2, 88821: 2, 88822: 3}  # ticket: the step (sync - 1) the trader opens it at
PLACED = {88830: 2, 88831: 3}


def scenario() -> dict[str, Any]:
    positions = [position(88811), *(position(t, from_step=s) for t, s in OPENED.items())]
    orders = [pending(t, from_step=s) for t, s in PLACED.items()]
    return {
        "symbols": SYMBOLS,
        "accounts": [account(LOGIN, equity=[10000.0, 8900.0], positions=positions, orders=orders)],
    }


def seed(url: str) -> None:
    with session_factory(url)() as s:
        spec = AccountSpec(
            login=LOGIN,
            server="Sim-Demo",
            terminal="t1",
            currency="USD",
            magic_numbers=(7,),
            credential_ref="env:MT5_PW",
        )
        add_account(s, spec, now=datetime.now(UTC))
        s.commit()


def sync(cluster: Cluster, url: str, timeout: float = 60) -> None:
    """One cycle of t1, to its end."""
    before = {r for (r,) in rows(url, select(BatchRun.id).where(BatchRun.job == "mt5_sync:t1"))}
    cluster.trigger("hedgeops.mt5.run_sync_cycle", terminal="t1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = rows(url, select(BatchRun.id, BatchRun.status).where(BatchRun.job == "mt5_sync:t1"))
        new = [status for run_id, status in runs if run_id not in before]
        if new and all(status != "running" for status in new):
            return
        time.sleep(0.2)
    raise AssertionError(f"the cycle did not end in {timeout}s")


def test_positions_and_orders_of_a_tripped_account_are_closed_and_deleted_once(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    seed(pg_url)
    (tmp_path / "scenario.json").write_text(json.dumps(scenario()))
    env = {
        "HEDGEOPS_MT5_SCENARIO": str(tmp_path / "scenario.json"),
        "HEDGEOPS_MT5_SIMULATOR_STATE": str(tmp_path / "broker.json"),
        "MT5_PW": PASSWORD,
    }
    worker = cluster.worker("latch-t1", queues="mt5.t1", concurrency=1, extra_env=env)
    try:
        for _ in range(5):
            sync(cluster, pg_url)
    finally:
        cluster.stop(worker)

    broker = json.loads((tmp_path / "broker.json").read_text(encoding="utf-8"))
    journal = broker["orders"]
    # nothing ever sent twice for a ticket: each position closed once, each order deleted once
    assert Counter(o["request"]["position"] or o["request"]["order"] for o in journal) == {
        t: 1 for t in (88811, *OPENED, *PLACED)
    }, cluster.log_tail("latch-t1")
    assert all(o["filled"] for o in journal)
    left = broker["accounts"][str(LOGIN)]
    assert (left["positions"], left.get("pending_orders", [])) == ([], [])
    statuses = {(t, k): s for t, k, s in rows(pg_url, select(CloseIntent.ticket, CloseIntent.kind, CloseIntent.status))}
    assert statuses == {
        (88811, "execution"): "confirmed",
        **{(t, "reopened"): "confirmed" for t in OPENED},
        **{(t, "pending_order"): "confirmed" for t in PLACED},
    }
    alerts = Counter(k.split(":")[2] for (k,) in rows(pg_url, select(DrawdownAlert.idempotency_key)))
    notified = Counter(kind for (kind,) in rows(pg_url, select(Notification.kind)))
    for told in (alerts, notified):  # each found position and order alerted once, the trip once
        assert (told["execution"], told["reopened"], told["pending_order"]) == (1, 3, 2)
    per_ticket = {k for (k,) in rows(pg_url, select(DrawdownAlert.idempotency_key)) if ":execution:" not in k}
    assert per_ticket >= {f"DDALERT:{LOGIN}:reopened:ep1:{t}" for t in OPENED} | {
        f"DDALERT:{LOGIN}:pending_order:ep1:{t}" for t in PLACED
    }  # one alert for each ticket, none for another (the counts above: no more than these)
