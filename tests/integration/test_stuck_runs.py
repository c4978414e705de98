"""Stuck runs are yours to end (issue 20, point 3): `runs abandon` ends a run, its steps and
its lock, audited; the re-send sweep starts a nightly's step whose message was lost; the
run lock lives minutes past the last heartbeat, not an hour; `run --wait` says which run
answered when it was not its own."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.values import Job, Trigger
from db import ledger
from db.engine import session_factory
from db.models import AuditEvent, BatchRun
from workers.cli import app

AS_OF = date(2026, 11, 20)


def started(
    url: str,
    job: Job,
    *,
    parent: int | None = None,
    minutes_ago: int = 0,
    token: str | None = None,
    task_id: str | None = None,
) -> int:
    from datetime import UTC, datetime

    with session_factory(url)() as s:
        now = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        run = ledger.start_run(
            s,
            job,
            AS_OF,
            Trigger.BEAT,
            now=now,
            stale_after=timedelta(hours=1),
            parent_run_id=parent,
            lock_token=token,
            task_id=task_id,
        ).run
        s.commit()
        return run.id


def statuses(url: str) -> dict[int, tuple[str, str | None]]:
    with session_factory(url)() as s:
        return {r.id: (r.status, r.error) for r in s.scalars(select(BatchRun).order_by(BatchRun.id))}


class TestAbandon:
    def test_a_nightly_ends_with_its_running_step_audited(self, embedded_cli: CliRunner, db_url: str) -> None:
        nightly = started(db_url, Job.NIGHTLY)
        step = started(db_url, Job.PRICES, parent=nightly)
        result = embedded_cli.invoke(
            app, ["runs", "abandon", str(nightly), "--by", "alice", "--reason", "prices worker lost", "--json"]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["status"] == "failed"
        error = "abandoned by alice: prices worker lost"
        assert statuses(db_url) == {nightly: ("failed", error), step: ("failed", error)}
        with session_factory(db_url)() as s:
            audit = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "batch_run_abandoned")).one()
        assert (audit.actor, audit.details["reason"], audit.details["steps"]) == ("alice", "prices worker lost", [step])
        again = embedded_cli.invoke(app, ["runs", "abandon", str(nightly), "--by", "alice", "--reason", "x"])
        assert again.exit_code == 2
        assert again.stderr.strip() == f"hedgeops: batch run {nightly} is not running: it ended failed"

    def test_a_step_ends_its_nightly_naming_it(self, embedded_cli: CliRunner, db_url: str) -> None:
        nightly = started(db_url, Job.NIGHTLY)
        step = started(db_url, Job.PRICES, parent=nightly)
        assert (
            embedded_cli.invoke(app, ["runs", "abandon", str(step), "--by", "bob", "--reason", "stuck"]).exit_code == 0
        )
        found = statuses(db_url)
        assert found[step] == ("failed", "abandoned by bob: stuck")
        assert found[nightly][0] == "failed" and f"step prices (batch run {step}) failed" in (found[nightly][1] or "")

    @pytest.mark.parametrize(
        ("args", "says"),
        [
            (["99999", "--by", "a", "--reason", "b"], "hedgeops: no batch run 99999"),
            (["{run}", "--by", " ", "--reason", "b"], "hedgeops: --by and --reason must not be empty"),
        ],
    )
    def test_mistakes_are_one_line(self, embedded_cli: CliRunner, db_url: str, args: list[str], says: str) -> None:
        run = started(db_url, Job.MTM)
        result = embedded_cli.invoke(app, ["runs", "abandon", *(a.format(run=run) for a in args)])
        assert result.exit_code == 2 and result.stderr.strip().startswith(says), result.output
        assert statuses(db_url)[run][0] == "running"


@pytest.mark.redis
def test_abandon_releases_the_run_lock(
    embedded_cli: CliRunner, db_url: str, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.keys import run_lock_key
    from tests import services

    client = services.redis_client(redis_url)
    key = redis_prefix + run_lock_key(Job.MTM.value, AS_OF)
    client.set(key, "tok-1", px=60_000)
    run = started(db_url, Job.MTM, token="tok-1")
    monkeypatch.setenv("HEDGEOPS_BROKER_URL", redis_url)  # the CLI's lock is Redis (nothing is sent)
    monkeypatch.setenv("HEDGEOPS_REDIS_KEY_PREFIX", redis_prefix)
    result = embedded_cli.invoke(app, ["runs", "abandon", str(run), "--by", "alice", "--reason", "stuck"])
    assert result.exit_code == 0, result.output
    assert client.get(key) is None


@pytest.mark.redis
def test_the_run_lock_lives_minutes_past_the_last_heartbeat(sqlite_url: str, redis_url: str, redis_prefix: str) -> None:
    from tests import services
    from workers.bootstrap import build_bundles
    from workers.settings import load_settings

    settings = load_settings(database_url=sqlite_url, broker_url=redis_url, redis_key_prefix=redis_prefix)
    lock = build_bundles(settings).shared.run_lock
    assert lock.acquire("lock-ttl", "me")
    ttl = services.redis_client(redis_url).pttl(redis_prefix + "lock-ttl")
    assert 290_000 < ttl <= settings.chunk_resend_after * 1000  # 5 minutes, not run_stale_after's hour
    lock.release("lock-ttl", "me")


class TestResendSweep:
    def test_a_nightly_whose_step_never_started_gets_it_sent(self, runtime: Any, db_url: str) -> None:
        from datetime import UTC, datetime

        from tasks.ports import configure
        from tasks.resend import resend_stale

        nightly = started(db_url, Job.NIGHTLY, minutes_ago=10)  # its first step's message was lost
        p = replace(runtime, clock=lambda: datetime.now(UTC))
        configure(p)  # the steps sent run in-process on the same ports
        assert resend_stale(p) == [nightly]  # in-process: the chain runs to its end at once
        found = statuses(db_url)
        assert found[nightly][0] == "succeeded" and len(found) == 5  # the nightly and its four steps
        assert resend_stale(p) == []

    def test_a_nightly_with_a_step_still_moving_is_left_to_that_step(self, runtime: Any, db_url: str) -> None:
        from datetime import UTC, datetime

        from tasks.resend import resend_stale

        nightly = started(db_url, Job.NIGHTLY, minutes_ago=10)
        started(db_url, Job.PRICES, parent=nightly, task_id="prices-task")  # its heartbeat is fresh
        assert resend_stale(replace(runtime, clock=lambda: datetime.now(UTC))) == []
        assert statuses(db_url)[nightly][0] == "running"

    def test_a_stale_step_without_chunks_is_sent_again_to_resume_its_run(self, runtime: Any, db_url: str) -> None:
        """Its message was lost after its run began (its worker died; a FLUSHALL or a Redis
        restart without AOF took the unacked copy): sent again under the run's task id, it
        resumes that run, no second attempt."""
        from datetime import UTC, datetime

        from tasks.ports import configure
        from tasks.resend import resend_stale

        nightly = started(db_url, Job.NIGHTLY, minutes_ago=10)
        step = started(db_url, Job.PRICES, parent=nightly, minutes_ago=10, task_id="prices-task")
        p = replace(runtime, clock=lambda: datetime.now(UTC))
        configure(p)
        assert resend_stale(p) == [nightly]
        found = statuses(db_url)
        assert found[nightly][0] == "succeeded" and found[step][0] == "succeeded"
        assert len(found) == 5  # the nightly and its four steps: the prices run resumed, not attempted again
        assert resend_stale(p) == []


def test_wait_says_which_run_answered(embedded_cli: CliRunner, db_url: str) -> None:
    run = started(db_url, Job.MTM)
    result = embedded_cli.invoke(
        app, ["run", "mtm", "--in-process", "--as-of", "2026-11-20", "--wait", "--timeout", "1"]
    )
    assert result.exit_code == 4
    assert result.stderr.splitlines()[0] == (
        f"hedgeops: already running: batch run {run} (mtm 2026-11-20, attempt 1, running); following it"
    )
