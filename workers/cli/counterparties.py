"""Counterparty commands: `hedgeops load counterparties FILE` and `hedgeops report
counterparties --as-of D [--json]`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.canonical import canonical
from workers.cli.common import load_file, out, parse_day, settings_or_exit, start


def load_counterparties(file: Path) -> None:
    """Load counterparties (CSV; see docs/counterparties.md). All or nothing; identical rows
    are `existing`, a changed row is applied and audited (before and after), a changed LEI
    refuses the file."""
    from tasks.counterparties import load_counterparties_csv

    loaded = load_file(file, load_counterparties_csv)
    total = len(loaded.created) + len(loaded.existing) + len(loaded.changed)
    out.print(
        f"{file.name}: {total} counterparties: {len(loaded.created)} created, {len(loaded.existing)} existing, "
        f"{len(loaded.changed)} changed",
        markup=False,
        highlight=False,
    )


def _money(line: dict[str, Any], name: str) -> str:
    value = line.get(name)
    return "-" if value is None else f"{value:.2f}"


def counterparty_table(lines: list[dict[str, Any]], day: date) -> Table:
    """The report's table (the demo prints it too)."""
    table = Table(title=f"counterparty exposure as of {day}")
    for name in ("counterparty", "LEI", "netting set", "contracts", "net MTM", "exposure", "limit", "ccy"):
        table.add_column(name)
    for name in ("utilisation", "headroom", "breach"):
        table.add_column(name)
    for line in lines:
        table.add_row(
            line["counterparty_id"],
            line["lei"],
            line["netting_set"] or "(none: not netted)",
            str(line["contracts"]),
            _money(line, "net_mtm"),
            _money(line, "exposure"),
            _money(line, "credit_limit"),
            line["limit_currency"],
            "-" if line["utilisation"] is None else f"{line['utilisation'] * 100:.2f}%",
            _money(line, "headroom"),
            "BREACH" if line["breached"] else ("no rate" if line["missing_rates"] else ""),
        )
    return table


def report_counterparties(
    as_of: Annotated[str, typer.Option("--as-of", help="the nightly's date D, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The counterparty exposures the nightly of D computed, one line per counterparty, in
    its limit currency: net MTM of its netting set, exposure, limit, utilisation, headroom."""
    from tasks.counterparties import counterparty_report

    day = parse_day(as_of)
    start(settings_or_exit())
    lines = counterparty_report(day)
    if as_json:
        print(json.dumps(canonical(lines)))
        return
    out.print(counterparty_table(lines, day))
    if not lines:
        out.print(f"no counterparty exposures for {day} (the nightly of {day} computes them)", markup=False)
    for line in lines:
        if line["missing_rates"]:
            out.print(f"{line['counterparty_id']}: no D-1 rate {', '.join(line['missing_rates'])}", markup=False)
