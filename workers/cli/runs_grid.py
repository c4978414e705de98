"""`hedgeops runs grid [--job J] [--from D1 --to D2] [--html FILE]`: jobs by business date,
each cell the latest run's status, its run id and attempts; a business date with no run is
`missing`; `> backfill` marks what `hedgeops backfill JOB --dry-run` over the range runs."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.backfill import Reprocess
from core.calendars import CalendarName, calendar_named
from core.run_grid import RunGrid, build_grid
from core.values import Job
from workers.cli.common import fail, out, parse_day, settings_or_exit, start

#: Without --from, the grid shows this many days up to --to.
DEFAULT_DAYS = 14


def grid(
    job: Annotated[Job | None, typer.Option("--job", help="only this job (default: every job)")] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="first as-of date, YYYY-MM-DD (default: 14 days back)")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="last as-of date, YYYY-MM-DD (default: today, UTC)")] = None,
    calendar: Annotated[CalendarName, typer.Option(help="whose business dates")] = CalendarName.WEEKDAYS,
    reprocess: Annotated[Reprocess, typer.Option(help="the backfill plan shown: as `backfill --reprocess`")] = (
        Reprocess.NONE
    ),
    html: Annotated[
        Path | None, typer.Option("--html", help="also write the grid as a self-contained HTML page")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the cells as JSON")] = False,
) -> None:
    """The grid of runs: jobs by business date with the latest status, run id and attempts
    of each; missing dates shown as missing; the dates a backfill would run marked."""
    from db.runviews import latest_by_date
    from tasks.ports import ports, utc_now
    from workers.reports.grid import write_grid

    now = utc_now()
    d2 = parse_day(last, "--to") if last else now.date()
    d1 = parse_day(first, "--from") if first else d2 - timedelta(days=DEFAULT_DAYS - 1)
    if d2 < d1:
        raise fail("--to is before --from")
    if html is not None and html.is_dir():
        raise fail(f"--html {html}: is a folder, not a file")
    start(settings_or_exit())
    jobs = [job.value] if job else [j.value for j in Job]
    with ports().uow() as uow:
        runs = latest_by_date(uow.session, jobs, d1, d2)
    made = build_grid(
        jobs, calendar_named(calendar).business_days(d1, d2), runs, calendar=calendar.value, reprocess=reprocess
    )
    if html is not None:
        try:
            write_grid(made, html, now)
        except OSError as exc:
            raise fail(f"--html {html}: {exc.strerror or exc}") from None
    if as_json:
        print(json.dumps([_cell_json(made, j, d) for d in made.days for j in made.jobs]))
        return
    show_grid(made)


def _cell_json(made: RunGrid, job: str, day: date) -> dict[str, object]:
    cell = made.cell(job, day)
    return {
        "job": job,
        "as_of": cell.day.isoformat(),
        "state": cell.state,
        "batch_run_id": cell.run.run_id if cell.run else None,
        "attempts": cell.run.attempts if cell.run else 0,
        "backfill": bool(cell.planned and cell.planned.run),
        "label": cell.label,
    }


def show_grid(made: RunGrid) -> None:
    table = Table(title="runs by business date", box=None, title_justify="left", pad_edge=False)
    table.add_column("as of", no_wrap=True)
    for job in made.jobs:
        table.add_column(job, no_wrap=True)
    for day in made.days:
        table.add_row(day.isoformat(), *(_styled(made, job, day) for job in made.jobs))
    out.print(table)
    out.print(", ".join(f"{state}: {n}" for state, n in made.counts().items()) or "no business date", markup=False)


STYLE = {"failed": "red", "missing": "bold red", "succeeded": "green", "running": "blue"}


def _styled(made: RunGrid, job: str, day: date) -> str:
    cell = made.cell(job, day)
    style = STYLE.get(cell.state, "yellow" if cell.state.startswith("completed") else "")
    label = cell.label.replace("[", r"\[")
    return f"[{style}]{label}[/{style}]" if style else label
