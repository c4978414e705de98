"""`hedgeops check nightly`: a monitor's probe (cron, Nagios, Kubernetes). One status line,
the Nagios plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the ledger cannot be
read, a bad option)."""

from __future__ import annotations

import json
from datetime import UTC, date
from typing import Annotated, Any, NoReturn

import typer

from core.monitoring import Check, CheckState, RunFacts, check_nightly, nightly_deadline, previous_business_day
from core.run_details import RunRecord
from core.values import Job, RunStatus
from workers.cli.common import err, out
from workers.settings import SettingsError, load_settings

check_app = typer.Typer(
    help="Probes for monitors (Nagios exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).", no_args_is_help=True
)


@check_app.command("nightly")
def nightly(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="the nightly's as-of date (default: the previous business day, UTC)")
    ] = None,
    max_exceptions: Annotated[
        int, typer.Option("--max-exceptions", min=0, help="exceptions and missing prices that are still OK")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the check as JSON")] = False,
) -> None:
    """OK: succeeded (or at most --max-exceptions), or not due yet; WARNING: completed with
    conflicts or more exceptions; CRITICAL: failed, or missing or still running after the
    deadline (HEDGEOPS_NIGHTLY_AT + HEDGEOPS_NIGHTLY_DEADLINE_MINUTES); UNKNOWN: cannot tell."""
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    try:
        day = date.fromisoformat(as_of) if as_of else previous_business_day(now.date())
    except ValueError:
        _report(Check(CheckState.UNKNOWN, f"--as-of {as_of!r}: expected YYYY-MM-DD"), None, as_json, mistake=True)
    try:
        settings = load_settings()
    except SettingsError as exc:
        _report(Check(CheckState.UNKNOWN, str(exc)), None, as_json, mistake=True)
    deadline = nightly_deadline(day, settings.nightly_at, timedelta(minutes=settings.nightly_deadline_minutes))
    facts, problem = _facts(settings, day)
    check = (
        Check(CheckState.UNKNOWN, problem)
        if problem is not None
        else check_nightly(day, facts, now=now, deadline=deadline, max_exceptions=max_exceptions)
    )
    _report(
        check,
        {
            "as_of": day.isoformat(),
            "deadline": deadline.isoformat(),
            "batch_run_id": facts.batch_run_id if facts else None,
            "status": facts.status.value if facts else None,
        },
        as_json,
    )


def _facts(settings: Any, day: date) -> tuple[RunFacts | None, str | None]:
    """The newest nightly of `day`, or why the ledger cannot be read."""
    from db import ledger
    from db.health import database_problem
    from workers.celery_app import create_app

    problem = database_problem(settings.database_url)
    if problem is not None:
        return None, problem
    create_app(settings)
    from tasks.runtime import runtime

    with runtime().uow() as uow:
        run = ledger.latest_run(uow.session, Job.NIGHTLY, day)
        if run is None:
            return None, None
        missing = len(RunRecord.from_details(run.details).price_missing or [])
        return RunFacts(run.id, RunStatus(run.status), run.exceptions, run.conflicts, missing, run.error), None


def _report(check: Check, fields: dict[str, Any] | None, as_json: bool, *, mistake: bool = False) -> NoReturn:
    """The status line on stdout (a monitor reads it); a user's mistake on stderr."""
    if as_json:
        print(
            json.dumps(
                {
                    "check": "nightly",
                    "state": check.state.name,
                    "code": check.state.value,
                    "message": check.message,
                    **(fields or {}),
                }
            )
        )
    else:
        (err if mistake else out).print(check.line("nightly"), markup=False, highlight=False)
    raise typer.Exit(check.state.value)
