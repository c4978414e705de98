"""`hedgeops check nightly`, `check broker` and `check queues`: a monitor's probes (cron, Nagios, Kubernetes).
One status line, the Nagios plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the
ledger or the broker cannot be read, a bad option)."""

from __future__ import annotations

import json
from datetime import UTC, date
from typing import Annotated, Any, NoReturn

import typer

from core.calendars import calendar_named
from core.monitoring import Check, CheckState, RunFacts, check_nightly, latest_due, nightly_deadline
from core.run_details import RunRecord
from core.values import Job, RunStatus
from workers.cli.common import err, out
from workers.settings import Settings, SettingsError, load_settings

check_app = typer.Typer(
    help="Probes for monitors (Nagios exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).", no_args_is_help=True
)


@check_app.command("nightly")
def nightly(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="the nightly's as-of date (default: the newest business day whose deadline has passed)"
        ),
    ] = None,
    max_exceptions: Annotated[
        int, typer.Option("--max-exceptions", min=0, help="exceptions still OK (missing prices are counted apart)")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the check as JSON")] = False,
) -> None:
    """OK: succeeded (or at most --max-exceptions), or not due yet; WARNING: completed with
    conflicts or more exceptions; CRITICAL: failed, missing or still running after the deadline
    (HEDGEOPS_NIGHTLY_AT + HEDGEOPS_NIGHTLY_DEADLINE_MINUTES), a required D-1 price missing, or
    more than HEDGEOPS_CHECK_MAX_UNVALUED_PCT % of active contracts unvalued; UNKNOWN: cannot tell."""
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    try:
        given = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        _report(Check(CheckState.UNKNOWN, f"--as-of {as_of!r}: expected YYYY-MM-DD"), None, as_json, mistake=True)
    try:
        settings = load_settings()
    except SettingsError as exc:
        _report(Check(CheckState.UNKNOWN, str(exc)), None, as_json, mistake=True)
    grace = timedelta(minutes=settings.nightly_deadline_minutes)
    day = given or latest_due(now, settings.nightly_at, grace, calendar_named(settings.nightly_calendar))
    deadline = nightly_deadline(day, settings.nightly_at, grace)
    facts, problem = _facts(settings, day)
    check = (
        Check(CheckState.UNKNOWN, problem)
        if problem is not None
        else check_nightly(
            day,
            facts,
            now=now,
            deadline=deadline,
            max_exceptions=max_exceptions,
            max_unvalued_pct=settings.check_max_unvalued_pct,
        )
    )
    _report(check, {"as_of": day.isoformat(), "deadline": deadline.isoformat(), **_figures(facts)}, as_json)


def _figures(facts: RunFacts | None) -> dict[str, Any]:
    """The run and its figures, each apart, for `--json`."""
    if facts is None:
        return {"batch_run_id": None, "status": None}
    return {
        "batch_run_id": facts.batch_run_id,
        "status": facts.status.value,
        "exceptions": facts.exceptions,
        "price_missing": facts.price_missing,
        "missing_symbols": list(facts.missing_symbols),
        "active_contracts": facts.active_contracts,
        "unvalued_contracts": facts.unvalued_contracts,
        "conflicts": facts.conflicts,
    }


def _facts(settings: Any, day: date) -> tuple[RunFacts | None, str | None]:
    """The newest nightly of `day`, or why the ledger cannot be read."""
    from db import ledger
    from db.health import database_problem
    from db.reports import unvalued_contracts
    from workers.celery_app import create_app

    problem = database_problem(settings.database_url)
    if problem is not None:
        return None, problem
    create_app(settings)
    from tasks.ports import ports

    with ports().uow() as uow:
        run = ledger.latest_run(uow.session, Job.NIGHTLY, day)
        if run is None:
            return None, None
        missing = RunRecord.from_details(run.details).price_missing or []
        active, unvalued = unvalued_contracts(uow.session, day)
        symbols = tuple(sorted({m.symbol for m in missing}))
        return RunFacts(
            run.id,
            RunStatus(run.status),
            run.exceptions,
            run.conflicts,
            len(missing),
            run.error,
            missing_symbols=symbols,
            active_contracts=active,
            unvalued_contracts=unvalued,
        ), None


@check_app.command("broker")
def broker(as_json: Annotated[bool, typer.Option("--json", help="print the check as JSON")] = False) -> None:
    """CRITICAL when the Redis broker can lose a queued task: a maxmemory-policy other than
    noeviction, no persistence (neither AOF nor RDB snapshots), a visibility timeout not above
    the hard time limit (HEDGEOPS_TASK_TIME_LIMIT), or under 10 % memory headroom (of maxmemory,
    or of the machine's memory when maxmemory is 0); WARNING when RDB cannot be told (CONFIG
    refused, AOF off); UNKNOWN when there is no broker or it does not answer."""
    from core.broker_health import check_broker
    from core.redaction import redacted_error
    from workers.adapters.broker_facts import read_broker_facts
    from workers.bootstrap import redis_client

    settings, broker_url = _broker_settings(as_json, "broker")
    try:
        facts = read_broker_facts(
            redis_client(broker_url, settings), settings.visibility_timeout, settings.task_time_limit
        )
    except Exception as exc:  # any failure to read is the monitor's UNKNOWN
        _report(Check(CheckState.UNKNOWN, f"broker: {redacted_error(exc)}"), None, as_json, subject="broker")
    fields = {
        "maxmemory_policy": facts.maxmemory_policy,
        "aof_enabled": facts.aof_enabled,
        "rdb_save": facts.rdb_save,
        "memory_headroom_pct": None if facts.headroom_pct is None else str(facts.headroom_pct),
        "visibility_timeout": facts.visibility_timeout,
        "hard_time_limit": facts.hard_time_limit,
    }
    _report(check_broker(facts), fields, as_json, subject="broker")


@check_app.command("queues")
def queues(
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="a queue to check (repeatable; default: every queue)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the check as JSON")] = False,
) -> None:
    """The messages waiting in each queue, how long the oldest has waited and how many workers
    consume it. CRITICAL when a message waited HEDGEOPS_QUEUE_STALL_SECONDS or more, or messages
    wait with no consumer; WARNING past half of it; UNKNOWN when there is no broker or it does
    not answer."""
    from datetime import datetime

    from core.queue_health import QueueFacts, check_queues
    from core.redaction import redacted_error
    from workers.celery_app import QUEUES, create_app
    from workers.mt5_wiring import mt5_queues
    from workers.queue_depth import broker_depths, broker_oldest_ages

    settings, _ = _broker_settings(as_json, "queues")
    known = [str(q) for q in (*QUEUES, *mt5_queues(settings))]
    unknown = [q for q in queue or [] if q not in known]
    if unknown:
        message = f"--queue: no queue {', '.join(unknown)} (the queues: {', '.join(known)})"
        _report(Check(CheckState.UNKNOWN, message), None, as_json, mistake=True, subject="queues")
    names = list(queue or known)
    try:
        app = create_app(settings)
        depths = broker_depths(app)(names)
        ages = broker_oldest_ages(app)(names, datetime.now(UTC))
        replies = app.control.inspect(timeout=2.0).active_queues() or {}
    except Exception as exc:  # any failure to read is the monitor's UNKNOWN
        _report(Check(CheckState.UNKNOWN, f"queues: {redacted_error(exc)}"), None, as_json, subject="queues")
    consumers = {name: sum(1 for qs in replies.values() if any(q.get("name") == name for q in qs)) for name in names}
    facts = [QueueFacts(n, depths.get(n, 0), ages.get(n), consumers[n]) for n in names]
    fields = {
        "stall_seconds": settings.queue_stall_seconds,
        "queues": [
            {"queue": f.queue, "messages": f.messages, "oldest_age_seconds": f.oldest_age, "consumers": f.consumers}
            for f in facts
        ],
    }
    _report(check_queues(facts, settings.queue_stall_seconds), fields, as_json, subject="queues")


def _broker_settings(as_json: bool, subject: str) -> tuple[Settings, str]:
    """The settings and broker URL of a broker probe: a bad setting (a mistake) or no broker
    is UNKNOWN."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        _report(Check(CheckState.UNKNOWN, str(exc)), None, as_json, mistake=True, subject=subject)
    if not settings.broker_url:
        _report(Check(CheckState.UNKNOWN, "no broker: HEDGEOPS_BROKER_URL is not set"), None, as_json, subject=subject)
    return settings, settings.broker_url


def _report(
    check: Check, fields: dict[str, Any] | None, as_json: bool, *, mistake: bool = False, subject: str = "nightly"
) -> NoReturn:
    """The status line on stdout (a monitor reads it); a user's mistake on stderr."""
    if as_json:
        print(
            json.dumps(
                {
                    "check": subject,
                    "state": check.state.name,
                    "code": check.state.value,
                    "message": check.message,
                    **(fields or {}),
                }
            )
        )
    else:
        (err if mistake else out).print(check.line(subject), markup=False, highlight=False)
    raise typer.Exit(check.state.value)
