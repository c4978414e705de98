"""The cycle of a terminal: it never overlaps itself (the ledger; the Redis cycle lock when
distributed), an abandoned one gives way, tasks go to the terminal's queue, beat sends a
cycle per terminal, metrics are counted, passwords come by reference."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from core.keys import mt5_cycle_lock_key
from core.mt5 import constants as c
from core.mt5.accounts import CYCLE_FAMILY, cycle_scope
from core.mt5.gateway import CredentialUnavailable
from core.values import Trigger
from db import ledger
from db.models import BatchRun
from tasks.base import route_task
from tasks.mt5.queues import WrongQueue, check_queue
from tasks.mt5.sync import collector_paused
from tests import services
from tests.mt5 import Mt5World, account, deal, expected, position, with_cycle_lock, world  # noqa: F401 - fixture
from workers.adapters.locks import RedisRunLock
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.metrics import PrometheusSyncObserver
from workers.mt5_wiring import mt5_beat_schedule, mt5_queues
from workers.settings import load_settings


def running(world: Mt5World) -> int:
    with world.runtime.uow() as uow:
        scope = cycle_scope("t1", world.runtime.clock().date())
        run = ledger.start_run(
            uow.session,
            scope.job,
            scope.as_of,
            Trigger.BEAT,
            now=world.runtime.clock(),
            stale_after=world.runtime.run_policy(scope).stale_after,
            task_id="other",
            any_date=True,
            details={"terminal": "t1", "scope": scope.stored()},
        ).run
        uow.commit()
        return run.id


def cycles(world: Mt5World) -> int:
    return int(world.rows(select(func.count()).select_from(BatchRun).where(BatchRun.job == "mt5_sync:t1"))[0][0])


class TestNoOverlap:
    def test_a_trigger_during_a_cycle_reports_the_running_one(self, world: Mt5World) -> None:
        world.add(account(5001))
        world.start()
        first = running(world)

        second = world.sync()

        assert (second["batch_run_id"], second["status"]) == (first, "running")
        assert cycles(world) == 1 and world.gateways["t1"].calls == []

    def test_an_abandoned_cycle_gives_way(self, world: Mt5World) -> None:
        world.add(account(5001))
        world.start()
        first = running(world)
        stale_after = world.runtime.family_policies[CYCLE_FAMILY].stale_after
        later = world.runtime.clock() + stale_after + timedelta(seconds=1)
        world.runtime = replace(world.runtime, clock=lambda: later)
        world.configure()

        second = world.sync()

        assert second["batch_run_id"] != first and second["status"] == "succeeded"
        abandoned = world.rows(select(BatchRun.status, BatchRun.error).where(BatchRun.id == first))[0]
        assert tuple(abandoned) == ("failed", "abandoned: no heartbeat (worker killed?)")

    def test_the_redis_cycle_lock_keeps_a_second_cycle_out(self, world: Mt5World, redis_prefix: str) -> None:
        client = services.redis_client()
        lock = RedisRunLock(client, 60, prefix=redis_prefix)
        world.add(account(5001))
        world.start()
        world.runtime = with_cycle_lock(world.runtime, lock)
        world.configure()
        assert lock.acquire(mt5_cycle_lock_key("t1"), "another-worker")

        held = _trigger(world)
        lock.release(mt5_cycle_lock_key("t1"), "another-worker")
        done = world.sync()

        assert held["note"] == "another trigger holds the run lock" and held["batch_run_id"] is None
        assert done["status"] == "succeeded" and cycles(world) == 1
        assert lock.holder(mt5_cycle_lock_key("t1")) is None  # released when the cycle ended
        client.close()

    def test_a_lock_left_by_an_ended_cycle_gives_way(self, world: Mt5World, redis_prefix: str) -> None:
        """A worker died between the commit that ended its cycle and the lock's release: the
        lock holds that cycle's token. The next trigger releases it and runs at once (was:
        every trigger refused until the lock expired, the terminal's guard off meanwhile)."""
        client = services.redis_client()
        lock = RedisRunLock(client, 600, prefix=redis_prefix)
        world.add(account(5001))
        world.start()
        world.runtime = with_cycle_lock(world.runtime, lock)
        world.configure()
        first = world.sync()
        assert first["status"] == "succeeded"
        token = world.rows(select(BatchRun.lock_token).where(BatchRun.id == first["batch_run_id"]))[0][0]
        assert lock.acquire(mt5_cycle_lock_key("t1"), token)  # the release that never happened

        second = world.sync()

        assert second["status"] == "succeeded" and second["batch_run_id"] != first["batch_run_id"]
        assert cycles(world) == 2
        assert lock.holder(mt5_cycle_lock_key("t1")) is None
        client.close()


def _trigger(world: Mt5World) -> dict[str, object]:
    from tasks.mt5.cycle import run_sync_cycle

    return dict(run_sync_cycle.apply_async(kwargs={"terminal": "t1"}).get())


class TestRouting:
    @pytest.mark.parametrize(
        ("name", "kwargs", "queue"),
        [
            ("hedgeops.mt5.run_sync_cycle", {"terminal": "t2"}, "mt5.t2"),
            ("hedgeops.mt5.sync_accounts", {"terminal": "t1", "run_id": 1}, "mt5.t1"),
            ("hedgeops.mt5.run_sync_cycle", {}, "mt5"),  # no terminal named: the shared mt5 queue
            ("hedgeops.valuation.compute_mtm_chunk", {"terminal": "t1"}, "valuation"),  # a static route
            ("not.ours", {}, None),
        ],
    )
    def test_the_router_sends_mt5_tasks_to_their_terminals_queue(
        self, name: str, kwargs: dict[str, object], queue: str | None
    ) -> None:
        route = route_task(name, (), kwargs, {})
        assert (route or {}).get("queue") == queue

    def test_an_explicit_queue_wins_over_the_route(self, world: Mt5World) -> None:
        from celery import current_app

        routed = current_app.amqp.router.route(
            {"queue": "mt5.t9"}, "hedgeops.mt5.run_sync_cycle", (), {"terminal": "t1"}
        )
        assert routed["queue"].name == "mt5.t9"

    def test_a_chunk_from_another_queue_is_refused(self) -> None:
        valuation = {"exchange": "", "routing_key": "valuation"}
        with pytest.raises(WrongQueue, match="a chunk of terminal t1 came from queue valuation, not mt5.t1"):
            check_queue("t1", valuation, is_eager=False)
        check_queue("t1", {"exchange": "", "routing_key": "mt5.t1"}, is_eager=False)
        check_queue("t1", valuation, is_eager=True)  # in-process there is no queue

    def test_beat_sends_each_terminals_cycle_every_n_seconds(self) -> None:
        settings = load_settings(mt5_terminals="t1,t2", mt5_sync_every=15)

        schedule = mt5_beat_schedule(settings)

        assert mt5_queues(settings) == ["mt5", "mt5.t1", "mt5.t2"]
        assert schedule["mt5-sync-t2"] == {
            "task": "hedgeops.mt5.run_sync_cycle",
            "schedule": 15.0,
            "kwargs": {"terminal": "t2", "trigger": "beat"},
            "options": {"queue": "mt5.t2", "expires": 15},
        }
        assert mt5_beat_schedule(load_settings(mt5_terminals="")) == {}


def test_metrics_are_counted_per_sync(world: Mt5World) -> None:
    registry = CollectorRegistry()
    world.add(
        account(
            5001,
            equity=[10000.0, 9000.0],
            positions=[position(1001), position(1002, volume=0.05), position(1004, volume=0.05)],
            deals=[deal(9003, 1003, c.DEAL_REASON_SL, 1.0795)],
        )
    )
    world.expect(
        expected(5001, "SIG-1", ticket=1001),
        expected(5001, "SIG-2", ticket=1002),
        expected(5001, "SIG-3", ticket=1003),
        expected(5001, "SIG-4", ticket=1004),
    )
    world.add({**account(5002), "password": "wrong"})
    world.start()
    world.mt5 = replace(world.mt5, sync_observer=PrometheusSyncObserver(registry))
    world.configure()

    world.sync(), world.sync()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("mt5_position_sync_total", terminal="t1", outcome="ok") == 2
    assert value("mt5_position_sync_total", terminal="t1", outcome="authorization_failed") == 2
    # sync 1: 1002 and 1004 partial (0.05 of 0.10), 1003 gapped past 1.08000 (50 points);
    # sync 2: 1002 and 1004 again (two of a reason in one sync count two)
    assert value("reconciliation_divergences_total", reason="partial_fill") == 4
    assert value("reconciliation_divergences_total", reason="gap") == 1
    assert value("reconciliation_latency_seconds_count", terminal="t1") == 2
    assert value("mt5_positions_total", login="5001") == 3
    assert value("account_equity", login="5001", currency="USD") == 9000.0
    assert value("account_drawdown_percent", login="5001") == 10.0  # (10000 - 9000) / 10000 * 100


class TestCollectorPaused:
    """A chunk holds the cyclic collector off while it runs, and gives it back as it was."""

    def test_off_inside_and_on_again_after_a_chunk_even_one_that_raises(self) -> None:
        inside: list[bool] = []
        with collector_paused():
            inside.append(gc.isenabled())
        with pytest.raises(RuntimeError), collector_paused():
            inside.append(gc.isenabled())
            raise RuntimeError("a chunk that fails")
        assert inside == [False, False]
        assert gc.isenabled()

    def test_a_collector_already_off_stays_off(self) -> None:
        gc.disable()
        try:
            with collector_paused():
                pass
            assert not gc.isenabled()
        finally:
            gc.enable()

    def test_a_sync_reads_its_accounts_with_the_collector_off(
        self, world: Mt5World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        world.add(account(5001, positions=[position(1001)]))
        world.start()
        simulator, seen = world.gateways["t1"], list[bool]()
        info = simulator.account_info

        def watched() -> object:
            seen.append(gc.isenabled())
            return info()

        monkeypatch.setattr(simulator, "account_info", watched)
        assert world.sync()["status"] == "succeeded"
        assert seen and not any(seen)
        assert gc.isenabled()


class TestCredentials:
    def test_a_secrets_file_and_an_environment_variable(self, tmp_path: Path) -> None:
        secret = tmp_path / "mt5_5001"
        secret.write_text("s3cret-from-file\n")
        store = EnvOrFileCredentials({"MT5_PW": "s3cret-from-env"})

        assert store.password(f"file:{secret}").reveal() == "s3cret-from-file"
        assert store.password("env:MT5_PW").reveal() == "s3cret-from-env"

    @pytest.mark.parametrize(
        ("reference", "why"),
        [
            ("env:NOPE", "env:NOPE: no such environment variable"),
            ("file:/nonexistent/mt5", "file:/nonexistent/mt5: cannot read the file (FileNotFoundError)"),
        ],
    )
    def test_a_missing_one_names_the_reference(self, reference: str, why: str) -> None:
        with pytest.raises(CredentialUnavailable) as caught:
            EnvOrFileCredentials({}).password(reference)
        assert caught.value.message == why


def test_a_metrics_port_already_taken_is_a_start_up_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(The node's endpoint summing its processes is tests/e2e/test_operations.py.)"""
    import socket

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from workers.metrics import MetricsPortUnavailable, serve_node

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsPortUnavailable, match=f"metrics port {port} cannot be bound"):
            serve_node(port, "127.0.0.1")
