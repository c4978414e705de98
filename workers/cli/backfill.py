"""`hedgeops backfill prices|mtm|nightly --from D1 --to D2`: each business date its own run."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from core.backfill import PlannedDate, Reprocess, plan
from core.calendars import CalendarName, calendar_named
from core.values import Job
from db import ledger
from workers.cli.common import (
    IN_PROCESS_OPTION,
    err,
    exit_code,
    fail,
    mode_or_exit,
    out,
    parse_day,
    settings_or_exit,
    start,
)
from workers.cli.jobs import JobName, trigger_job
from workers.cli.trigger import Outcome
from workers.settings import Settings


def backfill(
    job: JobName,
    first: Annotated[str, typer.Option("--from", help="first as-of date, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="last as-of date, YYYY-MM-DD (not after today)")],
    reprocess: Annotated[
        Reprocess, typer.Option(help="none: only dates never done; failed: and failed ones; all")
    ] = Reprocess.NONE,
    calendar: Annotated[CalendarName, typer.Option(help="whose business dates")] = CalendarName.WEEKDAYS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would run, run nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan or the runs as JSON")] = False,
    timeout: Annotated[int, typer.Option(help="seconds to wait for each date's run")] = 3600,
    in_process: Annotated[bool, IN_PROCESS_OPTION] = False,
) -> None:
    """Run a job for every business date from --from to --to, one run per date, in date
    order, with a progress bar. Interrupted, it resumes: done dates are skipped."""
    from tasks.ports import ports

    d1, d2 = parse_day(first, "--from"), parse_day(last, "--to")
    if d2 < d1:
        raise fail("--to is before --from")
    settings = settings_or_exit()
    if not dry_run:
        mode_or_exit(settings, in_process)
    start(settings)
    days = calendar_named(calendar).business_days(d1, d2)
    with ports().uow() as uow:
        latest = ledger.latest_statuses(uow.session, Job(job.value), d1, d2)
    planned = plan(days, latest, reprocess)
    if dry_run:
        show_plan(planned, as_json)
        return
    summaries = run_plan(settings, job, [p.day for p in planned if p.run], timeout, quiet=as_json)
    if as_json:
        print(json.dumps(summaries))
    worst = max((exit_code(s.get("status", "")) for s in summaries), default=0)
    out.print(
        f"backfill {job.value} {d1}..{d2}: {len(summaries)} run(s), {sum(not p.run for p in planned)} date(s) skipped"
    )
    raise typer.Exit(worst)


def run_plan(settings: Settings, job: JobName, days: list[date], timeout: int, *, quiet: bool) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=quiet) as progress:
        bar = progress.add_task(f"backfill {job.value}", total=len(days))
        for day in days:
            progress.update(bar, description=f"backfill {job.value} {day}")
            try:
                summary = trigger_job(settings, job, day, "backfill", wait=True, timeout=timeout, quiet=True)
            except Outcome as outcome:
                raise fail(f"{day}: {outcome.message}", outcome.code) from None
            summaries.append(summary)
            if summary.get("status") == "failed":
                err.print(f"{day}: failed: {summary.get('error')}", markup=False)
            progress.advance(bar)
    return summaries


def show_plan(planned: list[PlannedDate], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"as_of": p.day.isoformat(), "run": p.run, "reason": p.reason} for p in planned]))
        return
    table = Table("as of", "runs", "why", title=f"{sum(p.run for p in planned)} of {len(planned)} date(s) would run")
    for p in planned:
        table.add_row(p.day.isoformat(), "yes" if p.run else "no", p.reason)
    out.print(table)
