"""The demo's hedge accounting part: a cash flow hedge of a EUR receivable (a EURUSD forward
sold at 1.06 against EUR 980,000 due 31 Dec 2026), designated on 2026-11-20, valued, tested
and posted on its designation date and at the month-end 2026-11-30; then its journal of
November and the reserve's roll-forward. Runs after the nightly on the same database."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

DAYS = (date(2026, 11, 20), date(2026, 11, 30))
PERIOD = "2026-11"


def run_accounting_demo(console: Console, demo_dir: Path) -> int:
    """Load the hedge and its EURUSD rates, post its two dates, print the journal and the
    reserve; the exit code of the worst postings run (0 when both succeeded)."""
    from tasks.hedging.accounting import journals_report, reserve_report
    from workers.cli.common import exit_code

    sample = resources.files("workers") / "sample_data"
    _load(sample, demo_dir)
    statuses = [_post(day) for day in DAYS]
    console.print(f"cash flow hedge HD-DEMO-1 posted on {', '.join(map(str, DAYS))}: {', '.join(statuses)}")
    _print_journal(console, journals_report(PERIOD))
    _print_reserve(console, reserve_report(PERIOD))
    return max(exit_code(s) for s in statuses)


def _load(sample: Any, demo_dir: Path) -> None:
    """The hedge's forward, item and designation; EURUSD of 19 and 27 Nov 2026 (a vendor
    file: the shipped ECB history ends before them)."""
    from tasks.hedging.loading import load_designations_json, load_hedged_items_json
    from tasks.loading import load_contracts_csv, load_prices
    from tasks.ports import utc_now
    from workers.adapters.vendor_csv import read_price_file

    rates = demo_dir / "eurusd_2026-11.csv"
    rates.write_bytes((sample / rates.name).read_bytes())
    load_prices(read_price_file(rates, "vendor_csv", utc_now(), ["EUR*"]))

    load_contracts_csv((sample / "fx_hedge_contracts.csv").read_text(encoding="utf-8"), "fx_hedge_contracts.csv")
    load_hedged_items_json((sample / "hedged_items.json").read_text(encoding="utf-8"), "hedged_items.json")
    load_designations_json((sample / "designations.json").read_text(encoding="utf-8"), "designations.json")


def _post(day: date) -> str:
    """MTM, effectiveness and postings of `day` (the nightly's last three steps, one by one)."""
    from tasks.hedging.effectiveness import assess_hedge_effectiveness
    from tasks.hedging.postings import post_hedge_accounting_entries
    from tasks.summary import run_summary
    from tasks.valuation import compute_mtm_snapshots

    for task in (compute_mtm_snapshots, assess_hedge_effectiveness):
        task.apply_async(kwargs={"as_of": day.isoformat()}).get()
    started = post_hedge_accounting_entries.apply_async(kwargs={"as_of": day.isoformat()}).get()
    from db import ledger
    from tasks.ports import ports

    with ports().uow() as uow:
        return str(run_summary(ledger.get_run(uow.session, started["batch_run_id"]))["status"])


def _money(value: Any) -> str:
    return f"{value:,.2f}" if value else ""


def _print_journal(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"journal, {report['period']} (hedgeops report journals --period {report['period']})")
    table.add_column("entry", no_wrap=True)
    for name in ("date", "account", "debit", "credit"):
        table.add_column(name, justify="right" if name in ("debit", "credit") else "left", no_wrap=True)
    for row in report["rows"]:
        cells = (
            row["entry_key"],
            str(row["posting_date"]),
            row["account"],
            _money(row["debit"]),
            _money(row["credit"]),
        )
        table.add_row(*cells)
    for currency, total in sorted(report["totals"].items()):
        table.add_row(f"total {currency}", "", "", _money(total["debit"]), _money(total["credit"]))
    console.print(table)


def _print_reserve(console: Console, report: dict[str, Any]) -> None:
    from tasks.hedging.accounting import FIGURES

    table = Table(title=f"cash flow hedge reserve, {report['period']} (credit positive)")
    table.add_column("relationship")
    for name in FIGURES:
        table.add_column(name.replace("_", " "), justify="right")
    for line in report["relationships"]:
        table.add_row(line["relationship"], *(f"{line[name]:,.2f}" for name in FIGURES))
    console.print(table)
