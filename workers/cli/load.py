"""`hedgeops load ...`: master data and price files."""
from __future__ import annotations

from pathlib import Path

import typer

from core.errors import HedgeopsError, InvalidInput
from workers.cli.common import EXIT_CONFLICTS, EXIT_FAILED, err, fail, out, read_text_file, settings_or_exit, start

load_app = typer.Typer(help="Load master data and price files.", no_args_is_help=True)


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
