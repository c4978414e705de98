"""Trade server clocks above core: a simulated broker whose server runs `ny-close` shows
deal times on its wall clock; the sync reads them through ServerClockGateway (the wiring's
one conversion) and the guard's day, in server time, anchors as computed by hand. And a
worker does not start when an account's server has no clock setting.

By hand (core's table is tests/unit/test_server_time.py): ny-close is UTC+2 before
2026-03-08 and UTC+3 from then until 2026-11-01.
- Friday 2026-03-06: server midnight is 22:00 UTC; the deposit of 1000.00 at 23:30 server
  time is 21:30 UTC, Friday's. Syncs every 20 min from 21:20 UTC: Friday's anchor
  10000.00 (rebuilt: the first sync is long after its boundary) moves to 11000.00;
  Saturday's (from 22:00 UTC) anchors at balance 11000.00 and the deposit never moves it
  again (read as 23:30 UTC, it would: 12000.00).
- Wednesday 2026-03-18 (New York on EDT, Europe not yet): server midnight is 21:00 UTC on
  the 17th; the withdrawal of 2000.00 at 00:30 server time is 21:30 UTC. Syncs at 21:05
  and 21:45 UTC: anchor 10000.00, then 10000 - 2000 = 8000.00, equity 8000.00: day loss 0 %
  (read as 00:30 UTC, the 21:45 sync would see (10000 - 8000) / 10000 = 20 % and execute).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.guard_policy import DayBasis, GuardPolicy
from core.mt5.types import TradeDeal
from db.mt5.guard_models import CloseIntent, GuardStateRow
from tasks.ports import utc_now
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture
from workers.adapters.mt5.server_clock import ServerClockGateway, ServerTimeUnknown

SERVER = "Sim-NY"
POLICY = GuardPolicy(
    warning_pct=Decimal("40"),
    execution_pct=Decimal("50"),
    daily_loss_pct=Decimal("3"),
    daily_basis=DayBasis.BALANCE,
    day_start=time(0, 0),
    day_start_tz="server",
    max_sync_age_s=600,
    equity_jump_pct=Decimal("50"),
)


def server_world(world: Mt5World, first: datetime, step: timedelta, equity: list[float], deal: dict[str, Any]) -> None:
    world.scenario.update(time=first.isoformat(), step_seconds=int(step.total_seconds()))
    world.scenario["server_time"] = {SERVER: "ny-close"}  # the broker's own clock
    world.add(account(5001, server=SERVER, equity=equity, positions=[position(88812)], deals=[deal]))
    world.start()
    clocks = {SERVER: "ny-close"}  # HEDGEOPS_MT5_SERVER_TIME
    wrapped = {t: ServerClockGateway(g, clocks) for t, g in world.gateways.items()}
    world.runtime = replace(world.runtime, clock=utc_now)
    world.mt5 = replace(world.mt5, gateways=wrapped.__getitem__, server_times=clocks, guard_policy=POLICY)
    world.configure()
    for n in range(len(equity)):
        with freeze_time(first + n * step):
            world.sync()


def anchor(world: Mt5World) -> dict[str, Any]:
    return dict(world.rows(select(GuardStateRow.state))[0][0]["anchor"])


def test_a_deposit_at_2330_server_time_on_the_friday_before_the_us_change(world: Mt5World) -> None:
    deposit = {
        "ticket": 9001,
        "type": c.DEAL_TYPE_BALANCE,
        "profit": 1000.0,
        "from_step": 1,
        "time": "2026-03-06T21:30:00Z",  # the instant; the simulated server shows 23:30
    }
    # syncs 21:20, 21:40, 22:00 ... 23:40 UTC (8); equity path + the deposit from step 1
    server_world(world, datetime(2026, 3, 6, 21, 20, tzinfo=UTC), timedelta(minutes=20), [10000.0] * 8, deposit)
    assert (anchor(world)["trading_day"], anchor(world)["value"], anchor(world)["adjustments"]) == (
        "2026-03-07",
        "11000.00",
        "0.00",
    )
    assert anchor(world)["anchored_at"] == "2026-03-06T22:00:00+00:00"


def test_a_withdrawal_in_the_weeks_us_and_eu_differ(world: Mt5World) -> None:
    withdrawal = {
        "ticket": 9002,
        "type": c.DEAL_TYPE_BALANCE,
        "profit": -2000.0,
        "from_step": 1,
        "time": "2026-03-17T21:30:00Z",  # 00:30 on the 18th, server time
    }
    server_world(world, datetime(2026, 3, 17, 21, 5, tzinfo=UTC), timedelta(minutes=40), [10000.0, 10000.0], withdrawal)
    assert (anchor(world)["trading_day"], anchor(world)["value"], anchor(world)["adjustments"]) == (
        "2026-03-18",
        "10000.00",
        "-2000.00",
    )
    assert not world.rows(select(CloseIntent.id))


def test_a_worker_does_not_start_without_the_clock_of_a_server(
    world: Mt5World, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    world.add(account(5002, server="ICMarkets-Live07"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HEDGEOPS_DATABASE_URL": db_url,
        "HEDGEOPS_BROKER_URL": redis_url,  # a worker's mode: distributed (importing the app sends nothing)
        "HEDGEOPS_MT5_GATEWAY": "mt5linux",
        "HEDGEOPS_PRICE_DROP_DIR": str(tmp_path),
        "HEDGEOPS_MT5_SERVER_TIME": '{"Other-Server": "ny-close"}',
    }
    done = subprocess.run(
        [sys.executable, "-c", "import workers.celery_app as m; m.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ICMarkets-Live07" in lines[0] and "HEDGEOPS_MT5_SERVER_TIME" in lines[0]
    env["HEDGEOPS_MT5_SERVER_TIME"] = '{"ICMarkets-Live07": "ny-close"}'
    started = subprocess.run(
        [sys.executable, "-c", "import workers.celery_app as m; m.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr


class RecordingGateway:
    """A terminal of a ny-close server: records the bounds it is asked, gives one deal."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
    ) -> bool:
        return True

    def history_deals_get(self, date_from: Any = None, date_to: Any = None, **more: Any) -> tuple[TradeDeal, ...]:
        self.asked.append((date_from, date_to))
        wall = int((datetime(2026, 3, 6, 23, 30) - datetime(1970, 1, 1)).total_seconds() * 1000)
        return (TradeDeal(1, 0, wall // 1000, wall, 2, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 1000.0, 0.0, "", "", ""),)


def test_the_gateway_asks_in_server_time_and_answers_in_utc() -> None:
    inner = RecordingGateway()
    gateway = ServerClockGateway(inner, {SERVER: "ny-close"})  # type: ignore[arg-type]
    gateway.login(5001, password="x", server=SERVER)
    (deal,) = gateway.history_deals_get(datetime(2026, 3, 6, 20, tzinfo=UTC), datetime(2026, 3, 6, 22, tzinfo=UTC))
    # bounds: 20:00 and 22:00 UTC are 22:00 and 00:00 server time (UTC+2), tagged UTC
    assert inner.asked == [(datetime(2026, 3, 6, 22, tzinfo=UTC), datetime(2026, 3, 7, 0, tzinfo=UTC))]
    # the deal shown at 23:30 server time is 21:30 UTC
    assert datetime.fromtimestamp(deal.time_msc / 1000, tz=UTC) == datetime(2026, 3, 6, 21, 30, tzinfo=UTC)
    assert deal.time == int(datetime(2026, 3, 6, 21, 30, tzinfo=UTC).timestamp())
    gateway.login(5002, password="x", server="Unknown-Server")
    with pytest.raises(ServerTimeUnknown):
        gateway.history_deals_get(datetime(2026, 3, 6, 20, tzinfo=UTC), datetime(2026, 3, 6, 22, tzinfo=UTC))
