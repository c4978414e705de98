"""Settlement commands: `hedgeops load settlements FILE` (a person settles contracts the
nightly proposed: two approvers, neither the settler) and `hedgeops report settlements
--period P`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.canonical import canonical
from workers.cli.accounting import AsJson, _cell, _period_started
from workers.cli.common import out

COLUMNS = (
    "contract_ref",
    "settlement_date",
    "method",
    "status",
    "currency",
    "fixing",
    "proposed_amount",
    "settled_rate",
    "settled_amount",
    "settled_by",
    "approvers",
    "journal_key",
)


def load_settlements(file: Path) -> None:
    """Settle contracts (JSON; see README): the settlement entry, the dossier's OCI release,
    the contract settled. All or nothing; idempotent; audited."""
    from tasks.hedging.settlement import load_settlements_json
    from workers.cli.common import load_file

    loaded = load_file(file, load_settlements_json)
    out.print(
        f"{file.name}: {len(loaded.created) + len(loaded.existing)} settlements: {len(loaded.created)} settled, "
        f"{len(loaded.existing)} existing; entries {', '.join(loaded.entries) or 'none'}",
        markup=False,
        highlight=False,
    )


def report_settlements(
    period: Annotated[str, typer.Option("--period", help="the period, YYYY-MM")], as_json: AsJson = False
) -> None:
    """The settlements dated in a period, proposed (pending) and settled, and the fixings missing."""
    from tasks.hedging.settlement import settlements_report

    report = settlements_report(_period_started(period))
    if as_json:
        print(json.dumps(canonical(report)))
        return
    table = Table(title=f"settlements, {report['period']}")
    for name in COLUMNS:
        table.add_column(name, overflow="fold")
    for line in report["settlements"]:
        table.add_row(*(_cell(line[name]) for name in COLUMNS))
    out.print(table)
    for missing in report["missing_fixings"]:
        out.print(f"{missing['as_of']}: {missing['reason']}", markup=False, highlight=False)
