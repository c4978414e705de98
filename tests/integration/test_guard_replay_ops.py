"""The replay of stored snapshots uses the account's named policy and the balance
operations its snapshots stored (SQLite and PostgreSQL): a withdrawal in the history is
no loss in the replay, as it was none live. Core's table: tests/unit/test_guard_replay.py.

By hand: the day starts 00:00 UTC; the sync at 00:05 anchors it at balance 10000.00; the
withdrawal of 2000.00 at 00:20 moves the anchor to 10000 - 2000 = 8000.00; equity 8000.00
at 00:25 and 00:45 is a day loss of (8000 - 8000) / 8000 = 0 %. Without the stored
withdrawal the replay would read (10000 - 8000) / 10000 * 100 = 20 % >= 3 %: an execution.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.mt5 import constants as c
from core.mt5.guard_policy import GuardPolicy
from db.mt5.models import PositionSnapshot
from tests.fakes import Clock
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture
from workers.cli import app

PROP: dict[str, Any] = {
    "daily_loss_pct": "3",
    "daily_basis": "balance",
    "day_start": "00:00",
    "day_start_tz": "UTC",
    "max_sync_age_s": 600,
    "equity_jump_pct": 50,
    "warning_pct": 40,
    "execution_pct": 50,
}
FIRST = datetime(2026, 3, 2, 0, 5, tzinfo=UTC)
TIMES = [FIRST, FIRST + timedelta(minutes=20), FIRST + timedelta(minutes=40)]
WITHDRAWAL = {
    "ticket": 9100,
    "type": c.DEAL_TYPE_BALANCE,
    "profit": -2000.0,
    "from_step": 1,
    "time": "2026-03-02T00:20:00Z",
}


@pytest.fixture
def cli(embedded_cli: CliRunner, world: Mt5World, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HEDGEOPS_GUARD_ENABLED", "true")
    monkeypatch.setenv("HEDGEOPS_GUARD_POLICIES", json.dumps({"prop": PROP}))
    monkeypatch.delenv("HEDGEOPS_GUARD_DAILY_LOSS_PCT", raising=False)
    world.scenario.update(time=FIRST.isoformat(), step_seconds=1200)
    world.add(account(5001, equity=[10000.0] * 3, positions=[position(88812)], deals=[WITHDRAWAL]), policy="prop")
    world.start()
    world.mt5 = replace(world.mt5, guard_policy=GuardPolicy(), guard_policies={"prop": PROP})
    world.configure()
    for when in TIMES:
        clock.now = when
        world.sync()
    return embedded_cli


def test_snapshots_keep_the_days_balance_operations_they_saw(cli: CliRunner, world: Mt5World) -> None:
    stored = [ops for (ops,) in world.rows(select(PositionSnapshot.balance_ops).order_by(PositionSnapshot.id))]
    seen = {"ticket": 9100, "type": 2, "time": "2026-03-02T00:20:00+00:00", "amount": "-2000.00"}
    assert stored == [[], [seen], [seen]]


def test_the_replay_takes_the_named_policy_and_the_stored_withdrawal(cli: CliRunner) -> None:
    result = cli.invoke(
        app, ["guard", "replay", "--account", "5001", "--from", "2026-03-02", "--to", "2026-03-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["policy_name"], Decimal(report["policy"]["daily_loss_pct"])) == ("prop", Decimal("3"))
    assert (report["balance_ops"], report["without_balance_ops"], report["readings"]) == ([9100], 0, 3)
    assert report["events"] == []  # 0 % day loss: the withdrawal is no loss
