"""The demo's simulated account: one position of each reconciliation class."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from tasks.mt5.ports import configure
from tasks.ports import Ports
from tests.mt5 import Mt5World, world  # noqa: F401 - fixture
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.mt5_demo import run_mt5_demo
from workers.mt5_wiring import gateway_factory
from workers.settings import load_settings


def test_the_demo_account_shows_every_class_once(world: Mt5World, runtime: Ports, tmp_path: Path) -> None:
    configure(replace(world.mt5, gateways=gateway_factory(load_settings()), credentials=EnvOrFileCredentials()))
    console = Console(record=True, width=120)

    code = run_mt5_demo(console, tmp_path)

    assert code == 0
    assert [(row[0].split(":")[-1], row[2]) for row in world.recon()] == [
        ("t1001", "matched"),
        ("t1002", "slippage"),
        ("t1003", "partial_fill"),
        ("t1004", "manual_close"),
        ("t1005", "closed_by_sl_tp"),
        ("t1006", "stop_out"),
        ("t1007", "unknown_position"),
        ("t1008", "gap"),
    ]
    assert "demo-password" not in console.export_text()
    assert (tmp_path / "secrets" / "mt5-700001").stat().st_mode & 0o777 == 0o600


def test_the_demo_guarded_account_breaches_and_is_closed(world: Mt5World, runtime: Ports, tmp_path: Path) -> None:
    from sqlalchemy import select

    from db.mt5.guard_models import CloseIntent, DrawdownAlert
    from workers.mt5_demo import run_guard_demo

    settings = load_settings()
    configure(
        replace(
            world.mt5,
            gateways=gateway_factory(settings),
            credentials=EnvOrFileCredentials(),
            guard_policy=settings.guard_policy(),
        )
    )
    console = Console(record=True, width=160)

    assert run_guard_demo(console, tmp_path) == 0

    # peak 10000.00, then 8800.00: (10000 - 8800) / 10000 * 100 = 12 % >= 10 %: both positions closed
    assert sorted(tuple(r) for r in world.rows(select(CloseIntent.ticket, CloseIntent.status))) == [
        (2001, "confirmed"),
        (2002, "confirmed"),
    ]
    assert [
        tuple(r) for r in world.rows(select(DrawdownAlert.alert_type, DrawdownAlert.action).order_by(DrawdownAlert.id))
    ] == [("warning", "warning_sent"), ("execution", "positions_closed")]
    text = console.export_text()
    assert "tripped" in text and "demo-password" not in text
