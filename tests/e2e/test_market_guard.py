"""End to end: the market guard (issue 19, point 7) on a real `celery worker` process (queue
mt5.t1), Redis, PostgreSQL and the simulated broker that remembers (its journal of every
order it received), with its settings from the environment as in production.

A 3 % weekend gap: EURUSD's last quote on Friday 2026-11-20 21:59 UTC is bid 1.08600, the
first on Sunday 22:00:05 UTC is 1.11858: (1.11858 - 1.08600) / 1.08600 * 100 = 3 % > 2 %.
EURUSD's policy is close_on_gap: its position is closed once, XAUUSD's is left alone.

A spread at 8x its median: EURUSD's spread is 10 points for five syncs, then 80 (80 / 10 =
8 > 5) as the equity falls from 10000.00 to 8900.00 ((10000 - 8900) / 10000 * 100 = 11 % >=
10 %): the account trips; XAUUSD's position is closed at once, EURUSD's waits (the default
policy, hold_on_spread) until max_hold_s (HEDGEOPS_GUARD_MARKET) after its intent, then goes
once while the spread is still wide."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.mt5.guard_models import CloseIntent, DrawdownAlert, Notification
from tests.cluster import Cluster, rows
from tests.e2e.test_guard_latch import LOGIN, seed, sync
from tests.mt5 import PASSWORD, account, position

pytestmark = pytest.mark.e2e

FRIDAY = datetime(2026, 11, 20, 21, 59, tzinfo=UTC)
SUNDAY_OPEN = datetime(2026, 11, 22, 22, 0, 5, tzinfo=UTC)
XAU = {"digits": 2, "point": 0.01, "volume_step": 0.01, "contract_size": 100, "bid": [2650.0]}
MAX_HOLD_S = 3
LOG = ""


def eurusd(**more: Any) -> dict[str, Any]:
    return {"digits": 5, "point": 0.00001, "volume_step": 0.01, "contract_size": 100000, **more}


def positions() -> list[dict[str, Any]]:
    return [position(88811), position(88812, symbol="XAUUSD", price_open=2600.0)]


def worker_env(tmp_path: Path, scenario: dict[str, Any], **settings: str) -> dict[str, str]:
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    return {
        "HEDGEOPS_MT5_SCENARIO": str(tmp_path / "scenario.json"),
        "HEDGEOPS_MT5_SIMULATOR_STATE": str(tmp_path / "broker.json"),
        "MT5_PW": PASSWORD,
        **settings,
    }


def journal(tmp_path: Path) -> list[dict[str, Any]]:
    return list(json.loads((tmp_path / "broker.json").read_text(encoding="utf-8"))["orders"])


def closes(tmp_path: Path) -> Counter[int]:
    return Counter(o["request"]["position"] for o in journal(tmp_path) if o["filled"])


def alert_kinds(url: str) -> Counter[str]:
    return Counter(t for (t,) in rows(url, select(DrawdownAlert.alert_type)))


def test_a_weekend_gap_closes_the_gapped_symbol_once(cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    """XAUUSD gaps 3 % too (2650.00 to 2729.50: (2729.5 - 2650) / 2650 * 100 = 3 %), under the
    default policy (hold_on_spread: a gap is told, not closed): alerted once, not closed."""
    seed(pg_url)
    scenario = {
        "step_times": [FRIDAY.isoformat(), SUNDAY_OPEN.isoformat()],
        "symbols": {"EURUSD": eurusd(bid=[1.086, 1.11858]), "XAUUSD": {**XAU, "bid": [2650.0, 2729.5]}},
        "accounts": [account(LOGIN, positions=positions())],
    }
    env = worker_env(tmp_path, scenario, HEDGEOPS_GUARD_MARKET='{"symbols": {"EURUSD": {"action": "close_on_gap"}}}')
    worker = cluster.worker("market-gap-t1", queues="mt5.t1", concurrency=1, extra_env=env)
    try:
        for _ in range(4):
            sync(cluster, pg_url)
    finally:
        cluster.stop(worker)

    assert closes(tmp_path) == {88811: 1}, cluster.log_tail("market-gap-t1")
    assert len(journal(tmp_path)) == 1  # nothing else was ever sent
    assert rows(pg_url, select(CloseIntent.idempotency_key, CloseIntent.kind, CloseIntent.status)) == [
        ("CLOSE:5001:88811:gap", "market_gap", "confirmed")
    ]
    gap_msc = int(SUNDAY_OPEN.timestamp() * 1000)
    alerts = rows(pg_url, select(DrawdownAlert.idempotency_key, DrawdownAlert.action, DrawdownAlert.current_pct))
    assert sorted(alerts) == [
        (f"DDALERT:{LOGIN}:market_gap:EURUSD:t{gap_msc}", "close", pytest.approx(3)),
        (f"DDALERT:{LOGIN}:market_gap:XAUUSD:t{gap_msc}", "alert", pytest.approx(3)),
    ]
    assert [k for (k,) in rows(pg_url, select(Notification.kind))] == ["market_gap", "market_gap"]


def test_a_spread_at_8x_its_median_holds_the_drawdown_close_until_the_delay(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    seed(pg_url)
    scenario = {
        "symbols": {"EURUSD": eurusd(bid=[1.086], spreads=[10] * 5 + [80]), "XAUUSD": XAU},
        "accounts": [account(LOGIN, positions=positions(), equity=[10000.0] * 5 + [8900.0])],
    }
    env = worker_env(tmp_path, scenario, HEDGEOPS_GUARD_MARKET=json.dumps({"max_hold_s": MAX_HOLD_S}))
    worker = cluster.worker("market-spread-t1", queues="mt5.t1", concurrency=1, extra_env=env)
    try:
        for _ in range(6):  # the sixth: the spread at 8x its median, the account trips
            sync(cluster, pg_url)
        tripped = closes(tmp_path)
        deadline = time.monotonic() + 120
        while 88811 not in closes(tmp_path) and time.monotonic() < deadline:
            sync(cluster, pg_url)  # held, until MAX_HOLD_S after its intent
        sync(cluster, pg_url)  # and once more: nothing is sent again
    finally:
        cluster.stop(worker)

    assert tripped == {88812: 1}, cluster.log_tail("market-spread-t1")  # EURUSD held at the trip
    assert closes(tmp_path) == {88811: 1, 88812: 1}
    assert len(journal(tmp_path)) == 2
    ((made, resolved),) = rows(
        pg_url, select(CloseIntent.created_at, CloseIntent.resolved_at).where(CloseIntent.ticket == 88811)
    )
    assert (resolved - made).total_seconds() >= MAX_HOLD_S  # it went only once the hold was over
    kinds = alert_kinds(pg_url)
    assert (kinds["spread_wide"], kinds["close_held"], kinds["execution"]) == (1, 1, 2)
    notified = Counter(k for (k,) in rows(pg_url, select(Notification.kind)))
    assert (notified["spread_wide"], notified["close_held"]) == (1, 1)
