"""The demo's settlement: an NDF bought (EUR 500,000 at 1.04) maturing on Friday 27 Nov 2026,
proposed by the nightly's settlement move from its fixing (EURUSD of Thursday 26 Nov, 1.048,
from its fixing source, the vendor file: the contract's fixing_source is vendor_csv),
settled by a file with two approvers, then the settlements report. Runs after the
accounting demo on the same database."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

SETTLES = date(2026, 11, 27)


def run_settlement_demo(console: Console, demo_dir: Path) -> int:
    """Load, propose, settle and report; 0 when the settlement was posted."""
    from tasks.hedging.settlement import load_settlements_json, propose_settlements, settlements_report
    from tasks.loading import load_contracts_csv, load_prices
    from tasks.ports import ports, utc_now
    from workers.adapters.vendor_csv import read_price_file

    sample = resources.files("workers") / "sample_data"
    rates = demo_dir / "eurusd_2026-11-26.csv"
    rates.write_bytes((sample / rates.name).read_bytes())
    load_prices(read_price_file(rates, "vendor_csv", utc_now(), ["EUR*"]))
    load_contracts_csv((sample / "settlement_demo.csv").read_text(encoding="utf-8"), "settlement_demo.csv")
    p = ports()
    with p.uow() as uow:
        proposed = propose_settlements(p, uow.session, SETTLES, None)
        uow.commit()
    settled = load_settlements_json((sample / "settlements.json").read_text(encoding="utf-8"), "settlements.json")
    console.print(
        f"settlement of FXN-DEMO-1 on {SETTLES}: {proposed.counts.created} proposed, "
        f"{len(settled.created)} settled; entries {', '.join(settled.entries)}"
    )
    report = settlements_report(str(SETTLES)[:7])
    table = Table(title=f"settlements, {report['period']} (hedgeops report settlements --period {report['period']})")
    for name in ("contract", "date", "method", "status", "fixing", "amount", "approvers"):
        table.add_column(name, no_wrap=name != "fixing")
    for line in report["settlements"]:
        amount = line["settled_amount"] if line["settled_amount"] is not None else line["proposed_amount"]
        table.add_row(
            line["contract_ref"],
            line["settlement_date"],
            line["method"],
            line["status"],
            line["fixing"],
            f"{amount:,.2f} {line['currency']}",
            line["approvers"] or "",
        )
    console.print(table)
    return 0 if settled.created else 1
