"""The MT5 part of `hedgeops demo`: a simulated hedging account with one position of each
reconciliation class, its expected positions, one sync cycle in-process, and the rows; then
a guarded account that breaches its drawdown limit at its second sync and is closed, and
`guard status` after it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from db.uow import UnitOfWorkFactory
from tasks.ports import ports
from workers.adapters.mt5.scenario import DEMO_SCENARIO

DEMO_LOGIN, DEMO_SERVER, DEMO_TERMINAL = 700001, "Sim-Demo", "demo"
GUARDED_LOGIN = 700002  # peak 10000.00, then 8800.00: (10000 - 8800) / 10000 * 100 = 12 % >= 10 %
DEMO_PASSWORD = "demo-password"  # the simulator's; kept in a secrets file like a real one would be
EXPECTED_FILE = DEMO_SCENARIO.with_name("demo_expected_positions.csv")


def run_mt5_demo(console: Console, directory: Path) -> int:
    """Needs the bundles of an embedded process with the simulator's demo scenario."""
    from core.mt5.accounts import AccountSpec
    from tasks.mt5.cycle import run_sync_cycle
    from tasks.mt5.loading import add_account, load_expected_csv
    from tasks.mt5.views import cycle_summary
    from workers.cli.common import exit_code

    add_account(
        AccountSpec(
            login=DEMO_LOGIN,
            server=DEMO_SERVER,
            terminal=DEMO_TERMINAL,
            currency="USD",
            magic_numbers=(7,),
            credential_ref=_secret(directory, DEMO_LOGIN),
        )
    )
    load_expected_csv(EXPECTED_FILE.read_text(encoding="utf-8"), EXPECTED_FILE.name)
    started = run_sync_cycle.apply_async(kwargs={"terminal": DEMO_TERMINAL}).get()
    summary = cycle_summary(started["batch_run_id"])
    console.print(
        f"MT5 sync of simulated account {DEMO_LOGIN} on terminal {DEMO_TERMINAL}: {summary['status']}, "
        f"batch run {summary['batch_run_id']}"
    )
    console.print(reconciliation_table(ports().uow, started["batch_run_id"]))
    return exit_code(summary["status"])


def _secret(directory: Path, login: int) -> str:
    """The simulator's password in a secrets file (mode 600), as a real one would be kept."""
    secret = directory / "secrets" / f"mt5-{login}"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(DEMO_PASSWORD + "\n", encoding="utf-8")
    secret.chmod(0o600)
    return f"file:{secret.resolve()}"


def run_guard_demo(console: Console, directory: Path) -> int:
    """Two syncs of the guarded account: the peak, then the breach and its closes."""
    from core.mt5.accounts import AccountSpec
    from tasks.mt5.cycle import run_sync_cycle
    from tasks.mt5.guard_admin import guard_status
    from tasks.mt5.loading import add_account

    add_account(
        AccountSpec(
            login=GUARDED_LOGIN,
            server=DEMO_SERVER,
            terminal=DEMO_TERMINAL,
            currency="USD",
            magic_numbers=(7,),
            credential_ref=_secret(directory, GUARDED_LOGIN),
        )
    )
    for _ in range(2):
        run_sync_cycle.apply_async(kwargs={"terminal": DEMO_TERMINAL, "logins": [GUARDED_LOGIN]}).get()
    console.print(guard_table(ports().uow, GUARDED_LOGIN))
    table = Table("login", "state", "episode", "peak", "equity", "drawdown %", "pending closes", title="guard status")
    for view in guard_status():
        if view.account.login == GUARDED_LOGIN:
            d = view.as_dict()
            table.add_row(
                str(d["login"]),
                d["state"],
                str(d["episode"]),
                d["peak_equity"] or "-",
                d["equity"] or "-",
                d["drawdown_pct"] or "-",
                str(d["pending_intents"]),
            )
    console.print(table)
    return 0


def guard_table(uow_factory: UnitOfWorkFactory, login: int) -> Table:
    from sqlalchemy import select

    from db.mt5.guard_models import CloseIntent, DrawdownAlert

    table = Table(
        "alert",
        "action",
        "drawdown %",
        "threshold %",
        "closed",
        "close intents",
        title=f"drawdown guard of account {login}",
    )
    with uow_factory() as uow:
        intents = {
            i.ticket: i.status for i in uow.session.scalars(select(CloseIntent).where(CloseIntent.login == login))
        }
        for a in uow.session.scalars(
            select(DrawdownAlert).where(DrawdownAlert.login == login).order_by(DrawdownAlert.id)
        ):
            shown = ", ".join(f"{t}: {s}" for t, s in sorted(intents.items())) if a.alert_type == "execution" else "-"
            table.add_row(
                a.alert_type, a.action, str(a.current_pct), str(a.threshold_pct), str(a.positions_closed), shown
            )
    return table


def reconciliation_table(uow_factory: UnitOfWorkFactory, run_id: int) -> Table:
    from sqlalchemy import select

    from db.mt5.models import ReconciliationLog as R

    table = Table(
        "ticket",
        "signal",
        "reason",
        "lots expected",
        "lots",
        "entry",
        "open/exit",
        title=f"reconciliation (batch run {run_id})",
    )
    table.columns[2].no_wrap = True
    with uow_factory() as uow:
        for r in uow.session.scalars(select(R).where(R.batch_run_id == run_id).order_by(R.ticket)):
            table.add_row(
                str(r.ticket or "-"),
                r.signal_id or "-",
                r.reason,
                _lots(r.expected_volume),
                _lots(r.volume),
                _price(r.entry_price),
                _price(r.open_price or r.exit_price),
            )
    return table


def _lots(value: object) -> str:
    return "-" if value is None else f"{value:.2f}"


def _price(value: object) -> str:
    return "-" if value is None else f"{value:.5f}"
