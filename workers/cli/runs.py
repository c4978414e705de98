"""`hedgeops status`, `hedgeops runs show RUN_ID`, `hedgeops runs grid` and `hedgeops mt5
cycles`: the ledger for people. On a terminal tables fit 100 columns; off one (piped) every value is whole;
`--json` gives every field."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from core.mt5.accounts import CYCLE_JOB_PREFIX
from core.redaction import redact_text, redact_value
from core.run_details import RunRecord
from core.values import RunStatus
from workers.cli.common import fail, out, parse_day, settings_or_exit, start

#: On a terminal the runs' table keeps 100 columns (its job column 17).
WIDTH, JOB_WIDTH = 100, 17
runs_app = typer.Typer(help="One run of the ledger, in full.", no_args_is_help=True)


def _filter(job: str | None, as_of: str | None, status: Any, *, prefix: str | None = None) -> Any:
    from db.runviews import RunFilter

    day = parse_day(as_of) if as_of else None
    skip = None if prefix or (job or "").startswith(CYCLE_JOB_PREFIX) else CYCLE_JOB_PREFIX
    return RunFilter(job=job, prefix=prefix, skip_prefix=skip, as_of=day, status=status.value if status else None)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (every run, steps too, newest first)")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many runs, newest first")] = 20,
    job: Annotated[str | None, typer.Option("--job", help="only this job: nightly, prices, mtm, effectiveness")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="only runs of this as-of date, YYYY-MM-DD")] = None,
    run_status: Annotated[RunStatus | None, typer.Option("--status", help="only runs that ended so")] = None,
) -> None:
    """The newest runs of the ledger, a nightly's steps under it (MT5 cycles: `hedgeops mt5 cycles`)."""
    from db.runviews import steps_of, top_runs
    from tasks.ports import ports
    from tasks.summary import run_summary

    where = _filter(job, as_of, run_status)
    start(settings_or_exit())
    with ports().uow() as uow:
        tops = top_runs(uow.session, where, limit)
        steps = steps_of(uow.session, [r.id for r in tops])
        grouped = [(run_summary(r), [run_summary(s) for s in steps.get(r.id, [])]) for r in tops]
    if as_json:
        print(
            json.dumps([redact_value(s) for top, children in grouped for s in (*reversed(children), top)])
        )  # by id, newest first
        return
    show_grouped(grouped, title="batch runs")


def show_grouped(grouped: list[tuple[dict[str, Any], list[dict[str, Any]]]], *, title: str) -> None:
    """The runs as a table, each run's error under it. On a terminal it keeps a 100-column
    layout (a long job name or error line is cut there); off a terminal (a pipe, a file, a
    log) every value and error line is whole."""
    fit = out.is_terminal
    table = Table(
        title=title, box=None, pad_edge=False, show_edge=False, title_justify="left", width=WIDTH if fit else None
    )
    for name, width in (
        ("run", 6),
        ("job", JOB_WIDTH),
        ("as of", 10),
        ("status", 25),
        ("started", 11),
        ("ended", 5),
        ("took", 6),
        ("exc", 5),
    ):
        table.add_column(name, min_width=width, no_wrap=True)
    for top, children in grouped:
        table.add_row(*_cells(top, "", fit))
        for i, child in enumerate(children):
            table.add_row(*_cells(child, "└ " if i == len(children) - 1 else "├ ", fit))
    out.print(table, width=WIDTH if fit else None, crop=fit)
    for top, children in grouped:
        for s in (top, *children):
            if s.get("error"):
                line = f"run {s['batch_run_id']}: {redact_text(s['error'])}"
                out.print(line[:WIDTH] if fit else line, markup=False, highlight=False)


def _cells(s: dict[str, Any], indent: str, fit: bool) -> list[str]:
    started = datetime.fromisoformat(s["started_at"]) if s.get("started_at") else None
    ended = datetime.fromisoformat(s["finished_at"]) if s.get("finished_at") else None
    took = _duration((ended - started).total_seconds()) if started and ended else "-"
    exceptions = (s.get("counts") or {}).get("exceptions", 0) + s.get("price_missing", 0)
    job = f"{indent}{s['job']}"
    return [
        str(s["batch_run_id"]),
        job[:JOB_WIDTH] if fit else job,
        s["as_of"],
        s["status"],
        started.strftime("%m-%d %H:%M") if started else "-",
        ended.strftime("%H:%M") if ended else "-",
        took,
        str(exceptions),
    ]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def cycles(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many cycles, newest first")] = 20,
    terminal: Annotated[str | None, typer.Option("--terminal", help="only this terminal's cycles")] = None,
    run_status: Annotated[RunStatus | None, typer.Option("--status", help="only cycles that ended so")] = None,
) -> None:
    """The newest MT5 sync cycles (a cycle with no enabled account writes none), each with
    the drawdown guard's actions in it (close intents made, closes sent, alerts raised)."""
    from db.runviews import top_runs
    from tasks.mt5.views import cycle_views
    from tasks.ports import ports
    from workers.cli.mt5 import show_guard_actions

    job = f"{CYCLE_JOB_PREFIX}{terminal}" if terminal else None
    where = _filter(job, None, run_status, prefix=None if terminal else CYCLE_JOB_PREFIX)
    start(settings_or_exit())
    with ports().uow() as uow:
        summaries = cycle_views(uow.session, top_runs(uow.session, where, limit))
    summaries = redact_value(summaries)
    if as_json:
        print(json.dumps(summaries))
        return
    show_grouped([(s, []) for s in summaries], title="MT5 sync cycles")
    show_guard_actions(summaries)


@runs_app.command("show")
def show(run_id: int, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """One run: its summary, steps, chunks, exceptions by reason and symbol, conflicts,
    price files read, and errors."""
    from db.runviews import run_detail
    from tasks.ports import ports
    from tasks.summary import run_summary

    start(settings_or_exit())
    with ports().uow() as uow:
        detail = run_detail(uow.session, run_id)
        if detail is None:
            raise fail(f"no batch run {run_id}")
        view = {
            **run_summary(detail.run),
            "parent_run_id": detail.run.parent_run_id,
            "task_id": detail.run.task_id,
            "steps": [run_summary(s) for s in detail.steps],
            "chunks": detail.chunks,
            "exceptions_by_reason": detail.exceptions,
            "conflicts": detail.conflicts,
            "price_files": detail.files,
            **_problems(detail.run.details or {}),
        }
    view = redact_value(view)  # errors of sources and failures may hold a URL's password
    if as_json:
        print(json.dumps(view, default=str))
        return
    show_view(view)


@runs_app.command("abandon")
def abandon(
    run_id: Annotated[int, typer.Argument(help="the running run (a nightly takes its running steps with it)")],
    by: Annotated[str, typer.Option("--by", help="who ends it (audited)")],
    reason: Annotated[str, typer.Option("--reason", help="why (audited)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the ended run as JSON")] = False,
) -> None:
    """End a stuck running run `failed` (its steps too) and release its lock; audited with who
    and why. Exit 2 when the run is unknown or has ended."""
    from core.errors import HedgeopsError
    from tasks.abandon import abandon_run

    start(settings_or_exit())
    try:
        summary = abandon_run(run_id, by, reason)
    except HedgeopsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(redact_value(summary)))
        return
    out.print(
        f"run {run_id}: {summary['job']} {summary['as_of']} {summary['status']}: {summary['error']}", markup=False
    )


def _problems(details: dict[str, Any]) -> dict[str, Any]:
    """What the run's details say went missing or wrong (and the files a prices run read)."""
    named = {
        "price_missing_list": "price_missing",
        "failed_sources": "failed_sources",
        "failures": "failures",
        "files_read": "files",
    }
    stored = RunRecord.from_details(details).as_details()
    return {name: stored[key] for name, key in named.items() if stored.get(key)}


def show_view(view: dict[str, Any]) -> None:
    c = view["counts"]
    out.print(
        f"run {view['batch_run_id']}: {view['job']} {view['as_of']} attempt {view['attempt']} "
        f"({view['trigger']}) {view['status']}",
        markup=False,
        highlight=False,
    )
    out.print(f"  started {view['started_at']}  ended {view['finished_at'] or '-'}", markup=False)
    out.print("  counts: " + " ".join(f"{k}={v}" for k, v in c.items()), markup=False)
    if view.get("error"):
        out.print(f"  error: {view['error']}", markup=False, highlight=False)
    sections = (
        ("steps", ("batch_run_id", "job", "status")),
        ("chunks", ("chunk_no", "processed", "exceptions")),
        ("exceptions_by_reason", ("reason", "symbol", "count")),
        ("conflicts", ("table", "idempotency_key")),
        ("price_files", ("source", "file", "status", "created", "rejected_rows")),
        ("price_missing_list", ("symbol", "price_date")),
        ("failed_sources", ("source", "error")),
    )
    for name, columns in sections:
        if view.get(name):
            out.print(f"  {name.replace('_', ' ')}:", markup=False)
            for item in view[name]:
                out.print("    " + "  ".join(str(item.get(k, "-")) for k in columns), markup=False, highlight=False)
    for failure in view.get("failures") or []:
        out.print(f"  failed: {failure}", markup=False, highlight=False)
