"""Snapshots over several syncs: the peak-equity high-water mark persisted on the account,
drawdown from it; a netting account reconciled by symbol."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import select

from core.mt5 import constants as c
from db.mt5.models import Mt5Account
from tests.mt5 import Mt5World, account, expected, position, world  # noqa: F401 - fixture


def test_peak_equity_is_a_persisted_high_water_mark(world: Mt5World) -> None:
    world.add(account(5001, equity=[10000.0, 10250.5, 9800.0, 10300.0]))
    world.start()

    for _ in range(4):
        world.sync()

    assert [(s[0], s[1], s[3], s[4]) for s in world.snapshots()] == [
        ("MT5SNAP:1:s1", D("10000.00"), D("10000.00"), D("0.00")),
        ("MT5SNAP:1:s2", D("10250.50"), D("10250.50"), D("0.00")),
        # (10250.50 - 9800.00) / 10250.50 * 100 = 4.3949... -> 4.39
        ("MT5SNAP:1:s3", D("9800.00"), D("10250.50"), D("4.39")),
        ("MT5SNAP:1:s4", D("10300.00"), D("10300.00"), D("0.00")),
    ]
    assert world.rows(select(Mt5Account.peak_equity)) == [(D("10300.00"),)]


def test_a_failed_sync_keeps_the_last_peak(world: Mt5World) -> None:
    timeout = {
        "call": "account_info",
        "code": c.RES_E_INTERNAL_FAIL_TIMEOUT,
        "message": "IPC timeout",
        "from_step": 1,
        "times": 1,
    }
    world.add(account(5001, equity=[10250.5], faults=[timeout]))
    world.start()

    world.sync(), world.sync()

    failed = world.snapshots()[1]
    assert (failed[0], failed[1], failed[3], failed[9]) == ("MT5SNAP:1:s2:failed0", None, D("10250.50"), "ipc_timeout")


def test_a_netting_account_is_reconciled_by_symbol(world: Mt5World) -> None:
    netting = c.ACCOUNT_MARGIN_MODE_RETAIL_NETTING
    # one net EURUSD position of 0.40 at 1.08650: the average of 0.10 at 1.08500 and 0.30 at 1.08700
    world.add(account(5001, margin_mode=netting, positions=[position(3001, volume=0.4, price_open=1.0865)]))
    world.expect(
        expected(5001, "SIG-A", volume="0.10", entry="1.08500"), expected(5001, "SIG-B", volume="0.30", entry="1.08700")
    )
    world.start()

    run = world.sync()

    assert run["status"] == "succeeded"
    assert world.recon() == [
        (
            "RECON:1:s1:t3001",
            "matched",
            "matched",
            3001,
            "SIG-A",
            "buy",
            D("0.4"),
            D("0.4"),
            D("1.0865"),
            D("1.0865"),
            None,
            None,
            None,
        )
    ]
    # Both expected positions learned the net position's ticket.
    assert world.expected_states() == {"SIG-A": ("open", None, 3001), "SIG-B": ("open", None, 3001)}
