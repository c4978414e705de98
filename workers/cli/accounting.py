"""Hedge accounting entries' commands: `hedgeops periods close|reopen PERIOD`, `hedgeops
load no-longer-expected FILE`, `hedgeops report journals|reserve --period P`."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.canonical import canonical, normalise_decimal
from core.hedging.period_lock import PeriodAction, PeriodRefused
from core.hedging.periods import Period, PeriodError
from workers.cli.common import EXIT_FAILED, fail, out, settings_or_exit, start

periods_app = typer.Typer(help="Accounting periods (calendar months): close, reopen.", no_args_is_help=True)

By = Annotated[str, typer.Option("--by", help="who does it")]
Reason = Annotated[str, typer.Option("--reason", help="why")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def period_or_exit(text: str) -> str:
    try:
        return str(Period.parse(text))
    except PeriodError as exc:
        raise fail(str(exc)) from None


def _change(period: str, action: PeriodAction, by: str, second: str | None, reason: str, as_json: bool) -> None:
    from tasks.hedging.accounting import change_period_state

    day = period_or_exit(period)
    start(settings_or_exit())
    try:
        done = change_period_state(day, action, actor=by, second=second, reason=reason)
    except PeriodRefused as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(done))
        return
    verb = "closed" if action is PeriodAction.CLOSE else "reopened"
    who = by if not done["second"] else f"{by} and {done['second']}"
    out.print(f"period {day} {verb} by {who}", markup=False, highlight=False)


@periods_app.command("close")
def close(period: str, by: By, reason: Reason, as_json: AsJson = False) -> None:
    """Close a period: postings dated in it are refused, its corrections go to the first
    open period after it. Audited."""
    _change(period, PeriodAction.CLOSE, by, None, reason, as_json)


@periods_app.command("reopen")
def reopen(
    period: str,
    by: By,
    reason: Reason,
    second: Annotated[str | None, typer.Option("--second", help="the second person (not --by)")] = None,
    as_json: AsJson = False,
) -> None:
    """Reopen a closed period: two distinct people (--by and --second). Audited."""
    _change(period, PeriodAction.REOPEN, by, second, reason, as_json)


def load_no_longer_expected(file: Path) -> None:
    """Record that hedged cash flows are no longer expected (JSON; see README): the cash
    flow hedge reserve is reclassified to P&L at the record's date. All or nothing; audited."""
    from tasks.hedging.accounting import load_no_longer_expected_json
    from workers.cli.common import load_file

    loaded = load_file(file, load_no_longer_expected_json)
    out.print(
        f"{file.name}: {len(loaded.created) + len(loaded.existing)} records: {len(loaded.created)} created, "
        f"{len(loaded.existing)} existing",
        markup=False,
        highlight=False,
    )


def _period_started(period: str) -> str:
    day = period_or_exit(period)
    start(settings_or_exit())
    return day


GL_COLUMNS = (
    "entry_key",
    "posting_date",
    "account",
    "debit",
    "credit",
    "currency",
    "functional_amount",
    "functional_currency",
    "relationship",
    "source_keys",
)


def report_journals(
    period: Annotated[str, typer.Option("--period", help="the period, YYYY-MM")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="write the GL import file (CSV) here")] = None,
    as_json: AsJson = False,
) -> None:
    """The journal lines posted in a period, one per line, with totals per currency (exit 1
    when they do not balance); `--csv`: the GL import file, its totals rows last."""
    from tasks.hedging.accounting import journals_report

    report = journals_report(_period_started(period))
    if csv_file is not None:
        _write_gl(csv_file, report)
    if as_json:
        print(json.dumps(canonical(report)))
    else:
        _print_journals(report)
    if not report["balanced"]:
        raise fail(f"the journal lines of {report['period']} do not balance", EXIT_FAILED)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(value)
    return "" if value is None else normalise_decimal(value) if isinstance(value, Decimal) else str(value)


def _write_gl(file: Path, report: dict[str, Any]) -> None:
    try:
        with file.open("w", newline="", encoding="utf-8") as out_file:
            writer = csv.writer(out_file)
            writer.writerow(GL_COLUMNS)
            for row in report["rows"]:
                writer.writerow([_cell(row[name]) for name in GL_COLUMNS])
            for currency, total in sorted(report["totals"].items()):
                writer.writerow(
                    ["TOTAL", "", "", _cell(total["debit"]), _cell(total["credit"]), currency, "", "", "", ""]
                )
    except OSError as exc:
        raise fail(f"--csv {file}: {exc.strerror or exc}") from None


def _print_journals(report: dict[str, Any]) -> None:
    table = Table(title=f"journal lines posted in {report['period']}")
    for name in ("entry", "date", "account", "debit", "credit", "ccy", "functional", "relationship"):
        table.add_column(name, overflow="fold")
    for row in report["rows"]:
        table.add_row(*(_cell(row[n]) for n in GL_COLUMNS[:-3]), _cell(row["relationship"]))
    out.print(table)
    for currency, total in sorted(report["totals"].items()):
        out.print(
            f"{currency}: debit {_cell(total['debit'])}, credit {_cell(total['credit'])}",
            markup=False,
            highlight=False,
        )


def report_reserve(
    period: Annotated[str, typer.Option("--period", help="the period, YYYY-MM")], as_json: AsJson = False
) -> None:
    """The hedge reserves' roll-forward of a period (IFRS 7 24E), credit positive: opening,
    recognised in OCI, reclassified to P&L, moved into cost, closing; per relationship and in total."""
    from tasks.hedging.accounting import FIGURES, reserve_report

    report = reserve_report(_period_started(period))
    if as_json:
        print(json.dumps(canonical(report)))
        return
    table = Table(title=f"hedge reserves, {report['period']}")
    for name in ("relationship", "reserve", *FIGURES):
        table.add_column(name, overflow="fold", justify="right" if name in FIGURES else "left")
    for line in [*report["relationships"], *({"relationship": "total", **t} for t in report["totals"])]:
        table.add_row(line["relationship"], line["reserve"], *(_cell(line[name]) for name in FIGURES))
    out.print(table)
    for line in report["relationships"]:
        if not line["reconciled"]:
            out.print(
                f"{line['relationship']}: closing {_cell(line['closing'])} is not the {_cell(line['carried'])} "
                "its latest entry carries: a correction is awaited (hedgeops verify lists the difference)",
                markup=False,
                highlight=False,
            )
