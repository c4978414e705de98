"""The command line: `hedgeops db|load|run|status|runs|check|report|periods|mt5|guard|flower|demo`. Each group of
commands lives in its own module here; this one puts them together. Exit codes: see workers.cli.common."""

from __future__ import annotations

import sys

import typer

from workers.cli import (
    accounting,
    backfill,
    check,
    counterparties,
    db,
    flower,
    guard,
    hedging,
    jobs,
    load,
    mt5,
    price_decisions,
    report_mtm,
    reports,
    runs,
    runs_grid,
    settlements,
    verify,
)
from workers.cli.common import EXIT_BAD_INPUT, err
from workers.settings import SettingsError

app = typer.Typer(
    help="hedgeops: D-1 prices, MTM snapshots and the nightly batch.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
app.add_typer(db.db_app, name="db")
load.load_app.command("hedged-items")(hedging.load_hedged_items)
load.load_app.command("designations")(hedging.load_designations)
load.load_app.command("expected-positions")(mt5.load_expected_positions)
load.load_app.command("no-longer-expected")(accounting.load_no_longer_expected)
load.load_app.command("counterparties")(counterparties.load_counterparties)
load.load_app.command("price-decisions")(price_decisions.load_price_decisions)
load.load_app.command("settlements")(settlements.load_settlements)
app.add_typer(load.load_app, name="load")
hedging.report_app.command("journals")(accounting.report_journals)
hedging.report_app.command("reserve")(accounting.report_reserve)
hedging.report_app.command("mtm")(report_mtm.report_mtm)
hedging.report_app.command("counterparties")(counterparties.report_counterparties)
hedging.report_app.command("dossier")(reports.report_dossier)
hedging.report_app.command("morning")(reports.report_morning)
hedging.report_app.command("settlements")(settlements.report_settlements)
app.add_typer(hedging.report_app, name="report")
app.add_typer(mt5.mt5_app, name="mt5")
app.add_typer(accounting.periods_app, name="periods")
app.add_typer(guard.guard_app, name="guard")
app.command("run")(jobs.run)
app.command("status")(runs.status)
runs.runs_app.command("grid")(runs_grid.grid)
app.add_typer(runs.runs_app, name="runs")
mt5.mt5_app.command("cycles")(runs.cycles)
app.add_typer(check.check_app, name="check")
app.command("flower")(flower.flower)
app.command("verify")(verify.verify)
app.command("backfill")(backfill.backfill)


@app.command("demo")
def demo() -> None:
    """A fresh embedded database, the sample contracts and prices, the nightly batch for a
    fixed date, and a summary."""
    from workers.cli.common import out
    from workers.demo import run_demo

    raise typer.Exit(run_demo(out))


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        err.print(f"hedgeops: {exc}", markup=False)
        sys.exit(EXIT_BAD_INPUT)
