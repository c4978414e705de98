"""The market guard (issue 19, point 7) on SQLite and PostgreSQL, in-process, every terminal
call checked to happen outside any transaction (the `world` fixture).

A weekend gap: EURUSD's last quote on Friday 2026-11-20 21:59 UTC is bid 1.08600; the first
on Sunday 22:00:05 UTC (the week's open) is 1.11858: (1.11858 - 1.08600) / 1.08600 * 100 =
0.03258 / 1.086 * 100 = 3 % > 2 %, across the close (two days > 3600 s between the ticks).

A wide spread: EURUSD's spread is 10 points for five syncs, then 80: 80 / median(10, 10,
10, 10, 10) = 8 > 5. Equity 10000.00, then 8900.00 at that sync: (10000 - 8900) / 10000 *
100 = 11 % >= 10 %: the account trips there."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.mt5.guard_policy import GuardPolicy
from core.mt5.market_guard import MarketAction, MarketPolicies, MarketPolicy
from db.mt5.guard_models import CloseIntent, DrawdownAlert, MarketStateRow, Notification
from tests.fakes import Clock
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture
from workers.cli import app
from workers.settings_guard import GuardSettings

POLICY = GuardPolicy(
    warning_pct=Decimal("5"), execution_pct=Decimal("10"), equity_jump_pct=Decimal("50"), max_sync_age_s=3600
)
FRIDAY = datetime(2026, 11, 20, 21, 59, tzinfo=UTC)
SUNDAY_OPEN = datetime(2026, 11, 22, 22, 0, 5, tzinfo=UTC)
GAP_MSC = int(SUNDAY_OPEN.timestamp() * 1000)
XAU = {"digits": 2, "point": 0.01, "volume_step": 0.01, "contract_size": 100, "bid": [2650.0]}


def eurusd(**more: Any) -> dict[str, Any]:
    return {"digits": 5, "point": 0.00001, "volume_step": 0.01, "contract_size": 100000, **more}


def started(world: Mt5World, scenario: dict[str, Any], policies: MarketPolicies) -> None:
    world.scenario.update({k: v for k, v in scenario.items() if k != "accounts"})
    for spec in scenario["accounts"]:
        world.add(spec)
    world.start()
    world.mt5 = replace(world.mt5, guard_policy=POLICY, market_policies=policies)
    world.configure()


def sent(world: Mt5World) -> Counter[int]:
    return Counter(o["request"]["position"] for o in world.gateways["t1"].journal)


def alerts(world: Mt5World) -> dict[str, tuple[str, str]]:
    a = DrawdownAlert
    return {k: (t, act) for k, t, act in world.rows(select(a.idempotency_key, a.alert_type, a.action))}


def gap_scenario() -> dict[str, Any]:
    return {
        "step_times": [FRIDAY.isoformat(), SUNDAY_OPEN.isoformat()],
        "symbols": {"EURUSD": eurusd(bid=[1.086, 1.11858]), "XAUUSD": XAU},
        "accounts": [account(5001, positions=[position(88811), position(88812, symbol="XAUUSD", price_open=2600.0)])],
    }


def test_a_weekend_gap_closes_the_symbols_positions_once_by_policy(world: Mt5World) -> None:
    policies = MarketPolicies(MarketPolicy(), {"EURUSD": MarketPolicy(action=MarketAction.CLOSE_ON_GAP)})
    started(world, gap_scenario(), policies)
    for _ in range(3):
        world.sync()

    assert sent(world) == {88811: 1}  # EURUSD closed once; XAUUSD did not gap
    (order,) = world.gateways["t1"].journal
    assert (order["request"]["comment"], order["filled"]) == ("CLOSE:5001:88811:gap", True)
    ci = CloseIntent
    assert world.rows(select(ci.idempotency_key, ci.kind, ci.status)) == [
        ("CLOSE:5001:88811:gap", "market_gap", "confirmed")
    ]
    key = f"DDALERT:5001:market_gap:EURUSD:t{GAP_MSC}"
    assert alerts(world) == {key: ("market_gap", "close")}
    ((details, pct),) = world.rows(
        select(DrawdownAlert.details, DrawdownAlert.current_pct).where(DrawdownAlert.idempotency_key == key)
    )
    assert (pct, details["move_pct"], details["across_close"], details["tickets"]) == (
        Decimal("3.0000"),
        "3.0000",
        True,
        [88811],
    )
    assert [k for (k,) in world.rows(select(Notification.idempotency_key))] == [key]
    assert sorted(s for (s,) in world.rows(select(MarketStateRow.symbol))) == ["EURUSD", "XAUUSD"]


def test_a_weekend_gap_under_hold_on_spread_is_alerted_and_closes_nothing(world: Mt5World) -> None:
    started(world, gap_scenario(), MarketPolicies())
    for _ in range(3):
        world.sync()
    assert sent(world) == {}
    assert alerts(world) == {f"DDALERT:5001:market_gap:EURUSD:t{GAP_MSC}": ("market_gap", "alert")}


def spread_scenario() -> dict[str, Any]:
    positions = [position(88811), position(88812, symbol="XAUUSD", price_open=2600.0)]
    equity = [10000.0] * 5 + [8900.0]
    return {
        "symbols": {"EURUSD": eurusd(bid=[1.086], spreads=[10] * 5 + [80]), "XAUUSD": XAU},
        "accounts": [account(5001, positions=positions, equity=equity)],
    }


def test_a_wide_spread_holds_the_drawdown_close_until_the_delay_then_it_goes_once(
    world: Mt5World, clock: Clock
) -> None:
    started(world, spread_scenario(), MarketPolicies(MarketPolicy(max_hold_s=120)))
    for _ in range(6):  # the sixth trips the account, the spread 8x its median
        world.sync()
        clock.now += timedelta(seconds=1)
    assert sent(world) == {88812: 1}  # XAUUSD closed at once; EURUSD held
    clock.now += timedelta(seconds=60)
    world.sync()  # 66 s after its intent: still held
    assert sent(world) == {88812: 1}
    clock.now += timedelta(seconds=60)
    world.sync()  # 126 s >= 120: it goes, the spread still wide
    world.sync()
    assert sent(world) == {88811: 1, 88812: 1}
    ((eurusd_state,),) = world.rows(select(MarketStateRow.state).where(MarketStateRow.symbol == "EURUSD"))
    assert eurusd_state["wide_since_msc"] is not None  # released by the delay, not by the spread
    found = alerts(world)
    assert Counter(t for t, _ in found.values()) == {"spread_wide": 1, "close_held": 1, "warning": 1, "execution": 2}
    assert found["DDALERT:5001:close_held:88811:ep1"] == ("close_held", "hold")
    assert sorted(a for t, a in found.values() if t == "execution") == ["partially_closed", "positions_closed"]
    assert sum(1 for (k,) in world.rows(select(Notification.kind)) if k in ("spread_wide", "close_held")) == 2


def test_a_held_close_goes_as_soon_as_the_spread_is_back(world: Mt5World, clock: Clock) -> None:
    scenario = spread_scenario()
    scenario["symbols"]["EURUSD"]["spreads"] = [10] * 5 + [80, 10]
    started(world, scenario, MarketPolicies(MarketPolicy(max_hold_s=3600)))
    for _ in range(6):
        world.sync()
    assert sent(world) == {88812: 1}
    world.sync()  # the spread is 10 again: the market guard wakes the held close
    assert sent(world) == {88811: 1, 88812: 1}


def test_without_market_policies_nothing_is_watched(world: Mt5World) -> None:
    started(world, gap_scenario(), None)  # type: ignore[arg-type]
    for _ in range(2):
        world.sync()
    assert (sent(world), alerts(world), world.rows(select(MarketStateRow.id))) == ({}, {}, [])


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ('{"gap_pct": "0"}', "guard_market: invalid market policy: gap_pct"),
        ('{"action": "liquidate"}', "guard_market: invalid market policy: action"),
        ('{"symbols": {"XAUUSD": {"spread_multiple": "1"}}}', "guard_market.symbols[XAUUSD]"),
        ('{"symbols": {"XAUUSD": "close"}}', "guard_market.symbols[XAUUSD]: must be an object"),
        ('{"enabled": "no"}', 'guard_market: "enabled" must be true or false'),
        ("{not json", "HEDGEOPS_GUARD_MARKET: not valid JSON"),
    ],
)
def test_a_bad_market_setting_is_one_line_and_exit_2(
    embedded_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, value: str, names: str
) -> None:
    monkeypatch.setenv("HEDGEOPS_GUARD_MARKET", value)
    refused = embedded_cli.invoke(app, ["guard", "status"])
    assert refused.exit_code == 2
    assert names in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_the_market_setting_makes_the_policies() -> None:
    settings = GuardSettings(guard_market={"max_hold_s": 60, "symbols": {"XAUUSD": {"action": "close_on_gap"}}})
    policies = settings.market_policies()
    assert policies is not None
    assert (policies.of("EURUSD").action, policies.of("EURUSD").max_hold_s) == (MarketAction.HOLD_ON_SPREAD, 60)
    assert (policies.of("XAUUSD").action, policies.of("XAUUSD").max_hold_s) == (MarketAction.CLOSE_ON_GAP, 60)
    assert GuardSettings(guard_market={"enabled": False}).market_policies() is None
