"""End to end: the drawdown guard closes each position exactly once through crashes and
duplicates, on real `celery worker` processes (one per terminal queue), Redis, PostgreSQL
and the simulated broker that remembers (its state file is the broker: positions, deals
and the journal of every order it received, shared by every process).

The account: peak 10000.00 at the first sync, equity 8900.00 from the second:
(10000 - 8900) / 10000 * 100 = 11 % >= the execution level 10 %."""

from __future__ import annotations

import json
import signal
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
from db.mt5.guard_models import CloseIntent
from tests.cluster import Cluster, rows
from tests.mt5 import PASSWORD, SYMBOLS, account, position

pytestmark = pytest.mark.e2e

LOGIN = 5001
TICKETS = (88811, 88812, 88813)


def scenario(**more: Any) -> dict[str, Any]:
    spec = account(
        LOGIN,
        equity=[10000.0, 8900.0],
        positions=[position(t, price_open=1.085 + i * 0.0001) for i, t in enumerate(TICKETS)],
        **more,
    )
    return {"symbols": SYMBOLS, "accounts": [spec]}


def seed(url: str) -> None:
    with session_factory(url)() as s:
        add_account(
            s,
            AccountSpec(
                login=LOGIN,
                server="Sim-Demo",
                terminal="t1",
                currency="USD",
                magic_numbers=(7,),
                credential_ref="env:MT5_PW",
            ),
            now=datetime.now(UTC),
        )
        s.commit()


def journal(state: Path) -> list[dict[str, Any]]:
    return list(json.loads(state.read_text(encoding="utf-8"))["orders"]) if state.exists() else []


def filled(state: Path) -> Counter[int]:
    return Counter(o["request"]["position"] for o in journal(state) if o["filled"])


def intents(url: str) -> dict[int, str]:
    return {t: s for t, s in rows(url, select(CloseIntent.ticket, CloseIntent.status))}


def sync(cluster: Cluster, url: str, timeout: float = 60) -> None:
    """One cycle of t1, to its end (a cycle a killed worker left running is re-sent by Celery)."""
    before = {r for (r,) in rows(url, select(BatchRun.id).where(BatchRun.job == "mt5_sync:t1"))}
    cluster.trigger("hedgeops.mt5.run_sync_cycle", terminal="t1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = rows(url, select(BatchRun.id, BatchRun.status).where(BatchRun.job == "mt5_sync:t1"))
        new = [status for run_id, status in runs if run_id not in before]
        if new and all(status != "running" for status in new):
            return
        time.sleep(0.3)
    raise AssertionError(f"the cycle did not end in {timeout}s")


def until_all_closed(cluster: Cluster, url: str, timeout: float = 90) -> None:
    """Syncs until every intent is confirmed: the unknown ones are resolved after
    HEDGEOPS_GUARD_UNKNOWN_AFTER_S (2 s here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if intents(url) and set(intents(url).values()) == {"confirmed"}:
            return
        time.sleep(2.2)
        sync(cluster, url)
    raise AssertionError(f"intents not all confirmed: {intents(url)}")


def env_for(tmp_path: Path, answers: dict[str, list[str]] | None = None, **more: str) -> dict[str, str]:
    (tmp_path / "scenario.json").write_text(json.dumps(scenario(close_answers=answers or {})))
    (tmp_path / "faults").mkdir(exist_ok=True)
    return {
        "HEDGEOPS_MT5_SCENARIO": str(tmp_path / "scenario.json"),
        "HEDGEOPS_MT5_SIMULATOR_STATE": str(tmp_path / "broker.json"),
        "MT5_PW": PASSWORD,
        "HEDGEOPS_GUARD_UNKNOWN_AFTER_S": "2",
        "HEDGEOPS_FAULT_DIR": str(tmp_path / "faults"),
        "HEDGEOPS_MT5_CYCLE_STALE_AFTER": "30",
        **more,
    }


@pytest.mark.parametrize("point", ["after_intent_commit", "before_answer_recorded"])
def test_a_worker_killed_mid_close_closes_each_position_once(
    cluster: Cluster, pg_url: str, tmp_path: Path, point: str
) -> None:
    """The pool process SIGKILLs itself at `point` of the first close: between committing
    the attempt and order_send, or between order_send (filled) and recording the answer.
    Celery redelivers the chunk to a fresh process; the intent found `sent` is resolved from
    the broker before anything is sent again."""
    seed(pg_url)
    env = env_for(tmp_path, HEDGEOPS_FAULT_INJECT=point)
    worker = cluster.worker("guard-t1", queues="mt5.t1", concurrency=1, extra_env=env)
    try:
        sync(cluster, pg_url)  # the peak
        sync(cluster, pg_url)  # the breach: a process dies at the first close
        assert (tmp_path / "faults" / f"hedgeops-fault-{point}").exists(), cluster.log_tail("guard-t1")
        until_all_closed(cluster, pg_url)
    finally:
        cluster.stop(worker)
    assert filled(tmp_path / "broker.json") == {t: 1 for t in TICKETS}
    assert intents(pg_url) == {t: "confirmed" for t in TICKETS}
    if point == "after_intent_commit":  # the first attempt never reached the broker: sent again once
        assert len(journal(tmp_path / "broker.json")) == len(TICKETS)


def test_two_workers_and_a_redelivered_chunk_close_each_position_once(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    """Two worker processes on the terminal's queue, and every chunk of the breaching sync
    delivered twice at once (a redelivery): one filled close per ticket."""
    seed(pg_url)
    # Each close is refused twice (no connection: back-off 0.2 s, 0.5 s), so the breaching
    # sync is still at work when its chunk comes again.
    env = env_for(tmp_path, answers={str(t): ["connection", "connection", "done"] for t in TICKETS})
    workers = [cluster.worker(f"guard-dup-{n}", queues="mt5.t1", concurrency=1, extra_env=env) for n in (1, 2)]
    try:
        sync(cluster, pg_url)
        cluster.trigger("hedgeops.mt5.run_sync_cycle", terminal="t1")
        run = cluster.wait_for(
            select(BatchRun).where(BatchRun.job == "mt5_sync:t1", BatchRun.status == "running"), timeout=30
        )
        for _ in range(2):  # the same chunk again, twice, while the first is at work
            cluster.trigger(
                "hedgeops.mt5.sync_accounts",
                run_id=run.id,
                terminal="t1",
                chunk_no=0,
                account_ids=[_account_id(pg_url)],
            )
        until_all_closed(cluster, pg_url)
    finally:
        for worker in workers:
            cluster.stop(worker, signal.SIGTERM)
    assert filled(tmp_path / "broker.json") == {t: 1 for t in TICKETS}
    assert intents(pg_url) == {t: "confirmed" for t in TICKETS}
    logs = "".join(cluster.log_tail(f"guard-dup-{n}") for n in (1, 2))
    received = logs.count("hedgeops.mt5.sync_accounts[")  # the peak's chunk, the breach's and its two copies
    assert received >= 4, logs


def _account_id(url: str) -> int:
    from db.mt5.models import Mt5Account

    return int(rows(url, select(Mt5Account.id).where(Mt5Account.login == LOGIN))[0][0])
