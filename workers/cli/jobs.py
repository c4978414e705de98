"""`hedgeops run` and `hedgeops status`: jobs and the run ledger."""
from __future__ import annotations

import time
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import celery.exceptions
import kombu.exceptions
import redis.exceptions
import typer

from core.errors import HedgeopsError
from core.values import RunStatus
from tasks import names
from workers.cli.common import (
    EXIT_FAILED,
    EXIT_RUNNING,
    err,
    exit_code,
    fail,
    parse_day,
    settings_or_exit,
    show_runs,
    start,
)
from workers.logging import redact_text
from workers.settings import Settings


class JobName(StrEnum):
    nightly = "nightly"
    prices = "prices"
    mtm = "mtm"
    effectiveness = "effectiveness"
    mt5_sync = "mt5-sync"


TASK_OF_JOB = {
    JobName.nightly: names.RUN_NIGHTLY,
    JobName.prices: names.FETCH_SETTLEMENT_PRICES,
    JobName.mtm: names.COMPUTE_MTM_SNAPSHOTS,
    JobName.effectiveness: names.ASSESS_HEDGE_EFFECTIVENESS,
}


def run(
    job: JobName,
    as_of: Annotated[str | None, typer.Option("--as-of", help="as-of date D, YYYY-MM-DD (all jobs but mt5-sync)")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="distributed: wait until the run ends")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the run as JSON")] = False,
    timeout: Annotated[int, typer.Option(help="seconds --wait waits at most")] = 3600,
    account: Annotated[int | None, typer.Option("--account", help="mt5-sync: only the account of this login")] = None,
) -> None:
    """Run a job for an as-of date (embedded: in-process; distributed: enqueued); mt5-sync:
    one sync cycle of each terminal."""
    if job is JobName.mt5_sync:
        from workers.cli.mt5 import run_mt5_sync

        raise typer.Exit(run_mt5_sync(account, wait=wait, as_json=as_json, timeout=timeout))
    if as_of is None:
        raise fail(f"{job.value} needs --as-of YYYY-MM-DD")
    day = parse_day(as_of)
    settings = settings_or_exit()
    start(settings)
    summary = trigger_job(settings, job, day, "manual", wait=wait, timeout=timeout, quiet=as_json)
    show_runs([summary], as_json, single=True)
    raise typer.Exit(exit_code(summary.get("status", "")))


def trigger_job(settings: Settings, job: JobName, day: date, trigger: str, *, wait: bool, timeout: int,
                quiet: bool) -> dict[str, Any]:
    """Send the job's task (in-process when embedded) and, when asked or embedded, follow
    its run in the ledger to the end. Broker trouble and timeouts end the command clearly."""
    from celery import signature

    if job not in TASK_OF_JOB:
        raise fail(f"{job.value} has no as-of date: use `hedgeops run {job.value}`")
    kwargs = {"as_of": day.isoformat(), "trigger": trigger}
    try:
        result = signature(TASK_OF_JOB[job], kwargs=kwargs).apply_async()
        summary = await_result(result, timeout) if (wait or not settings.distributed) else None
    except (ValueError, HedgeopsError) as exc:
        raise fail(str(exc)) from None
    except celery.exceptions.TimeoutError:
        raise fail(f"no worker answered within {timeout}s: is a worker consuming the job's queue?",
                   EXIT_RUNNING) from None
    except (OSError, RuntimeError, kombu.exceptions.OperationalError, redis.exceptions.RedisError) as exc:
        raise fail(f"cannot reach the broker or result backend {redact_text(settings.broker_url or '')}: "
                   f"{redact_text(str(exc).strip())}", EXIT_FAILED) from None
    if summary is None:
        return {"job": job.value, "as_of": day.isoformat(), "status": "queued", "batch_run_id": None,
                "task_id": result.id}
    if summary.get("batch_run_id") is not None:
        return wait_for_run(summary["batch_run_id"], timeout, quiet=quiet or not settings.distributed)
    return dict(summary)


def await_result(result: Any, timeout: float) -> dict[str, Any]:
    """The trigger task's answer, polled: AsyncResult.get() would subscribe for it and leave
    the subscription to be torn down noisily at interpreter exit (celery#6512)."""
    deadline = time.monotonic() + timeout
    while not result.ready():
        if time.monotonic() > deadline:
            raise celery.exceptions.TimeoutError(f"no answer within {timeout}s")
        time.sleep(0.2)
    if result.failed():
        raise result.result
    return dict(result.result)


def wait_for_run(run_id: int, timeout: int, *, quiet: bool) -> dict[str, Any]:
    """Poll the ledger until the run ends (the run spans many tasks: the ledger knows)."""
    from db import ledger
    from tasks.runtime import runtime
    from tasks.summary import run_summary

    deadline = time.monotonic() + timeout
    with err.status("waiting for the run to end", spinner="dots") if not quiet else _nothing():
        while True:
            with runtime().uow() as uow:
                summary = run_summary(ledger.get_run(uow.session, run_id))
            if summary["status"] != RunStatus.RUNNING.value or time.monotonic() > deadline:
                return summary
            time.sleep(0.5)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many runs, newest first")] = 20,
) -> None:
    """The newest runs of the ledger."""
    from db import ledger
    from tasks.runtime import runtime
    from tasks.summary import run_summary

    start(settings_or_exit())
    with runtime().uow() as uow:
        summaries = [run_summary(r) for r in ledger.latest_runs(uow.session, limit)]
    show_runs(summaries, as_json)
