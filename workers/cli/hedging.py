"""Hedge accounting commands: `hedgeops load hedged-items FILE`, `hedgeops load designations
FILE` and `hedgeops report effectiveness --as-of D [--json]`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.canonical import canonical, normalise_decimal
from workers.cli.common import load_file, out, parse_day, settings_or_exit, start

report_app = typer.Typer(help="Reports.", no_args_is_help=True)


def _load(file: Path, loader: Callable[[str, str], Any], what: str) -> None:
    loaded = load_file(file, loader)
    for note in loaded.notes:
        out.print(f"  {note}", markup=False, highlight=False)
    out.print(
        f"{file.name}: {len(loaded.created) + len(loaded.existing)} {what}: {len(loaded.created)} created, "
        f"{len(loaded.existing)} existing",
        markup=False,
        highlight=False,
    )


def load_hedged_items(file: Path) -> None:
    """Load hedged items (JSON; see README). All or nothing; an item never changes."""
    from tasks.hedging.loading import load_hedged_items_json

    _load(file, load_hedged_items_json, "hedged items")


def load_designations(file: Path) -> None:
    """Load designation dossiers (JSON; see README): version 1 designates, n+1 amends.
    All or nothing; a stored version never changes. The prospective critical-terms check
    of each new version is recorded and printed."""
    from tasks.hedging.loading import load_designations_json

    _load(file, load_designations_json, "designation versions")


def _figure(line: dict[str, Any]) -> str:
    def text(name: str) -> str:
        return normalise_decimal(line[name]) if line.get(name) is not None else "-"

    if line.get("ratio") is not None:
        return f"ratio {text('ratio')}"
    if line.get("slope") is not None:
        return f"slope {text('slope')}, R² {text('r_squared')}, p {text('p_value')}, n {line['n']}"
    return "-"


@report_app.command("effectiveness")
def report_effectiveness(
    as_of: Annotated[str, typer.Option("--as-of", help="the test date D, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The effectiveness tests of a date, one line per designation: method, outcome, ratio
    or slope and R²; designations under test without a result show `not tested`."""
    from tasks.hedging.loading import effectiveness_report

    day = parse_day(as_of)
    start(settings_or_exit())
    lines = effectiveness_report(day)
    if as_json:
        print(json.dumps(canonical(lines)))
        return
    table = Table(title=f"effectiveness as of {day}")
    for name in ("designation", "instrument / item", "method", "outcome", "figures", "flagged"):
        table.add_column(name, overflow="fold")
    for line in lines:
        table.add_row(
            f"{line['designation_ref']} v{line['version']}",
            f"{line.get('contract_ref', '-')} / {line.get('item_ref', '-')}",
            str(line["method"]),
            str(line["outcome"] or "not tested"),
            _figure(line),
            "yes" if line.get("flagged") else "",
        )
    out.print(table)
    for line in lines:
        if line.get("flagged"):
            out.print(
                f"{line['designation_ref']} v{line['version']}: {line['outcome']}: {line['reason']} "
                "(flagged for de-designation review)",
                markup=False,
                highlight=False,
            )
