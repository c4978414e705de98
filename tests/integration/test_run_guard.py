"""The same (job, as_of_date) never runs twice at once: the database guard (both
databases), the Redis lock (distributed), stale runs, redelivered and retried tasks."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.ledger import job_scope
from core.values import Job, Trigger
from db import ledger
from db.engine import session_factory
from db.models import BatchRun, BatchRunChunk, MtmSnapshot
from tasks import runs
from tasks.loading import load_contracts_csv
from tasks.valuation import compute_mtm_chunk, compute_mtm_snapshots
from tests.builders import contract, contracts_csv, prices_csv
from tests.fakes import Clock, InMemoryPriceSource
from workers.adapters.locks import RedisRunLock

AS_OF = date(2026, 11, 20)
STALE = timedelta(hours=1)


class TestDatabaseGuard:
    def test_a_second_start_while_running_returns_the_running_run(self, db_url: str, clock: Clock) -> None:
        with session_factory(db_url)() as s:
            first = ledger.start_run(s, Job.MTM, AS_OF, Trigger.BEAT, now=clock(), stale_after=STALE)
            s.commit()
            second = ledger.start_run(s, Job.MTM, AS_OF, Trigger.MANUAL, now=clock(), stale_after=STALE)
            s.commit()
            assert (first.new, second.new, second.run.id) == (True, False, first.run.id)
            assert s.scalar(select(func.count()).select_from(BatchRun)) == 1

    def test_after_the_end_a_trigger_starts_the_next_attempt(self, db_url: str, clock: Clock) -> None:
        with session_factory(db_url)() as s:
            first = ledger.start_run(s, Job.MTM, AS_OF, Trigger.BEAT, now=clock(), stale_after=STALE)
            ledger.finish_run(s, first.run, clock())
            s.commit()
            second = ledger.start_run(s, Job.MTM, AS_OF, Trigger.MANUAL, now=clock(), stale_after=STALE)
            s.commit()
            assert (second.new, second.run.attempt) == (True, 2)

    def test_a_run_without_heartbeat_is_abandoned_and_a_new_attempt_starts(self, db_url: str, clock: Clock) -> None:
        with session_factory(db_url)() as s:
            first = ledger.start_run(s, Job.MTM, AS_OF, Trigger.BEAT, now=clock(), stale_after=STALE)
            s.commit()
            later = clock() + STALE + timedelta(seconds=1)
            second = ledger.start_run(s, Job.MTM, AS_OF, Trigger.MANUAL, now=later, stale_after=STALE)
            s.commit()
            s.refresh(first.run)
            assert second.new and second.run.attempt == 2
            assert (first.run.status, first.run.error) == ("failed", "abandoned: no heartbeat (worker killed?)")

    def test_the_partial_unique_index_refuses_two_running_attempts(self, db_url: str, clock: Clock) -> None:
        from sqlalchemy.exc import IntegrityError

        with session_factory(db_url)() as s:
            for attempt in (1, 2):
                s.add(
                    BatchRun(
                        job="mtm",
                        as_of_date=AS_OF,
                        attempt=attempt,
                        trigger="manual",
                        status="running",
                        details={},
                        started_at=clock(),
                        heartbeat_at=clock(),
                    )
                )
            with pytest.raises(IntegrityError):
                s.commit()

    def test_concurrent_starts_on_postgres_make_one_attempt(self, pg_url: str, clock: Clock) -> None:
        barrier = threading.Barrier(6)
        results: list[bool] = []

        def start() -> None:
            with session_factory(pg_url)() as s:
                barrier.wait()
                started = ledger.start_run(s, Job.NIGHTLY, AS_OF, Trigger.MANUAL, now=clock(), stale_after=STALE)
                s.commit()
                results.append(started.new)

        threads = [threading.Thread(target=start) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False] * 5 + [True]
        with session_factory(pg_url)() as s:
            assert s.scalar(select(func.count()).select_from(BatchRun)) == 1


class TestRedisLock:
    def test_one_owner_at_a_time_and_only_the_owner_releases(self, redis_url: str, redis_prefix: str) -> None:
        import redis

        lock = RedisRunLock(redis.Redis.from_url(redis_url), ttl_seconds=30, prefix=redis_prefix)
        assert lock.acquire("hedgeops:lock:mtm:2026-11-20", "a")
        assert not lock.acquire("hedgeops:lock:mtm:2026-11-20", "b")
        lock.release("hedgeops:lock:mtm:2026-11-20", "b")  # not b's: nothing happens
        assert lock.holder("hedgeops:lock:mtm:2026-11-20") == "a"
        lock.release("hedgeops:lock:mtm:2026-11-20", "a")
        assert lock.acquire("hedgeops:lock:mtm:2026-11-20", "b")

    def test_the_lock_expires(self, redis_url: str, redis_prefix: str) -> None:
        import redis

        client = redis.Redis.from_url(redis_url)
        lock = RedisRunLock(client, ttl_seconds=30, prefix=redis_prefix)
        key = redis_prefix + "k"
        lock.acquire("k", "a")
        assert 29_000 < client.pttl(key) <= 30_000
        client.pexpire(key, 1000)
        lock.refresh("k", "a")  # refresh pushes the expiry back while the owner works
        assert client.pttl(key) > 29_000

    def test_a_trigger_while_running_reports_the_running_run(
        self, runtime: Any, redis_url: str, redis_prefix: str
    ) -> None:
        import redis

        rt = runtime
        lock = RedisRunLock(redis.Redis.from_url(redis_url), ttl_seconds=60, prefix=redis_prefix)
        object.__setattr__(rt, "run_lock", lock)
        first = runs.begin(runtime, job_scope(Job.MTM, AS_OF), Trigger.BEAT, task_id="t1")
        second = runs.begin(runtime, job_scope(Job.MTM, AS_OF), Trigger.MANUAL, task_id="t2")
        assert first.proceed and not second.proceed
        assert second.run_id == first.run_id
        assert second.summary["note"] == "already running"
        again = runs.begin(
            runtime, job_scope(Job.MTM, AS_OF), Trigger.MANUAL, task_id="t1"
        )  # a retry of t1 resumes its own run
        assert again.proceed and again.run_id == first.run_id


def load_and_price(price_source: InMemoryPriceSource, n: int) -> None:
    load_contracts_csv(contracts_csv(*(contract(f"C{i}", entry_price="2500") for i in range(n))), "c.csv")
    price_source.add("p.csv", prices_csv(("LME-AL", "2026-11-19", "2510")))


class TestRedelivery:
    def test_a_chunk_delivered_twice_is_counted_once(self, runtime: Any, price_source: InMemoryPriceSource) -> None:
        from tasks.prices import fetch_settlement_prices

        load_and_price(price_source, 3)
        fetch_settlement_prices.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
        begun = runs.begin(runtime, job_scope(Job.MTM, AS_OF), Trigger.MANUAL, task_id="plan")
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, begun.run_id)
            run.chunks_total = 2
            run.details = {"d1_policy": "business", "symbol_calendars": {}}
            uow.commit()
        ids = [1, 2]
        first = compute_mtm_chunk.apply(kwargs={"run_id": begun.run_id, "chunk_no": 0, "contract_ids": ids}).get()
        again = compute_mtm_chunk.apply(kwargs={"run_id": begun.run_id, "chunk_no": 0, "contract_ids": ids}).get()
        assert (first["counted"], first["created"]) == (True, 2)
        assert (again["counted"], again["existing"]) == (False, 2)
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, begun.run_id)
            assert (run.chunks_done, run.created, run.status) == (1, 2, "running")
            assert uow.session.scalar(select(func.count()).select_from(BatchRunChunk)) == 1
        compute_mtm_chunk.apply(kwargs={"run_id": begun.run_id, "chunk_no": 1, "contract_ids": [3]}).get()
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, begun.run_id)
            assert (run.chunks_done, run.created, run.status) == (2, 3, "succeeded")

    def test_a_redelivered_start_task_resumes_its_own_run(
        self, runtime: Any, price_source: InMemoryPriceSource
    ) -> None:
        load_and_price(price_source, 5)
        from tasks.prices import fetch_settlement_prices

        fetch_settlement_prices.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
        first = compute_mtm_snapshots.apply(kwargs={"as_of": AS_OF.isoformat()}, task_id="same-id").get()
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, first["batch_run_id"])
            run.status, run.finished_at = "running", None  # as if the worker died before the end
            uow.commit()
        again = compute_mtm_snapshots.apply(kwargs={"as_of": AS_OF.isoformat()}, task_id="same-id").get()
        assert again["batch_run_id"] == first["batch_run_id"]
        with runtime.uow() as uow:
            assert uow.session.scalar(select(func.count()).select_from(MtmSnapshot)) == 5
            assert uow.session.scalar(select(func.count()).select_from(BatchRun).where(BatchRun.job == "mtm")) == 1


class TestFailure:
    def test_a_permanent_error_fails_the_run_and_the_nightly(self, runtime: Any) -> None:
        from tasks.nightly import run_nightly

        class BrokenBatch:  # a source's failure is only its own (test_operations): this breaks the job itself
            source, location, file_sha256, rejected = "broken", None, None, None

            @property
            def report(self) -> Any:
                raise ValueError("vendor folder unreadable")

        class BrokenSource:
            name = "broken"

            def fetch(self, as_of: date, wanted: Any) -> Any:
                yield BrokenBatch()

            def acknowledge(self, batch: Any) -> None:
                return None

        object.__setattr__(runtime, "price_sources", [BrokenSource()])
        with pytest.raises(ValueError, match="unreadable"):
            run_nightly.apply_async(kwargs={"as_of": AS_OF.isoformat()}).get()
        with runtime.uow() as uow:
            rows = {r.job: (r.status, r.error) for r in uow.session.scalars(select(BatchRun))}
        assert rows["prices"] == ("failed", "ValueError: vendor folder unreadable")
        assert rows["nightly"][0] == "failed" and "step prices" in rows["nightly"][1]
