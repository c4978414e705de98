"""Hedge accounting entries' commands: `hedgeops periods close|reopen PERIOD`, `hedgeops
load no-longer-expected FILE`, `hedgeops report journals|reserve --period P`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.hedging.period_lock import PeriodAction, PeriodRefused
from core.hedging.periods import Period, PeriodError
from workers.cli.common import fail, out, settings_or_exit, start

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
