"""Failures: a terminal unreachable, an authorization failed, an IPC timeout, a lost
connection, a missing credential. Each failed attempt is a snapshot row with its error; the
other accounts go on. In-process (eager) the first failure is final; a worker retries the
chunk with back-off (tests/e2e/test_mt5_cycle.py): here the attempts of a retry are driven
one by one through the chunk's body, as the worker's retries call it.

Accounts get ids in the order they are added: 1, 2, ..."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from core.mt5 import constants as c
from db.mt5.models import PositionSnapshot
from tasks.mt5.sync import AccountsFailed
from tests.mt5 import PASSWORD, Mt5World, account, expected, position, world  # noqa: F401 - fixture


def attempt(world: Mt5World, run_id: int, number: int, *, final: bool = False) -> dict[str, object]:
    """One attempt of chunk 0 of the cycle, as the worker's retry number `number` runs it."""
    from tasks.mt5.sync import ChunkRequest, sync_chunk

    request = ChunkRequest(run_id=run_id, terminal="t1", chunk_no=0, account_ids=[1, 2])
    return sync_chunk(world.runtime, world.mt5, request, attempt=number, final=final)


def planned_cycle(world: Mt5World) -> int:
    """A cycle in the ledger whose chunks are not sent (the test sends them by hand)."""
    from core.mt5.accounts import cycle_scope
    from core.values import Trigger
    from db import ledger

    scope = cycle_scope("t1", world.runtime.clock().date())
    with world.runtime.uow() as uow:
        run = ledger.start_run(
            uow.session,
            scope.job,
            scope.as_of,
            Trigger.MANUAL,
            now=world.runtime.clock(),
            stale_after=world.runtime.run_policy(scope).stale_after,
            any_date=True,
            details={"terminal": "t1", "scope": scope.stored()},
        ).run
        run.chunks_total = 1
        uow.commit()
        return run.id


def errors(world: Mt5World) -> list[tuple[str, str | None, int]]:
    p = PositionSnapshot
    return [tuple(r) for r in world.rows(select(p.idempotency_key, p.error_kind, p.attempt).order_by(p.id))]


def test_one_terminal_unreachable_leaves_the_other_terminals_accounts_synced(world: Mt5World) -> None:
    world.scenario["terminals"] = {"t2": {"unreachable": True}}
    world.add(account(5001, positions=[position(1001)]))
    world.add(account(5002, positions=[position(2001)]))
    world.add(account(6001, terminal="t2"))
    world.add(account(6002, terminal="t2"))
    world.start()

    t1, t2 = world.sync("t1"), world.sync("t2")

    assert t1["status"] == "succeeded" and t1["counts"]["exceptions"] == 0
    assert [s[0] for s in world.snapshots() if s[9] is None] == ["MT5SNAP:1:s1", "MT5SNAP:2:s1"]
    assert [r[0] for r in world.recon()] == ["RECON:1:s1:t1001", "RECON:2:s1:t2001"]
    assert t2["status"] == "failed"
    assert t2["error"].startswith("2 account(s) failed to sync: login 6001: initialize failed: terminal_unreachable")
    assert "; login 6002: initialize failed: terminal_unreachable" in t2["error"]
    assert t2["counts"] == {"processed": 2, "created": 2, "existing": 0, "conflicts": 0, "exceptions": 2}
    assert [e for e in errors(world) if e[1] is not None] == [
        ("MT5SNAP:3:s2:failed0", "terminal_unreachable", 0),
        ("MT5SNAP:4:s2:failed0", "terminal_unreachable", 0),
    ]


def test_an_authorization_failure_fails_that_account_only(world: Mt5World) -> None:
    world.add(account(5001, positions=[position(1001)]))
    world.add({**account(5002), "password": "another"})  # the terminal refuses our password
    world.start()

    with capture_logs() as logs:
        run = world.sync()

    assert run["status"] == "failed" and run["counts"]["exceptions"] == 1
    assert [e for e in errors(world) if e[1] is None] == [("MT5SNAP:1:s1", None, 0)]
    assert [e for e in errors(world) if e[1] is not None] == [("MT5SNAP:2:s1:failed0", "authorization_failed", 0)]
    error = world.rows(select(PositionSnapshot.error).where(PositionSnapshot.error.is_not(None)))[0][0]
    assert error == "login failed: authorization_failed (-6, Terminal: Authorization failed)"
    assert PASSWORD not in repr(logs) and any(e["event"] == "mt5_account_sync_failed" for e in logs)
    # The terminal answered: its link was kept, one initialize for both accounts.
    assert world.gateways["t1"].calls.count("initialize") == 1


def test_an_ipc_timeout_fails_the_attempt_and_the_retry_syncs(world: Mt5World) -> None:
    timeout = {"call": "positions_get", "code": c.RES_E_INTERNAL_FAIL_TIMEOUT, "message": "IPC timeout", "times": 1}
    world.add(account(5001, positions=[position(1001)], faults=[timeout]))
    world.add(account(5002, positions=[position(2001)]))
    world.expect(expected(5001, "SIG-1", ticket=1001))
    world.start()
    run_id = planned_cycle(world)

    with pytest.raises(AccountsFailed, match="5001: ipc_timeout"):
        attempt(world, run_id, 0)
    # attempt 0: 5001's timeout is a snapshot row with the error; 5002 synced all the same
    assert errors(world) == [("MT5SNAP:2:s1", None, 0), ("MT5SNAP:1:s1:failed0", "ipc_timeout", 0)]
    assert world.sync_status(run_id) == "running"
    calls = world.gateways["t1"].calls
    # After the timeout the link was dropped and made again: 5002 was read on a fresh initialize.
    assert calls[:7] == [
        "initialize",
        "login:5001",
        "account_info",
        "positions_get",
        "shutdown",
        "initialize",
        "login:5002",
    ]

    second = attempt(world, run_id, 1)

    assert second["synced"] == 1 and second["cycle_done"] is True  # 5002 was not read again
    assert errors(world)[2:] == [("MT5SNAP:1:s1", None, 0)]
    assert [r[:3] for r in world.recon()] == [
        ("RECON:2:s1:t2001", "divergence", "unknown_position"),
        ("RECON:1:s1:t1001", "matched", "matched"),
    ]
    assert world.sync_status(run_id) == "succeeded"


def test_the_last_attempt_makes_the_failure_final(world: Mt5World) -> None:
    world.add(account(5001, faults=[{"call": "login", "code": -6, "message": "Authorization failed", "times": None}]))
    world.add(account(5002))
    world.start()
    run_id = planned_cycle(world)

    with pytest.raises(AccountsFailed):
        attempt(world, run_id, 0)
    summary = attempt(world, run_id, 1, final=True)

    assert (summary["failed"], summary["cycle_done"]) == (1, True)
    assert [e for e in errors(world) if e[1]] == [
        ("MT5SNAP:1:s1:failed0", "authorization_failed", 0),
        ("MT5SNAP:1:s1:failed1", "authorization_failed", 1),
    ]
    assert world.sync_status(run_id) == "failed"


def test_a_disconnect_is_a_terminal_unreachable_and_the_next_account_reconnects(world: Mt5World) -> None:
    drop = {
        "call": "account_info",
        "code": c.RES_E_INTERNAL_FAIL_CONNECT,
        "message": "No IPC connection",
        "disconnect": True,
        "times": 1,
    }
    world.add(account(5001, faults=[drop], equity=[10000.0, 10100.0]))
    world.add(account(5002))
    world.start()
    run_id = planned_cycle(world)

    with pytest.raises(AccountsFailed):
        attempt(world, run_id, 0)
    attempt(world, run_id, 1)

    assert errors(world) == [
        ("MT5SNAP:2:s1", None, 0),
        ("MT5SNAP:1:s1:failed0", "terminal_unreachable", 0),
        ("MT5SNAP:1:s1", None, 0),
    ]
    # 5001 was logged into twice (two steps of its scenario): the retry read the second equity.
    equity = world.rows(select(PositionSnapshot.equity).where(PositionSnapshot.idempotency_key == "MT5SNAP:1:s1"))
    assert equity == [(D("10100.00"),)]


def test_a_missing_credential_is_a_failed_account_not_a_crash(world: Mt5World) -> None:
    world.add(account(5001), credential="env:NOT_SET_ANYWHERE")
    world.start()

    run = world.sync()

    assert run["status"] == "failed"
    assert {e[1] for e in errors(world)} == {"credential_unavailable"}
    assert world.gateways["t1"].calls == []  # nothing was sent to the terminal without a password


def test_a_permanent_failure_is_final_at_once_and_never_retried(world: Mt5World) -> None:
    world.add(account(5001), credential="env:NOT_SET_ANYWHERE")
    world.add(account(5002))
    world.start()
    run_id = planned_cycle(world)

    summary = attempt(world, run_id, 0)  # not the last attempt: still nothing to retry

    assert (summary["failed"], summary["cycle_done"]) == (1, True)
    with world.runtime.uow() as uow:
        from db import ledger

        run = ledger.get_run(uow.session, run_id)
        assert (run.status, run.processed, run.exceptions) == ("failed", 2, 1)  # accounts, not rows
        assert run.error == (
            "1 account(s) failed to sync: login 5001: credentials failed: credential_unavailable "
            "(0, env:NOT_SET_ANYWHERE: no such environment variable)"
        )


def test_a_retry_reads_again_only_what_a_retry_can_mend(world: Mt5World) -> None:
    timeout = {"call": "positions_get", "code": c.RES_E_INTERNAL_FAIL_TIMEOUT, "message": "IPC timeout", "times": 1}
    world.add(account(5001, positions=[position(1001)], faults=[timeout]))
    world.add(account(5002), credential="env:NOT_SET_ANYWHERE")
    world.start()
    run_id = planned_cycle(world)

    with pytest.raises(AccountsFailed, match="1 account.s. failed, retried: 5001: ipc_timeout") as raised:
        attempt(world, run_id, 0)
    assert "5002" not in str(raised.value)
    second = attempt(world, run_id, 1)

    assert second["cycle_done"] is True
    credential_failures = [e for e in errors(world) if e[1] == "credential_unavailable"]
    assert credential_failures == [("MT5SNAP:2:s1:failed0", "credential_unavailable", 0)]  # read once
    with world.runtime.uow() as uow:
        from db import ledger

        run = ledger.get_run(uow.session, run_id)
        assert (run.status, run.processed, run.exceptions) == ("failed", 2, 1)


def test_a_terminal_without_an_enabled_account_writes_no_cycle(world: Mt5World) -> None:
    from sqlalchemy import func

    from db.models import BatchRun
    from tasks.mt5.cycle import run_sync_cycle

    world.add(account(5001), enabled=False)
    world.start()

    answer = run_sync_cycle.apply_async(kwargs={"terminal": "t1"}).get()

    assert (answer["status"], answer["batch_run_id"]) == ("skipped", None)
    assert world.rows(select(func.count()).select_from(BatchRun)) == [(0,)]
