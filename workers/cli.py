"""The command line: `hedgeops db|load|run|status|demo`.

Exit codes: 0 done (or queued), 1 failed or rows rejected, 2 bad input or setting (nothing
written), 3 finished with conflicts, 4 still running (--wait timed out, or another trigger's
run is in progress)."""
from __future__ import annotations

import json
import sys
import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import celery.exceptions
import kombu.exceptions
import redis.exceptions
import typer
from rich.console import Console
from rich.table import Table

from core.errors import HedgeopsError, InvalidInput
from core.values import RunStatus
from workers.logging import redact_text
from workers.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="hedgeops: D-1 prices, MTM snapshots and the nightly batch.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
load_app = typer.Typer(help="Load master data and price files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(load_app, name="load")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CONFLICTS, EXIT_RUNNING = 1, 2, 3, 4


class JobName(StrEnum):
    nightly = "nightly"
    prices = "prices"
    mtm = "mtm"


TASK_OF_JOB = {
    JobName.nightly: "hedgeops.nightly.run_nightly",
    JobName.prices: "hedgeops.prices.fetch_settlement_prices",
    JobName.mtm: "hedgeops.valuation.compute_mtm_snapshots",
}


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err.print(f"hedgeops: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def start(settings: Settings) -> Any:
    """Logging, runtime and the Celery app for this process."""
    from workers.celery_app import create_app

    return create_app(settings)


def read_text_file(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: not UTF-8 text ({exc.reason}); nothing loaded") from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    from db.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url)
    out.print("database upgraded to head")


@load_app.command("contracts")
def load_contracts(file: Path) -> None:
    """Load hedge contracts (CSV). All or nothing; identical rows are `existing`."""
    from tasks.loading import load_contracts_csv

    start(settings_or_exit())
    text = read_text_file(file)
    try:
        loaded = load_contracts_csv(text, file.name)
    except InvalidInput as exc:
        for line in exc.errors:
            err.print(f"  {line}", markup=False, highlight=False)
        raise fail(str(exc)) from None
    except HedgeopsError as exc:
        raise fail(f"{exc}; nothing loaded") from None
    load = loaded.load
    out.print(f"{file.name}: {loaded.rows} contracts: {len(load.created)} created, {len(load.existing)} existing, "
              f"{len(load.status_changed)} status changed")


@load_app.command("prices")
def load_prices(file: Path) -> None:
    """Load a vendor price CSV: good rows land, each bad row is reported."""
    from tasks.loading import load_price_batch
    from tasks.runtime import utc_now
    from workers.adapters.vendor_csv import read_price_file

    settings = settings_or_exit()
    start(settings)
    if not file.is_file():
        raise fail(f"{file}: no such file")
    batch = read_price_file(file, settings.price_source_name, utc_now())
    if batch.rejected:
        raise fail(f"{batch.rejected}; nothing loaded")
    counts = load_price_batch(batch)
    for error in batch.report.errors:
        err.print(f"  rejected {error}", markup=False, highlight=False)
    out.print(f"{file.name}: {counts.created} created, {counts.existing} existing, {counts.conflicts} conflicts, "
              f"{counts.exceptions} rejected")
    if counts.exceptions:
        raise typer.Exit(EXIT_FAILED)
    if counts.conflicts:
        raise typer.Exit(EXIT_CONFLICTS)


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--as-of {value!r}: expected YYYY-MM-DD") from None


@app.command("run")
def run(
    job: JobName,
    as_of: Annotated[str, typer.Option("--as-of", help="as-of date D, YYYY-MM-DD")],
    wait: Annotated[bool, typer.Option("--wait", help="distributed: wait until the run ends")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the run as JSON")] = False,
    timeout: Annotated[int, typer.Option(help="seconds --wait waits at most")] = 3600,
) -> None:
    """Run a job for an as-of date (embedded: in-process; distributed: enqueued)."""
    from celery import signature

    day = parse_day(as_of)
    settings = settings_or_exit()
    start(settings)
    kwargs = {"as_of": day.isoformat(), "trigger": "manual"}
    try:
        result = signature(TASK_OF_JOB[job], kwargs=kwargs).apply_async()
        summary = result.get(timeout=timeout) if (wait or not settings.distributed) else None
    except (ValueError, HedgeopsError) as exc:
        raise fail(str(exc)) from None
    except celery.exceptions.TimeoutError:
        raise fail(f"no worker answered within {timeout}s: is a worker consuming the job's queue?",
                   EXIT_RUNNING) from None
    except (OSError, RuntimeError, kombu.exceptions.OperationalError, redis.exceptions.RedisError) as exc:
        raise fail(f"cannot reach the broker or result backend {redact_text(settings.broker_url or '')}: "
                   f"{redact_text(str(exc).strip())}", EXIT_FAILED) from None
    if summary is None:
        summary = {"job": job.value, "as_of": day.isoformat(), "status": "queued", "batch_run_id": None,
                   "task_id": result.id}
    elif summary.get("batch_run_id") is not None:
        summary = wait_for_run(summary["batch_run_id"], timeout, quiet=as_json or not settings.distributed)
    show_runs([summary], as_json, single=True)
    raise typer.Exit(exit_code(summary.get("status", "")))


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


def exit_code(status: str) -> int:
    return {RunStatus.FAILED.value: EXIT_FAILED, RunStatus.RUNNING.value: EXIT_RUNNING,
            RunStatus.COMPLETED_WITH_CONFLICTS.value: EXIT_CONFLICTS}.get(status, 0)


def show_runs(summaries: list[dict[str, Any]], as_json: bool, *, single: bool = False) -> None:
    if as_json:
        print(json.dumps(summaries[0] if single else summaries, indent=None))
        return
    table = Table("run", "job", "as of", "attempt", "trigger", "status", "processed", "created", "existing",
                  "conflicts", "exceptions", title="batch runs" if not single else None)
    for s in summaries:
        c = s.get("counts") or {}
        table.add_row(str(s.get("batch_run_id") or "-"), s["job"], s["as_of"], str(s.get("attempt", "-")),
                      s.get("trigger", "-"), s["status"], *(str(c.get(k, "-")) for k in
                      ("processed", "created", "existing", "conflicts", "exceptions")))
    out.print(table)
    for s in summaries:
        if s.get("error"):
            out.print(f"run {s['batch_run_id']}: {s['error']}", markup=False)
        if s.get("note"):
            out.print(f"note: {s['note']}", markup=False)


@app.command("status")
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


@app.command("demo")
def demo() -> None:
    """A fresh embedded database, the sample contracts and prices, the nightly batch for a
    fixed date, and a summary."""
    from workers.demo import run_demo

    raise typer.Exit(run_demo(out))


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        err.print(f"hedgeops: {exc}", markup=False)
        sys.exit(EXIT_BAD_INPUT)
