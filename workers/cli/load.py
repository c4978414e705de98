"""`hedgeops load ...`: master data and price files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from core.ports import PriceBatch
from workers.cli.common import (
    EXIT_CONFLICTS,
    EXIT_FAILED,
    err,
    fail,
    load_streamed,
    out,
    settings_or_exit,
    start,
)
from workers.settings import Settings, SourceSpec

load_app = typer.Typer(help="Load master data and price files.", no_args_is_help=True)


@load_app.command("contracts")
def load_contracts(file: Path) -> None:
    """Load hedge contracts (CSV). All or nothing; identical rows are `existing`."""
    from tasks.loading import load_contracts_lines

    loaded = load_streamed(file, load_contracts_lines)
    out.print(
        f"{file.name}: {loaded.rows} contracts: {loaded.created} created, {loaded.existing} existing, "
        f"{loaded.changed} changed ({loaded.status_changed} status changed"
        + (f", {loaded.counterparty_set} counterparty set" if loaded.counterparty_set else "")
        + (f", {loaded.amended} amended" if loaded.amended else "")
        + ")"
    )


@load_app.command("prices")
def load_prices(
    file: Annotated[Path | None, typer.Argument(help="the file; none with an ecb_file source: its whole file")] = None,
    source: Annotated[str, typer.Option(help="the configured price source the file belongs to")] = "vendor_csv",
) -> None:
    """Load a price file now: good rows land, each bad row is reported (file and line)."""
    from tasks.loading import load_prices
    from tasks.ports import utc_now

    settings = settings_or_exit()
    start(settings)
    spec = next((s for s in settings.price_sources if s.name == source), None)
    if spec is None:
        raise fail(
            f"--source {source}: no such price source (configured: {', '.join(s.name for s in settings.price_sources)})"
        )
    if file is not None and not file.is_file():
        raise fail(f"{file}: no such file")
    batch = read_batch(spec, file, utc_now(), settings)
    if batch.rejected or batch.poison:
        raise fail(f"{batch.rejected or batch.poison}; nothing loaded")
    what = "prices" if batch.parts else f"{len(batch.report.rows)} prices"
    with err.status(f"loading {what} from {batch.report.file}", spinner="dots"):
        loaded = load_prices(batch)
    counts, crosses = loaded.prices, loaded.crosses
    for error in batch.report.errors:
        err.print(f"  rejected {error}", markup=False, highlight=False)
    out.print(
        f"{batch.report.file}: {counts.created} created, {counts.existing} existing, "
        f"{counts.conflicts} conflicts, {counts.exceptions} rejected"
    )
    if crosses is not None:
        out.print(f"ecb_cross: {crosses.created} created, {crosses.existing} existing, {crosses.conflicts} conflicts")
    if counts.exceptions:
        raise typer.Exit(EXIT_FAILED)
    if counts.conflicts or (crosses is not None and crosses.conflicts):
        raise typer.Exit(EXIT_CONFLICTS)


def read_batch(spec: SourceSpec, file: Path | None, now: datetime, settings: Settings) -> PriceBatch:
    """The file read as its source reads files: a vendor CSV, or an ECB history."""
    from workers.adapters.ecb import EcbFilePriceSource
    from workers.adapters.sources import file_limits
    from workers.adapters.vendor_csv import read_price_file

    if spec.kind == "ecb_file":
        return EcbFilePriceSource(
            spec.name, file or spec.path, spec.currencies, lambda: now, window=settings.date_window
        ).load_all()
    if file is None:
        raise fail(f"--source {spec.name} ({spec.kind}) needs a FILE")
    return read_price_file(file, spec.name, now, spec.symbols, settings.date_window, file_limits(settings))
