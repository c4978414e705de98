"""The MT5 part of `hedgeops demo`: a simulated hedging account with one position of each
reconciliation class, its expected positions, one sync cycle in-process, and the rows."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from workers.adapters.mt5.scenario import DEMO_SCENARIO

DEMO_LOGIN, DEMO_SERVER, DEMO_TERMINAL = 700001, "Sim-Demo", "demo"
DEMO_PASSWORD = "demo-password"  # the simulator's; kept in a secrets file like a real one would be
EXPECTED_FILE = DEMO_SCENARIO.with_name("demo_expected_positions.csv")


def run_mt5_demo(console: Console, directory: Path) -> int:
    """Needs the runtime of an embedded process with the simulator's demo scenario."""
    from core.mt5.accounts import AccountSpec
    from tasks.mt5.cycle import run_sync_cycle
    from tasks.mt5.loading import add_account, load_expected_csv
    from tasks.mt5.views import cycle_summary
    from workers.cli.common import exit_code

    secret = directory / "secrets" / f"mt5-{DEMO_LOGIN}"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(DEMO_PASSWORD + "\n", encoding="utf-8")
    secret.chmod(0o600)
    add_account(AccountSpec(login=DEMO_LOGIN, server=DEMO_SERVER, terminal=DEMO_TERMINAL, currency="USD",
                            magic_numbers=(7,), credential_ref=f"file:{secret.resolve()}"))
    load_expected_csv(EXPECTED_FILE.read_text(encoding="utf-8"), EXPECTED_FILE.name)
    started = run_sync_cycle.apply_async(kwargs={"terminal": DEMO_TERMINAL}).get()
    summary = cycle_summary(started["batch_run_id"])
    console.print(f"MT5 sync of simulated account {DEMO_LOGIN} on terminal {DEMO_TERMINAL}: {summary['status']}, "
                  f"batch run {summary['batch_run_id']}")
    console.print(reconciliation_table(started["batch_run_id"]))
    return exit_code(summary["status"])


def reconciliation_table(run_id: int) -> Table:
    from sqlalchemy import select

    from db.mt5.models import ReconciliationLog as R
    from tasks.runtime import runtime

    table = Table("ticket", "signal", "reason", "lots expected", "lots", "entry", "open/exit",
                  title=f"reconciliation (batch run {run_id})")
    table.columns[2].no_wrap = True
    with runtime().uow() as uow:
        for r in uow.session.scalars(select(R).where(R.batch_run_id == run_id).order_by(R.ticket)):
            table.add_row(str(r.ticket or "-"), r.signal_id or "-", r.reason, _lots(r.expected_volume),
                          _lots(r.volume), _price(r.entry_price), _price(r.open_price or r.exit_price))
    return table


def _lots(value: object) -> str:
    return "-" if value is None else f"{value:.2f}"


def _price(value: object) -> str:
    return "-" if value is None else f"{value:.5f}"
