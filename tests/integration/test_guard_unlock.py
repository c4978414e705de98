"""Unlock rules per limit above core, through real syncs with wall time frozen (freezegun),
on SQLite and PostgreSQL: a daily-loss trip with `daily_loss_unlock: auto` clears at the
first sync of the next trading day (audited, alerted); a drawdown trip does not; the
audited reset clears a latch whatever tripped it. Core's table: tests/unit/test_guard_unlock.py.

The day starts at 17:00 New York (22:00 UTC in January). Syncs 12 h apart from 22:05 UTC
on 2026-01-13: equity 10000.00 anchors the day of 01-14; 9600.00 is a day loss of
(10000 - 9600) / 10000 * 100 = 4 % (>= 3 %: the daily-loss case trips) and a drawdown of
4 % from the peak 10000.00 (>= 3.5 %: the drawdown case trips); 22:05 UTC on 01-14 is the
first sync of the day of 01-15, which anchors at equity 9600.00 (day loss 0 %)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from core.mt5.guard_policy import DayBasis, GuardPolicy, Unlock
from db.models import AuditEvent
from db.mt5.guard_models import DrawdownAlert, GuardStateRow
from tasks.mt5.guard_admin import guard_reset
from tasks.ports import utc_now
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture

FIRST = datetime(2026, 1, 13, 22, 5, tzinfo=UTC)
STEP = timedelta(hours=12)
DAILY = GuardPolicy(
    warning_pct=Decimal("40"),
    execution_pct=Decimal("50"),
    daily_loss_pct=Decimal("3"),
    daily_loss_unlock=Unlock.AUTO,
    daily_basis=DayBasis.EQUITY,  # the close moves the position's P&L into the balance
    day_start=time(17),
    day_start_tz="America/New_York",
    max_sync_age_s=600,
    equity_jump_pct=Decimal("50"),
)
DRAWDOWN = DAILY.model_copy(
    update={"warning_pct": Decimal("3"), "execution_pct": Decimal("3.5"), "daily_loss_pct": Decimal("50")}
)


def synced(world: Mt5World, guard: GuardPolicy, equity: list[float]) -> None:
    world.scenario.update(time=FIRST.isoformat(), step_seconds=int(STEP.total_seconds()))
    world.add(account(5001, equity=equity, positions=[position(88812)]))
    world.start()
    world.runtime = replace(world.runtime, clock=utc_now)
    world.mt5 = replace(world.mt5, guard_policy=guard)
    world.configure()
    for n in range(len(equity)):
        with freeze_time(FIRST + n * STEP):
            world.sync()


def state(world: Mt5World) -> dict[str, Any]:
    return dict(world.rows(select(GuardStateRow.state))[0][0])


def audited(world: Mt5World, kind: str) -> list[dict[str, Any]]:
    return [d for (d,) in world.rows(select(AuditEvent.details).where(AuditEvent.event_type == kind))]


def alerts(world: Mt5World) -> list[str]:
    return [k for (k,) in world.rows(select(DrawdownAlert.idempotency_key).order_by(DrawdownAlert.id))]


def test_a_daily_loss_trip_unlocks_by_itself_at_the_next_boundary(world: Mt5World) -> None:
    synced(world, DAILY, [10000.0, 9600.0])
    assert (state(world)["status"], state(world)["tripped_by"]) == ("tripped", ["daily_loss"])

    with freeze_time(FIRST + 2 * STEP):  # 22:05 UTC on 01-14: the day of 01-15
        world.sync()

    after = state(world)
    assert (after["status"], after["episode"], after["tripped_by"]) == ("armed", 1, [])
    assert after["reset_at"] == (FIRST + 2 * STEP).isoformat()
    (unlocked,) = audited(world, "guard_unlocked")
    assert unlocked == {
        "login": 5001,
        "episode": 1,
        "limits": ["daily_loss"],
        "trading_day": "2026-01-15",
        "rule": "auto",
    }
    assert "DDALERT:5001:unlocked:ep1" in alerts(world)


def test_a_drawdown_trip_does_not_unlock_and_the_reset_clears_it(world: Mt5World) -> None:
    synced(world, DRAWDOWN, [10000.0, 9600.0, 9600.0])  # the third sync is on the next day

    assert (state(world)["status"], state(world)["tripped_by"]) == ("tripped", ["drawdown"])
    assert audited(world, "guard_unlocked") == [] and not any(":unlocked:" in k for k in alerts(world))

    with freeze_time(FIRST + 2 * STEP + timedelta(minutes=1)):
        guard_reset(5001, by="ops-anna", reason="limits reviewed")

    after = state(world)
    assert (after["status"], after["tripped_by"], after["episode"]) == ("armed", [], 1)
    assert [d["by"] for d in audited(world, "guard_reset")] == ["ops-anna"]


@pytest.mark.parametrize("unlock", [Unlock.MANUAL])
def test_a_daily_loss_trip_with_manual_unlock_stays(world: Mt5World, unlock: Unlock) -> None:
    synced(world, DAILY.model_copy(update={"daily_loss_unlock": unlock}), [10000.0, 9600.0, 9600.0])

    assert (state(world)["status"], state(world)["tripped_by"]) == ("tripped", ["daily_loss"])
    assert audited(world, "guard_unlocked") == []
