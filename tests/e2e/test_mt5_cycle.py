"""End to end: one real worker process per terminal (`-Q mt5.t1 -c 1`, `-Q mt5.t2 -c 1`),
beat running each terminal's cycle every 2 seconds, Redis and PostgreSQL. Terminal t2 is
unreachable: its cycle retries its accounts with back-off and ends failed, while t1's
cycles go on syncing t1's accounts, one cycle at a time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5.accounts import AccountSpec
from db.engine import session_factory
from db.models import BatchRun
from db.mt5.accounts import add_account, load_expected
from db.mt5.models import PositionSnapshot, ReconciliationLog
from tests.cluster import Cluster, rows
from tests.mt5 import PASSWORD, SYMBOLS, account, expected, position

pytestmark = pytest.mark.e2e

T1_LOGINS, T2_LOGINS = (5001, 5002, 5003), (6001, 6002, 6003)
ATTEMPTS = 6  # the first and 5 retries with back-off (tasks.mt5.Mt5SyncTask)


def scenario() -> dict[str, Any]:
    t1 = [
        account(login, positions=[position(login * 10 + 1), position(login * 10 + 2, price_open=1.0853)])
        for login in T1_LOGINS
    ]
    t2 = [account(login, terminal="t2", positions=[position(login * 10 + 1)]) for login in T2_LOGINS]
    return {"symbols": SYMBOLS, "terminals": {"t2": {"unreachable": True}}, "accounts": t1 + t2}


def seed(url: str) -> None:
    now = datetime.now(UTC)
    with session_factory(url)() as s:
        for login in T1_LOGINS + T2_LOGINS:
            add_account(
                s,
                AccountSpec(
                    login=login,
                    server="Sim-Demo",
                    terminal="t1" if login in T1_LOGINS else "t2",
                    currency="USD",
                    magic_numbers=(7,),
                    credential_ref="env:MT5_PW",
                ),
                now=now,
            )
        # position 1 of each t1 account as expected; position 2 opened 30 points from its entry
        wanted = [expected(login, f"S{login}-{n}", ticket=login * 10 + n) for login in T1_LOGINS for n in (1, 2)]
        load_expected(s, list(enumerate(wanted, start=2)), file="e2e", now=now)
        s.commit()


def cycles(url: str, terminal: str) -> list[BatchRun]:
    return [
        r for (r,) in rows(url, select(BatchRun).where(BatchRun.job == f"mt5_sync:{terminal}").order_by(BatchRun.id))
    ]


def wait_until(url: str, timeout: float = 180) -> None:
    """t1 has ended at least two cycles and t2 its first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t1 = [r for r in cycles(url, "t1") if r.finished_at is not None]
        t2 = [r for r in cycles(url, "t2") if r.finished_at is not None]
        if len(t1) >= 2 and t2:
            return
        time.sleep(0.5)
    raise AssertionError(f"cycles did not end in {timeout}s: t1 {cycles(url, 't1')}, t2 {cycles(url, 't2')}")


def test_a_worker_per_terminal_and_beat(cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    (tmp_path / "scenario.json").write_text(json.dumps(scenario()))
    seed(pg_url)
    env = {
        "HEDGEOPS_MT5_SCENARIO": str(tmp_path / "scenario.json"),
        "HEDGEOPS_MT5_TERMINALS": "t1,t2",
        "HEDGEOPS_MT5_SYNC_EVERY": "2",
        "HEDGEOPS_MT5_CYCLE_STALE_AFTER": "120",
        "MT5_PW": PASSWORD,
    }
    workers = [cluster.worker(f"mt5-{t}", queues=f"mt5.{t}", concurrency=1, extra_env=env) for t in ("t1", "t2")]
    beat = cluster.start("beat", "-s", str(tmp_path / "schedule"), "--loglevel", "INFO", name="mt5-beat", extra_env=env)
    try:
        wait_until(pg_url)
    finally:
        for proc in (beat, *workers):
            cluster.stop(proc)

    t1 = [r for r in cycles(pg_url, "t1") if r.finished_at is not None]
    assert {(r.status, r.trigger, r.exceptions) for r in t1} == {("succeeded", "beat", 0)}
    spans = sorted((r.started_at, r.finished_at) for r in cycles(pg_url, "t1") if r.finished_at is not None)
    assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans)), "t1 cycles overlapped"
    for run in t1:
        snapshots = rows(
            pg_url,
            select(PositionSnapshot.login, PositionSnapshot.error)
            .where(PositionSnapshot.batch_run_id == run.id)
            .order_by(PositionSnapshot.login),
        )
        assert [tuple(r) for r in snapshots] == [(login, None) for login in T1_LOGINS]
        recon = rows(
            pg_url,
            select(ReconciliationLog.ticket, ReconciliationLog.reason)
            .where(ReconciliationLog.batch_run_id == run.id)
            .order_by(ReconciliationLog.ticket),
        )
        # (1.0853 - 1.0850) / 0.00001 = 30 points: slippage beyond the tolerance of 10
        assert [tuple(r) for r in recon] == [
            (t, reason)
            for login in T1_LOGINS
            for t, reason in ((login * 10 + 1, "matched"), (login * 10 + 2, "slippage"))
        ]

    first_t2 = cycles(pg_url, "t2")[0]
    assert (first_t2.status, first_t2.exceptions) == ("failed", 3)
    assert first_t2.error.startswith("3 account(s) failed to sync: login 6001: initialize failed: terminal_unreachable")
    assert all(f"login {login}: " in first_t2.error for login in T2_LOGINS)  # each failed login, and why
    failed = rows(
        pg_url,
        select(PositionSnapshot.login, PositionSnapshot.attempt, PositionSnapshot.error_kind)
        .where(PositionSnapshot.batch_run_id == first_t2.id)
        .order_by(PositionSnapshot.login, PositionSnapshot.attempt),
    )
    assert [tuple(r) for r in failed] == [
        (login, n, "terminal_unreachable") for login in T2_LOGINS for n in range(ATTEMPTS)
    ]
    t2_synced = rows(
        pg_url,
        select(PositionSnapshot.id).where(PositionSnapshot.login.in_(T2_LOGINS), PositionSnapshot.error.is_(None)),
    )
    assert t2_synced == []
    # Each worker served its own terminal only.
    logs = {t: (cluster.logs / f"mt5-{t}.log").read_text(errors="replace") for t in ("t1", "t2")}
    assert "Retry in 2s" in logs["t2"] and "Retry in 0s" not in logs["t2"]  # backs off as documented
    assert '"terminal": "t1"' in logs["t1"] and '"terminal": "t2"' not in logs["t1"]
    assert '"terminal": "t2"' in logs["t2"] and '"terminal": "t1"' not in logs["t2"]
