"""The guard's trading day above core, through real syncs with wall time frozen (freezegun):
the boundary at 17:00 New York and at 00:00 Prague, in winter and in summer and in the
March week when the two zones are on different offsets; a deposit during the day; a worker
that first syncs long after the boundary. The table tests of core are tests/unit/test_guard_day.py.

The figures, by hand: balance 10000.00 anchors the day at its first sync after the
boundary; a deposit of 1000.00 moves the anchor to 11000.00; equity 10700.00 is a day loss of
(11000 - 10700) / 11000 * 100 = 2.7273 % (< 3 %: nothing), equity 10600.00 is
(11000 - 10600) / 11000 * 100 = 3.6364 % (>= 3 %: execution)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.guard_policy import DayBasis, GuardPolicy
from db.models import AuditEvent
from db.mt5.guard_models import CloseIntent, DrawdownAlert, GuardStateRow
from tasks.ports import utc_now
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture

STEP = timedelta(minutes=15)


def policy(tz: str, start: time, basis: DayBasis = DayBasis.BALANCE) -> GuardPolicy:
    return GuardPolicy(
        warning_pct=Decimal("40"),
        execution_pct=Decimal("50"),
        daily_loss_pct=Decimal("3"),
        daily_basis=basis,
        day_start=start,
        day_start_tz=tz,
        max_sync_age_s=600,
        equity_jump_pct=Decimal("50"),
    )


def day_world(
    world: Mt5World,
    first: datetime,
    guard: GuardPolicy,
    equity: list[float],
    deals: list[dict[str, Any]] = (),
    step: timedelta = STEP,
) -> list[datetime]:
    """An account whose syncs happen at first, first + step, ...; the wall time of each."""
    world.scenario["time"] = first.isoformat()
    world.scenario["step_seconds"] = int(step.total_seconds())
    world.add(account(5001, equity=equity, positions=[position(88812)], deals=list(deals)))
    world.start()
    world.runtime = replace(world.runtime, clock=utc_now)
    world.mt5 = replace(world.mt5, guard_policy=guard)
    world.configure()
    return [first + n * step for n in range(len(equity))]


def synced_at(world: Mt5World, times: list[datetime]) -> None:
    for moment in times:
        with freeze_time(moment):
            world.sync()


def anchor(world: Mt5World) -> dict[str, Any]:
    return dict(world.rows(select(GuardStateRow.state))[0][0]["anchor"])


def executed(world: Mt5World) -> bool:
    return bool(world.rows(select(CloseIntent.id)))


@pytest.mark.parametrize(
    ("tz", "start", "boundary"),
    [
        ("America/New_York", time(17), datetime(2026, 1, 14, 22, 0, tzinfo=UTC)),  # EST: UTC-5
        ("America/New_York", time(17), datetime(2026, 7, 14, 21, 0, tzinfo=UTC)),  # EDT: UTC-4
        ("America/New_York", time(17), datetime(2026, 3, 10, 21, 0, tzinfo=UTC)),  # US on EDT already
        ("Europe/Prague", time(0), datetime(2026, 3, 10, 23, 0, tzinfo=UTC)),  # ... Prague still on CET
        ("Europe/Prague", time(0), datetime(2026, 1, 14, 23, 0, tzinfo=UTC)),  # CET: UTC+1
        ("Europe/Prague", time(0), datetime(2026, 7, 14, 22, 0, tzinfo=UTC)),  # CEST: UTC+2
    ],
)
def test_the_day_is_anchored_at_the_first_sync_after_its_boundary(
    world: Mt5World, tz: str, start: time, boundary: datetime
) -> None:
    first = boundary - timedelta(minutes=10)  # syncs at boundary - 10 min, + 5 min, + 20 min
    times = day_world(world, first, policy(tz, start), equity=[10000.0, 10000.0, 10000.0])
    synced_at(world, times[:1])
    before = anchor(world)
    synced_at(world, times[1:])
    after = anchor(world)
    assert before["trading_day"] != after["trading_day"]  # the boundary fell between the two syncs
    assert (after["anchored_at"], after["source"], after["value"]) == (times[1].isoformat(), "reading", "10000.00")


def test_a_deposit_moves_the_anchor_and_is_no_profit(world: Mt5World) -> None:
    boundary = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
    deposit = {"ticket": 7001, "type": c.DEAL_TYPE_BALANCE, "profit": 1000.0, "from_step": 2}
    # equity shown = path + deposits from step 2: 10000, 10000, 10700, 10600
    times = day_world(
        world,
        boundary + timedelta(minutes=5),
        policy("America/New_York", time(17)),
        equity=[10000.0, 10000.0, 9700.0, 9600.0],
        deals=[deposit],
    )
    synced_at(world, times[:3])
    assert anchor(world)["adjustments"] == "1000.00" and not executed(world)  # 2.7273 % < 3 %
    audited = [
        e for (e,) in world.rows(select(AuditEvent.event_type).order_by(AuditEvent.id)) if e.startswith("guard_anchor")
    ]
    assert audited == ["guard_anchored", "guard_anchor_moved"]  # the day's anchor, then the deposit
    synced_at(world, times[3:])
    assert executed(world)  # 3.6364 % >= 3 %
    (day_loss,) = world.rows(select(DrawdownAlert.day_loss_pct).where(DrawdownAlert.alert_type == "execution"))[0]
    assert day_loss == Decimal("3.6364")


@pytest.mark.parametrize(("basis", "unknown"), [(DayBasis.EQUITY, True), (DayBasis.BALANCE, False)])
def test_a_first_sync_long_after_the_boundary_never_guesses(world: Mt5World, basis: DayBasis, unknown: bool) -> None:
    """Equity at the boundary cannot be rebuilt: `day_start_unknown`, an alert, and the
    drawdown rule only (equity 9000.00 is a 10 % day loss, not executed). A balance anchor
    is rebuilt from the day's deals (none: the balance itself)."""
    boundary = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
    times = day_world(
        world, boundary + timedelta(hours=3), policy("America/New_York", time(17), basis), equity=[10000.0, 9000.0]
    )
    synced_at(world, times)
    kinds = {k for (k,) in world.rows(select(DrawdownAlert.alert_type))}
    assert ("day_start_unknown" in kinds) is unknown
    assert executed(world) is not unknown
