"""The demo's simulated account: one position of each reconciliation class."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from tasks.runtime import Runtime, configure
from tests.mt5 import Mt5World, world  # noqa: F401 - fixture
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.adapters.mt5.wiring import gateway_factory
from workers.mt5_demo import run_mt5_demo
from workers.settings import load_settings


def test_the_demo_account_shows_every_class_once(world: Mt5World, runtime: Runtime, tmp_path: Path) -> None:
    configure(replace(runtime, mt5_gateways=gateway_factory(load_settings()), mt5_credentials=EnvOrFileCredentials()))
    console = Console(record=True, width=120)

    code = run_mt5_demo(console, tmp_path)

    assert code == 0
    assert [(row[0].split(":")[-1], row[2]) for row in world.recon()] == [
        ("t1001", "matched"), ("t1002", "slippage"), ("t1003", "partial_fill"), ("t1004", "manual_close"),
        ("t1005", "closed_by_sl_tp"), ("t1006", "stop_out"), ("t1007", "unknown_position"), ("t1008", "gap")]
    assert "demo-password" not in console.export_text()
    assert (tmp_path / "secrets" / "mt5-700001").stat().st_mode & 0o777 == 0o600
