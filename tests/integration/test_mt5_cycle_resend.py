"""A terminal's sync cycle whose chunk message was lost (its worker SIGKILLed: the message
stays unacked until Redis' visibility timeout, an hour by default) gets that chunk again
from beat's stale-run sweep (tasks.resend), like the MTM and effectiveness runs: the
account is synced, the guard's open closes are finished, the cycle ends. Before, the sweep
moved the cycle's heartbeat on and sent nothing, so the cycle never looked abandoned
either and every trigger reported it running (tests/faults/test_guard_faults.py shows the
positions it left open)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from core.mt5.accounts import cycle_job
from core.values import Job, Trigger
from db import ledger
from db.models import BatchRun
from db.mt5.models import PositionSnapshot
from tasks import resend
from tasks.mt5.cycle import resend_cycle
from tests.fakes import Clock
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture


def lost_cycle(world: Mt5World, clock: Clock) -> int:
    """The ledger as a worker killed with the cycle's only chunk leaves it: running, one
    chunk planned, none counted in, the chunk's message gone."""
    with world.runtime.uow() as uow:
        started = ledger.start_run(
            uow.session,
            cycle_job("t1"),
            clock().date(),
            Trigger.BEAT,
            now=clock(),
            stale_after=timedelta(minutes=10),
            details={"terminal": "t1", "logins": None},
            any_date=True,
        )
        started.run.chunks_total = 1
        uow.commit()
        return started.run.id


def test_the_sweep_resends_a_stale_cycles_missing_chunk(world: Mt5World, clock: Clock) -> None:
    world.add(account(5001, positions=[position(88812)]))
    world.start()
    world.runtime = replace(world.runtime, chunk_resend_after=timedelta(minutes=5))
    world.configure()
    run_id = lost_cycle(world, clock)

    clock.now += timedelta(minutes=4)  # not stale yet: nothing is sent
    assert resend.resend_stale(world.runtime) == []
    assert world.sync_status(run_id) == "running"

    clock.now += timedelta(minutes=2)  # 6 min without heartbeat > 5: the chunk again
    assert resend.resend_stale(world.runtime) == [run_id]

    assert world.sync_status(run_id) == "succeeded"
    assert [r for (r,) in world.rows(select(PositionSnapshot.batch_run_id))] == [run_id]
    assert world.rows(select(BatchRun.chunks_done).where(BatchRun.id == run_id)) == [(1,)]
    assert resend.resend_stale(world.runtime) == []  # ended: nothing more


def test_every_chunked_job_has_a_resender() -> None:
    """A claimed run without one would have its heartbeat moved on and nothing sent."""
    assert resend.resender_for(cycle_job("t1")) is resend_cycle
    assert resend.resender_for(cycle_job("terminal-2")) is resend_cycle
    import tasks.hedging.effectiveness  # noqa: F401 - registers its resender
    import tasks.valuation  # noqa: F401

    assert resend.resender_for(Job.MTM.value) is not None and resend.resender_for(Job.EFFECTIVENESS.value) is not None
    assert resend.resender_for("mt5_syncx") is None
