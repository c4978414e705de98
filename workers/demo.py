"""`hedgeops demo`: the nightly batch on a fresh embedded database, with sample data."""

from __future__ import annotations

import shutil
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.calendars import price_date_for

DEMO_AS_OF = date(2026, 11, 20)  # a Friday: D-1 is Thursday 2026-11-19
DEMO_DIR = Path("var/demo")


def run_demo(console: Console) -> int:
    from db.migrate import upgrade
    from db.reports import valuation_summary
    from tasks.loading import load_contracts_csv
    from tasks.nightly import run_nightly
    from tasks.ports import ports
    from workers.cli.common import exit_code, settings_or_exit, start

    db_file = DEMO_DIR / "hedgeops-demo.db"
    incoming = DEMO_DIR / "prices" / "incoming"
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    incoming.mkdir(parents=True)
    sample = resources.files("workers") / "sample_data"
    for name in ("prices_2026-11-19.csv",):
        (incoming / name).write_bytes((sample / name).read_bytes())
    settings = settings_or_exit(
        database_url=f"sqlite:///{db_file}",
        broker_url=None,
        result_backend=None,
        price_drop_dir=incoming,
        drop_settle_seconds=0,  # the demo wrote its price file whole, just above
        log_level="ERROR",
    )
    start(settings, database=False)  # a fresh database: the schema comes next
    upgrade(settings.database_url)
    loaded = load_contracts_csv((sample / "contracts.csv").read_text(encoding="utf-8"), "contracts.csv")
    console.print(f"loaded {loaded.rows} sample contracts into {db_file}")
    _load_counterparties(console, sample)
    summary = run_nightly.apply_async(kwargs={"as_of": DEMO_AS_OF.isoformat(), "trigger": "manual"}).get()
    with ports().uow() as uow:
        from db import ledger
        from tasks.summary import run_summary

        final = run_summary(ledger.get_run(uow.session, summary["batch_run_id"]))
        report = valuation_summary(uow.session, DEMO_AS_OF)
    price_date = price_date_for(DEMO_AS_OF, settings.d1_policy)
    console.print(
        f"nightly for {DEMO_AS_OF} (prices of {price_date}): {final['status']}, batch run {final['batch_run_id']}"
    )
    table = Table(title=f"MTM as of {DEMO_AS_OF}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in (
        ("contracts", report.contracts),
        ("active contracts", report.active),
        ("snapshots", report.snapshots),
        ("exceptions", report.exceptions),
        ("conflicts", report.conflicts),
    ):
        table.add_row(label, str(value))
    for (underlying, currency), total in report.mtm_by_underlying.items():
        table.add_row(f"MTM {underlying}", f"{total:,.2f} {currency}")
    console.print(table)
    from tasks.counterparties import counterparty_report
    from workers.cli.counterparties import counterparty_table

    console.print(counterparty_table(counterparty_report(DEMO_AS_OF), DEMO_AS_OF))
    from workers.accounting_demo import run_accounting_demo
    from workers.mt5_demo import run_guard_demo, run_mt5_demo
    from workers.settlement_demo import run_settlement_demo

    accounting_code = run_accounting_demo(console, DEMO_DIR)
    accounting_code = accounting_code or run_settlement_demo(console, DEMO_DIR)
    mt5_code = run_mt5_demo(console, DEMO_DIR)
    guard_code = run_guard_demo(console, DEMO_DIR)
    return exit_code(final["status"]) or accounting_code or mt5_code or guard_code


def _load_counterparties(console: Console, sample: Any) -> None:
    """The sample counterparties, then the same contracts naming them (a counterparty column)."""
    from tasks.counterparties import load_counterparties_csv
    from tasks.loading import load_contracts_csv

    parties = load_counterparties_csv((sample / "counterparties.csv").read_text(encoding="utf-8"), "counterparties.csv")
    named = "contract_counterparties.csv"
    assigned = load_contracts_csv((sample / named).read_text(encoding="utf-8"), named)
    console.print(f"loaded {len(parties.created)} counterparties; {assigned.counterparty_set} contracts name one")
