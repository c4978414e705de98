"""`hedgeops run`: a job for an as-of date, in-process (embedded) or enqueued (distributed)."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import typer

from tasks import names
from workers.cli.common import (
    IN_PROCESS_OPTION,
    err,
    exit_code,
    fail,
    mode_or_exit,
    parse_day,
    settings_or_exit,
    show_runs,
    start,
)
from workers.cli.trigger import Outcome, follow, send, started_run
from workers.settings import Settings


class JobName(StrEnum):
    nightly = "nightly"
    prices = "prices"
    mtm = "mtm"
    effectiveness = "effectiveness"
    postings = "postings"
    mt5_sync = "mt5-sync"


TASK_OF_JOB = {
    JobName.nightly: names.RUN_NIGHTLY,
    JobName.prices: names.FETCH_SETTLEMENT_PRICES,
    JobName.mtm: names.COMPUTE_MTM_SNAPSHOTS,
    JobName.effectiveness: names.ASSESS_HEDGE_EFFECTIVENESS,
    JobName.postings: names.POST_HEDGE_ACCOUNTING_ENTRIES,
}
#: The queues a job's tasks go through: a worker must consume each for `--wait`.
QUEUES_OF_JOB: dict[JobName, set[str]] = {
    JobName.nightly: {names.QueueName.PRICES, names.QueueName.VALUATION},
    JobName.prices: {names.QueueName.PRICES},
    JobName.mtm: {names.QueueName.VALUATION},
    JobName.effectiveness: {names.QueueName.VALUATION},
    JobName.postings: {names.QueueName.VALUATION},
}


def run(
    job: JobName,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="as-of date D, YYYY-MM-DD (all jobs but mt5-sync)")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="distributed: wait until the run ends")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the run as JSON (an object on every outcome)")] = False,
    timeout: Annotated[int, typer.Option(min=1, help="seconds --wait waits at most")] = 3600,
    account: Annotated[int | None, typer.Option("--account", help="mt5-sync: only the account of this login")] = None,
    in_process: Annotated[bool, IN_PROCESS_OPTION] = False,
) -> None:
    """Run a job for an as-of date (embedded: in-process; distributed: enqueued); mt5-sync:
    one sync cycle of each terminal."""
    try:
        code = _run(job, as_of, wait=wait, as_json=as_json, timeout=timeout, account=account, in_process=in_process)
    except typer.Exit as exc:
        message = getattr(exc, "message", None)
        if as_json and exc.exit_code and message:
            default = {"job": job.value, "as_of": as_of, "status": "error", "batch_run_id": None, "error": message}
            print(json.dumps(getattr(exc, "json", None) or default))
        raise
    raise typer.Exit(code)


def _run(
    job: JobName, as_of: str | None, *, wait: bool, as_json: bool, timeout: int, account: int | None, in_process: bool
) -> int:
    if job is JobName.mt5_sync:
        from workers.cli.mt5 import run_mt5_sync

        return run_mt5_sync(account, wait=wait, as_json=as_json, timeout=timeout, in_process=in_process)
    if as_of is None:
        raise fail(f"{job.value} needs --as-of YYYY-MM-DD")
    day = parse_day(as_of)
    settings = settings_or_exit()
    mode_or_exit(settings, in_process)
    start(settings)
    try:
        summary = trigger_job(settings, job, day, "manual", wait=wait, timeout=timeout, quiet=as_json)
    except Outcome as outcome:
        exit_ = fail(outcome.message, outcome.code)
        exit_.json = outcome.as_json(job=job.value, as_of=day.isoformat())
        raise exit_ from None
    show_runs([summary], as_json, single=True)
    return exit_code(summary.get("status", ""))


def trigger_job(
    settings: Settings, job: JobName, day: date, trigger: str, *, wait: bool, timeout: int, quiet: bool
) -> dict[str, Any]:
    """Send the job's task (in-process when embedded) and, when asked or embedded, follow
    its run in the ledger to the end. Outcome for every other end."""
    if job not in TASK_OF_JOB:
        raise fail(f"{job.value} has no as-of date: use `hedgeops run {job.value}`")
    kwargs = {"as_of": day.isoformat(), "trigger": trigger}
    follow_it = wait or not settings.distributed
    # The task id on stderr at once (a backfill's progress bar says enough).
    result = send(
        settings, TASK_OF_JOB[job], kwargs, queues=QUEUES_OF_JOB[job], wait=follow_it, quiet=trigger == "backfill"
    )
    if not follow_it:
        return {
            "job": job.value,
            "as_of": day.isoformat(),
            "status": "queued",
            "batch_run_id": None,
            "task_id": result.id,
        }
    queues = ", ".join(sorted(QUEUES_OF_JOB[job]))
    started = started_run(result, timeout, what=f"queue {queues}")
    if started.get("batch_run_id") is None:
        return {**started, "task_id": result.id}
    if started.get("note") and trigger != "backfill":
        say_answered(started)
    summary = follow(started["batch_run_id"], timeout, quiet=quiet or not settings.distributed, task_id=result.id)
    if started.get("note") and not summary.get("note"):
        summary = {**summary, "note": started["note"]}  # which run answered: another trigger's, followed to its end
    return {**summary, "task_id": result.id} if settings.distributed else summary


def say_answered(started: dict[str, Any]) -> None:
    """The trigger was answered by a run it did not start ("already running"): which one, at once."""
    err.print(
        f"hedgeops: {started['note']}: batch run {started['batch_run_id']} ({started['job']} {started['as_of']}, "
        f"attempt {started.get('attempt', '-')}, {started['status']}); following it",
        markup=False,
        highlight=False,
    )
