"""Every reconciliation class from a simulator scenario, on SQLite and PostgreSQL: the exact
rows written, what they do to the expected positions, and a rerun of the same sync that
writes nothing new.

Account 5001 (hedging, magic 7, USD); EURUSD bid 1.08600, point 0.00001, 100,000 a lot;
tolerance 10 points. A row is (key, status, reason, ticket, signal, direction, expected
volume, volume, entry, open price, exit price, close reason, close profit)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select

from core.mt5 import constants as c
from core.mt5.reconcile import Rules, reconcile
from core.mt5.snapshot import snapshot_figures
from core.mt5.values import Secret
from db.models import AuditEvent, IdempotencyConflict
from db.mt5.accounts import accounts_by_ids, open_expected
from db.mt5.models import PositionSnapshot, ReconciliationLog
from db.mt5.results import AccountSynced, write_sync_results
from tasks.mt5.reading import Connection, read_account
from tests.mt5 import PASSWORD, Mt5World, account, deal, expected, position, world  # noqa: F401 - fixture

KEY = "RECON:1:s1:"
CASES: dict[str, dict[str, Any]] = {
    "matched": {
        "expected": expected(5001, "SIG-M", ticket=1001),
        "positions": [position(1001)],
        # profit (1.08600 - 1.08500) * 0.1 * 100000 = 10.00
        "row": (
            KEY + "t1001",
            "matched",
            "matched",
            1001,
            "SIG-M",
            "buy",
            D("0.1"),
            D("0.1"),
            D("1.085"),
            D("1.085"),
            None,
            None,
            None,
        ),
        "expected_state": ("open", None, 1001),
    },
    "slippage": {
        "expected": expected(5001, "SIG-S", ticket=1002),
        # opened at 1.08520: (1.08520 - 1.08500) / 0.00001 = 20 points > 10
        "positions": [position(1002, price_open=1.0852)],
        "row": (
            KEY + "t1002",
            "divergence",
            "slippage",
            1002,
            "SIG-S",
            "buy",
            D("0.1"),
            D("0.1"),
            D("1.085"),
            D("1.0852"),
            None,
            None,
            None,
        ),
        "expected_state": ("open", None, 1002),
    },
    "partial_fill": {
        "expected": expected(5001, "SIG-P", ticket=1003),
        # 0.05 of 0.10 lots: 0.05 >= the volume step 0.01
        "positions": [position(1003, volume=0.05)],
        "row": (
            KEY + "t1003",
            "divergence",
            "partial_fill",
            1003,
            "SIG-P",
            "buy",
            D("0.1"),
            D("0.05"),
            D("1.085"),
            D("1.085"),
            None,
            None,
            None,
        ),
        "expected_state": ("open", None, 1003),
    },
    "manual_close": {
        "expected": expected(5001, "SIG-C", ticket=1004),
        "deals": [deal(9004, 1004, c.DEAL_REASON_CLIENT, 1.084, profit=-10.0)],
        "row": (
            KEY + "t1004",
            "divergence",
            "manual_close",
            1004,
            "SIG-C",
            "buy",
            D("0.1"),
            None,
            D("1.085"),
            None,
            D("1.084"),
            "client",
            D("-10.00"),
        ),
        "expected_state": ("closed", "manual_close", 1004),
    },
    "closed_by_sl_tp": {
        "expected": expected(5001, "SIG-T", ticket=1005, tp="1.09000"),
        "deals": [deal(9005, 1005, c.DEAL_REASON_TP, 1.09, profit=50.0)],
        "row": (
            KEY + "t1005",
            "divergence",
            "closed_by_sl_tp",
            1005,
            "SIG-T",
            "buy",
            D("0.1"),
            None,
            D("1.085"),
            None,
            D("1.09"),
            "tp",
            D("50.00"),
        ),
        "expected_state": ("closed", "closed_by_sl_tp", 1005),
    },
    "stop_out": {
        "expected": expected(5001, "SIG-O", ticket=1006),
        "deals": [deal(9006, 1006, c.DEAL_REASON_SO, 1.07, profit=-150.0)],
        "row": (
            KEY + "t1006",
            "divergence",
            "stop_out",
            1006,
            "SIG-O",
            "buy",
            D("0.1"),
            None,
            D("1.085"),
            None,
            D("1.07"),
            "so",
            D("-150.00"),
        ),
        "expected_state": ("closed", "stop_out", 1006),
    },
    "unknown_position": {
        "expected": None,
        "positions": [position(1007, type=c.POSITION_TYPE_SELL, price_open=1.087)],
        "row": (
            KEY + "t1007",
            "divergence",
            "unknown_position",
            1007,
            None,
            "sell",
            None,
            D("0.1"),
            None,
            D("1.087"),
            None,
            None,
            None,
        ),
        "expected_state": None,
    },
    "gap": {
        # stop at 1.08000, filled at 1.07950: (1.08000 - 1.07950) / 0.00001 = 50 points past it
        "expected": expected(5001, "SIG-G", ticket=1008, sl="1.08000"),
        "deals": [deal(9008, 1008, c.DEAL_REASON_SL, 1.0795, profit=-55.0)],
        "row": (
            KEY + "t1008",
            "divergence",
            "gap",
            1008,
            "SIG-G",
            "buy",
            D("0.1"),
            None,
            D("1.085"),
            None,
            D("1.0795"),
            "sl",
            D("-55.00"),
        ),
        "expected_state": ("closed", "gap", 1008),
    },
}


def setup_case(world: Mt5World, case: dict[str, Any]) -> None:
    world.add(account(5001, positions=case.get("positions", []), deals=case.get("deals", [])))
    if case["expected"] is not None:
        world.expect(case["expected"])
    world.start()


def count(world: Mt5World, model: type) -> int:
    return int(world.rows(select(func.count()).select_from(model))[0][0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_class_writes_exactly_its_row(world: Mt5World, name: str) -> None:
    case = CASES[name]
    setup_case(world, case)

    run = world.sync()

    assert world.recon() == [case["row"]]
    assert run["status"] == "succeeded"
    assert run["counts"] == {"processed": 1, "created": 2, "existing": 0, "conflicts": 0, "exceptions": 0}  # 1 account
    if case["expected_state"] is not None:
        signal = case["row"][4]
        assert world.expected_states() == {signal: case["expected_state"]}


def test_the_snapshot_of_an_account_with_two_positions(world: Mt5World) -> None:
    setup_case(world, {"positions": [position(1001), position(1002, price_open=1.0852, swap=-1.25)], "expected": None})

    world.sync()

    # profits (1.086 - 1.085) * 0.1 * 100000 = 10.00 and (1.086 - 1.0852) * 0.1 * 100000 = 8.00;
    # equity = balance + sum(profit + swap) = 10000 + 10.00 + 8.00 - 1.25 = 10016.75
    assert world.snapshots() == [
        (
            "MT5SNAP:1:s1",
            D("10016.75"),
            D("10000.00"),
            D("10016.75"),
            D("0.00"),
            2,
            D("0.2"),
            D("16.75"),
            D("0.00"),
            None,
        )
    ]


def test_a_rerun_of_the_same_sync_writes_nothing_new(world: Mt5World) -> None:
    setup_case(world, CASES["manual_close"])
    run = world.sync()
    before = (world.recon(), world.snapshots(), count(world, AuditEvent))

    from tasks.mt5.sync import sync_accounts

    again = sync_accounts.apply_async(
        kwargs={"run_id": run["batch_run_id"], "terminal": "t1", "chunk_no": 0, "account_ids": [1]}
    ).get()

    assert again["note"] == "cycle already ended"
    assert (world.recon(), world.snapshots(), count(world, AuditEvent)) == before
    assert world.gateways["t1"].calls.count("login:5001") == 1  # the terminal was not asked again


def test_the_write_path_finds_the_same_results_existing(world: Mt5World) -> None:
    """Below the task: the terminal read again for the same sync gives the same results,
    and writing them again finds every one `existing`."""
    setup_case(world, CASES["slippage"])
    run = world.sync()
    with world.runtime.uow() as uow:
        [acct], expected_now = accounts_by_ids(uow.session, [1]), open_expected(uow.session, [1])[1]
    reading = read_account(Connection(world.gateways["t1"]), acct, Secret(PASSWORD), expected_now)
    outcomes = reconcile(expected_now, reading.positions, reading.symbols, reading.deals, Rules(frozenset({7})))
    figures = snapshot_figures(reading.account, reading.positions, acct.peak_equity)
    again = AccountSynced(acct, run["batch_run_id"], world.runtime.clock(), figures, outcomes)
    with world.runtime.uow() as uow:
        written = write_sync_results(
            uow.session, [again], [], batch_run_id=run["batch_run_id"], now=world.runtime.clock()
        )
        uow.commit()

    assert written.counts.as_dict() == {"processed": 2, "created": 0, "existing": 2, "conflicts": 0, "exceptions": 0}
    assert count(world, IdempotencyConflict) == 0
    assert (count(world, PositionSnapshot), count(world, ReconciliationLog)) == (1, 1)


def test_a_second_sync_is_a_new_sync_and_closed_positions_are_not_reported_again(world: Mt5World) -> None:
    setup_case(
        world,
        {
            "expected": expected(5001, "SIG-C", ticket=1004),
            "deals": [deal(9004, 1004, c.DEAL_REASON_CLIENT, 1.084, profit=-10.0)],
            "positions": [position(1001)],
        },
    )

    first, second = world.sync(), world.sync()

    assert [row[:3] for row in world.recon(first["batch_run_id"])] == [
        ("RECON:1:s1:t1001", "divergence", "unknown_position"),
        ("RECON:1:s1:t1004", "divergence", "manual_close"),
    ]
    # The expected position was closed by the first sync: the second reports only what is open.
    assert [row[:3] for row in world.recon(second["batch_run_id"])] == [
        ("RECON:1:s2:t1001", "divergence", "unknown_position")
    ]
    assert [s[0] for s in world.snapshots()] == ["MT5SNAP:1:s1", "MT5SNAP:1:s2"]
