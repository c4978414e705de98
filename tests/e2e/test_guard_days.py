"""End to end: the guard's trading days on a real `celery worker` process (queue mt5.t1),
Redis, PostgreSQL and the simulated broker that remembers (its journal of every order it
received). A worker process cannot be frozen from here, so the test moves its time: it
writes the simulated instant into the file `HEDGEOPS_MT5_SIMULATOR_CLOCK` names, which the
worker's clock and its simulated terminal read (a test double's setting; the reset runs
the `hedgeops guard reset` command in a process of its own on the same clock).

Unlock rules per limit (issue 19, point 2). The day starts at 17:00 New York: 22:00 UTC in
January (EST, UTC-5). Syncs at 22:05 UTC on 2026-01-13 (the first reading of the day of
01-14, 5 min after its boundary, within max_sync_age_s 600: it anchors that day), 10:05
UTC on 01-14, 22:05 UTC on 01-14 (the first of the day of 01-15) and 10:05 UTC on 01-15.
Equity 10000.00, then 9600.00:
- day loss (10000 - 9600) / 10000 * 100 = 4 % >= 3 % (`daily` and `both` trip);
- drawdown from the peak 10000.00: (10000 - 9600) / 10000 * 100 = 4 % >= 3.5 % (`drawdown`
  and `both` trip);
- at 22:05 UTC on 01-14 the day of 01-15 anchors at equity 9600.00 (day loss 0 %): the
  daily-loss latch clears by itself; a latch a drawdown tripped (alone or with the daily
  loss) stays until the reset, which re-bases the peak to 9600.00 (drawdown 0 %).

A `ny-close` server (issue 19, point 3): UTC+2, and UTC+3 while New York observes daylight
saving (from 2026-03-08 to 2026-11-01); its midnight is 17:00 New York all year."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.accounts import AccountSpec
from db.engine import session_factory
from db.models import AuditEvent
from db.mt5.accounts import add_account
from db.mt5.guard_models import CloseIntent, DrawdownAlert, GuardStateRow
from db.mt5.models import Mt5Account
from tests.cluster import BIN, Cluster, rows
from tests.e2e.test_guard_latch import sync
from tests.mt5 import PASSWORD, SYMBOLS, account, position

pytestmark = pytest.mark.e2e

FIRST = datetime(2026, 1, 13, 22, 5, tzinfo=UTC)
HALF_DAY = timedelta(hours=12)
#: The day's start on equity: the trip's close moves the position's P&L (+10.00) into the
#: balance, which would else re-trip the new day at once ((10010 - 9600) / 10010 = 4.1 %).
DAY = {
    "daily_basis": "equity",
    "day_start": "17:00",
    "day_start_tz": "America/New_York",
    "max_sync_age_s": 600,
    "equity_jump_pct": "50",
}
POLICIES: dict[str, dict[str, Any]] = {
    "daily": {**DAY, "warning_pct": "40", "execution_pct": "50", "daily_loss_pct": "3", "daily_loss_unlock": "auto"},
    "drawdown": {**DAY, "warning_pct": "3", "execution_pct": "3.5"},
    "both": {**DAY, "warning_pct": "3", "execution_pct": "3.5", "daily_loss_pct": "3", "daily_loss_unlock": "auto"},
}
#: login: (its policy, its one position)
UNLOCK_ACCOUNTS = {5001: ("daily", 88811), 5002: ("drawdown", 88821), 5003: ("both", 88831)}


def set_clock(path: Path, instant: datetime) -> None:
    """Move every process on the simulator clock to `instant` (replaced whole: a reader
    never sees half a file)."""
    part = path.with_suffix(".part")
    part.write_text(instant.isoformat(), encoding="utf-8")
    os.replace(part, path)


def seed(url: str, accounts: dict[int, str], server: str = "Sim-Demo") -> None:
    """The accounts by login with their policy's name (mt5_accounts.policy)."""
    with session_factory(url)() as s:
        for login, policy in accounts.items():
            spec = AccountSpec(
                login=login,
                server=server,
                terminal="t1",
                currency="USD",
                magic_numbers=(7,),
                credential_ref="env:MT5_PW",
                policy=policy,
            )
            add_account(s, spec, now=FIRST)
        s.commit()


def worker_env(tmp_path: Path, scenario: dict[str, Any], first: datetime) -> dict[str, str]:
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    set_clock(tmp_path / "clock", first)
    return {
        "HEDGEOPS_MT5_SCENARIO": str(tmp_path / "scenario.json"),
        "HEDGEOPS_MT5_SIMULATOR_STATE": str(tmp_path / "broker.json"),
        "HEDGEOPS_MT5_SIMULATOR_CLOCK": str(tmp_path / "clock"),
        "HEDGEOPS_GUARD_POLICIES": json.dumps(POLICIES),
        "MT5_PW": PASSWORD,
    }


def synced_at(cluster: Cluster, url: str, clock: Path, instant: datetime) -> None:
    set_clock(clock, instant)
    sync(cluster, url)


def states(url: str) -> dict[int, dict[str, Any]]:
    query = select(Mt5Account.login, GuardStateRow.state).join(Mt5Account, Mt5Account.id == GuardStateRow.account_id)
    return {login: dict(state) for login, state in rows(url, query)}


def latches(url: str) -> dict[int, tuple[str, list[str]]]:
    return {login: (s["status"], s["tripped_by"]) for login, s in states(url).items()}


def audited(url: str, kind: str) -> list[dict[str, Any]]:
    return [d for (d,) in rows(url, select(AuditEvent.details).where(AuditEvent.event_type == kind))]


def journal(tmp_path: Path) -> list[dict[str, Any]]:
    return list(json.loads((tmp_path / "broker.json").read_text(encoding="utf-8"))["orders"])


def reset(cluster: Cluster, env: dict[str, str], login: int) -> None:
    done = subprocess.run(
        [str(BIN / "hedgeops"), "guard", "reset", str(login), "--by", "ops-anna", "--reason", "limits reviewed"],
        env={**cluster.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_daily_loss_trip_unlocks_at_the_boundary_a_drawdown_trip_waits_for_the_reset(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    seed(pg_url, {login: policy for login, (policy, _) in UNLOCK_ACCOUNTS.items()})
    scenario = {
        "symbols": SYMBOLS,
        "accounts": [
            account(login, equity=[10000.0, 9600.0], positions=[position(ticket)])
            for login, (_, ticket) in UNLOCK_ACCOUNTS.items()
        ],
    }
    env = worker_env(tmp_path, scenario, FIRST)
    clock = tmp_path / "clock"
    worker = cluster.worker("days-unlock-t1", queues="mt5.t1", concurrency=1, extra_env=env)
    try:
        synced_at(cluster, pg_url, clock, FIRST)  # the day of 01-14 anchors at 10000.00
        synced_at(cluster, pg_url, clock, FIRST + HALF_DAY)  # 9600.00: 4 % down
        tripped = latches(pg_url)
        synced_at(cluster, pg_url, clock, FIRST + 2 * HALF_DAY)  # 22:05 UTC: the day of 01-15
        next_day = latches(pg_url)
        set_clock(clock, FIRST + 2 * HALF_DAY + timedelta(minutes=1))
        for login in (5002, 5003):
            reset(cluster, env, login)
        synced_at(cluster, pg_url, clock, FIRST + 3 * HALF_DAY)  # the reset holds: armed
    finally:
        cluster.stop(worker)

    assert tripped == {
        5001: ("tripped", ["daily_loss"]),
        5002: ("tripped", ["drawdown"]),
        5003: ("tripped", ["daily_loss", "drawdown"]),
    }, cluster.log_tail("days-unlock-t1")
    # the boundary unlocks the daily loss alone; a latch with a drawdown in it stays
    assert next_day == {5001: ("armed", []), 5002: tripped[5002], 5003: tripped[5003]}
    assert latches(pg_url) == {login: ("armed", []) for login in UNLOCK_ACCOUNTS}

    after = states(pg_url)
    assert after[5001]["anchor"]["trading_day"] == "2026-01-15"  # 10:05 UTC on 01-15 is 05:05 NY: still 01-15's
    assert {login: s["episode"] for login, s in after.items()} == {5001: 1, 5002: 1, 5003: 1}  # none re-tripped
    assert after[5001]["reset_at"] == (FIRST + 2 * HALF_DAY).isoformat()  # at the first reading of 01-15
    assert after[5002]["peak_equity"] == "9600.00"  # re-based by the reset: (9600 - 9600) / 9600 = 0 %
    assert [(d["login"], d["limits"], d["trading_day"], d["rule"]) for d in audited(pg_url, "guard_unlocked")] == [
        (5001, ["daily_loss"], "2026-01-15", "auto")
    ]
    assert sorted((d["login"], d["by"], d["episode"]) for d in audited(pg_url, "guard_reset")) == [
        (5002, "ops-anna", 1),
        (5003, "ops-anna", 1),
    ]
    keys = Counter(tuple(k.split(":")[1:3]) for (k,) in rows(pg_url, select(DrawdownAlert.idempotency_key)))
    assert {k for k in keys if k[1] == "unlocked"} == {("5001", "unlocked")}  # DDALERT:5001:unlocked:ep1
    assert {k: n for k, n in keys.items() if k[1] in ("unlocked", "execution")} == {
        ("5001", "unlocked"): 1,
        **{(str(login), "execution"): 1 for login in UNLOCK_ACCOUNTS},  # ...:execution:ep1:positions_closed
    }
    # each position closed once, at its trip; nothing sent after the unlock or the resets
    closed = Counter(o["request"]["position"] for o in journal(tmp_path) if o["filled"])
    assert closed == {ticket: 1 for _, ticket in UNLOCK_ACCOUNTS.values()}
    assert len(journal(tmp_path)) == 3
    assert {s for (s,) in rows(pg_url, select(CloseIntent.status))} == {"confirmed"}


NY_SERVER = "Sim-NY"
NY_POLICY = {
    "nyclose": {
        "warning_pct": "40",
        "execution_pct": "50",
        "daily_loss_pct": "3",
        "daily_basis": "balance",
        "day_start": "00:00",
        "day_start_tz": "server",  # the account's server clock: ny-close
        "max_sync_age_s": 600,
        "equity_jump_pct": "50",
    }
}


def ny_synced(cluster: Cluster, pg_url: str, tmp_path: Path, deal: dict[str, Any], at: list[datetime]) -> list[Any]:
    """Account 5001 on the ny-close server (balance 10000.00, one position) with one balance
    operation, synced at each instant of `at`; its anchor after each sync."""
    seed(pg_url, {5001: "nyclose"}, server=NY_SERVER)
    scenario = {
        "server_time": {NY_SERVER: "ny-close"},  # the broker's own clock
        "symbols": SYMBOLS,
        "accounts": [
            account(5001, server=NY_SERVER, equity=[10000.0], positions=[position(88811)], deals=[deal]),
        ],
    }
    env = worker_env(tmp_path, scenario, at[0])
    env["HEDGEOPS_GUARD_POLICIES"] = json.dumps(NY_POLICY)
    env["HEDGEOPS_MT5_SERVER_TIME"] = json.dumps({NY_SERVER: "ny-close"})  # as production sets it
    worker = cluster.worker("days-ny-t1", queues="mt5.t1", concurrency=1, extra_env=env)
    anchors = []
    try:
        for instant in at:
            synced_at(cluster, pg_url, tmp_path / "clock", instant)
            anchors.append(states(pg_url)[5001]["anchor"])
    finally:
        cluster.stop(worker)
    return anchors


def figures(anchor: dict[str, Any]) -> tuple[str, str, str, str]:
    return anchor["trading_day"], anchor["value"], anchor["adjustments"], anchor["anchored_at"]


def test_a_deposit_at_2330_server_time_on_the_friday_before_the_us_change(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    """Friday 2026-03-06, ny-close on UTC+2 (New York changes on Sunday 03-08): server
    midnight is 00:00 - 2 h = 22:00 UTC. The deposit of 1000.00 shown at 23:30 server time
    is 23:30 - 2 h = 21:30 UTC: Friday's (before 22:00 UTC). Syncs at 21:20 UTC (23:20
    server: Friday, long after its boundary: rebuilt, 10000.00), 21:40 (the deposit moves
    Friday's anchor: 10000 + 1000 = 11000.00), 22:05 (00:05 Saturday, within 600 s of the
    boundary: anchored at the balance, 10000 + 1000 = 11000.00) and 22:30 UTC (the deposit
    is Friday's: it never moves Saturday's anchor; read as 23:30 UTC it would be Saturday's:
    11000 + 1000 = 12000.00)."""
    deposit = {
        "ticket": 9001,
        "type": c.DEAL_TYPE_BALANCE,
        "profit": 1000.0,
        "from_step": 1,
        "time": "2026-03-06T21:30:00Z",  # the instant; the simulated server shows 23:30
    }
    friday = datetime(2026, 3, 6, tzinfo=UTC)
    at = [friday + timedelta(hours=21, minutes=m) for m in (20, 40, 65, 90)]
    anchors = ny_synced(cluster, pg_url, tmp_path, deposit, at)

    assert figures(anchors[0])[:3] == ("2026-03-06", "10000.00", "0.00"), cluster.log_tail("days-ny-t1")
    assert figures(anchors[1])[:3] == ("2026-03-06", "10000.00", "1000.00")  # 10000 + 1000 = 11000.00
    saturday = ("2026-03-07", "11000.00", "0.00", "2026-03-06T22:05:00+00:00")  # the 22:05 UTC reading
    assert (figures(anchors[2]), figures(anchors[3])) == (saturday, saturday)
    assert not rows(pg_url, select(CloseIntent.id)) and journal(tmp_path) == []


def test_a_withdrawal_in_the_weeks_us_and_eu_daylight_saving_differ(
    cluster: Cluster, pg_url: str, tmp_path: Path
) -> None:
    """Wednesday 2026-03-18: New York is on EDT since 03-08, Europe on winter time until
    03-29, so ny-close is on UTC+3 (a server on Europe's clock would still be UTC+2): server
    midnight of the 18th is 00:00 - 3 h = 21:00 UTC on the 17th. The withdrawal of 2000.00
    shown at 00:30 server time is 00:30 - 3 h = 21:30 UTC on the 17th: the 18th's. Syncs at
    21:05 UTC (00:05 server, within 600 s of the boundary: anchored at the balance,
    10000.00) and 21:45 UTC: the anchor moves by the withdrawal, 10000 - 2000 = 8000.00,
    and so does the equity (10000 - 2000 = 8000.00): day loss (8000 - 8000) / 8000 = 0 %,
    nothing closed. Read as 00:30 UTC on the 18th, it would be outside the day's deals at
    21:45 UTC: (10000 - 8000) / 10000 * 100 = 20 % >= 3 %, a trip."""
    withdrawal = {
        "ticket": 9002,
        "type": c.DEAL_TYPE_BALANCE,
        "profit": -2000.0,
        "from_step": 1,
        "time": "2026-03-17T21:30:00Z",  # 00:30 on the 18th, server time
    }
    at = [datetime(2026, 3, 17, 21, 5, tzinfo=UTC), datetime(2026, 3, 17, 21, 45, tzinfo=UTC)]
    anchors = ny_synced(cluster, pg_url, tmp_path, withdrawal, at)

    midnight = "2026-03-17T21:05:00+00:00"  # the first reading of the 18th (server midnight 21:00 UTC)
    assert figures(anchors[0]) == ("2026-03-18", "10000.00", "0.00", midnight), cluster.log_tail("days-ny-t1")
    assert figures(anchors[1]) == ("2026-03-18", "10000.00", "-2000.00", midnight)  # 10000 - 2000 = 8000.00
    assert latches(pg_url) == {5001: ("armed", [])}
    assert not rows(pg_url, select(CloseIntent.id))
