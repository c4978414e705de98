"""`hedgeops guard replay --account LOGIN --from D1 --to D2 [--policy FILE] [--json]`: the
alerts and closes the drawdown guard would have made over an account's stored snapshots
(tasks.mt5.guard_views). `register(app)` adds the command to the `guard` group."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from core.errors import HedgeopsError
from workers.cli.common import fail, out, parse_day, read_text_file, settings_or_exit, start


def policy_file(path: Path) -> dict[str, Any]:
    """The fields of a policy file: a JSON object of GuardPolicy fields."""
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise fail(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise fail(f"{path}: not JSON (nested too deeply)") from None
    except ValueError as exc:  # a number of more than 4,300 digits
        raise fail(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise fail(f"{path}: expected a JSON object of guard policy fields")
    return data


def replay(
    account: Annotated[int, typer.Option("--account", help="the account's MT5 login")],
    first: Annotated[str, typer.Option("--from", help="first UTC day of snapshots (YYYY-MM-DD)")],
    last: Annotated[str, typer.Option("--to", help="last UTC day of snapshots (YYYY-MM-DD), included")],
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="JSON object of policy fields laid over the settings' defaults (HEDGEOPS_GUARD_*)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Run the account's stored position snapshots (failed syncs left out), oldest first,
    through a policy from a fresh guard state, and print the alerts and closes it would
    have made: warnings, executions, re-arms and days whose start was unknown. Nothing is
    written and nothing is sent. Nobody resets the latch in a replay: after an execution
    the account stays tripped."""
    start_day, end_day = parse_day(first, "--from"), parse_day(last, "--to")
    if start_day > end_day:
        raise fail(f"--from {start_day} is after --to {end_day}")
    override = policy_file(policy) if policy is not None else None
    start(settings_or_exit())
    from tasks.mt5.guard_views import replay_account

    try:
        report = replay_account(account, start_day, end_day, override)
    except HedgeopsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(report))
        return
    show(report)


def show(report: dict[str, Any]) -> None:
    p, events = report["policy"], report["events"]
    daily = f"{p['daily_loss_pct']}%" if p["daily_loss_pct"] else "off"
    out.print(
        f"account {report['login']}@{report['server']}, {report['from']} to {report['to']}: "
        f"{report['readings']} snapshot(s), {len(events)} event(s); policy: warning {p['warning_pct']}%, "
        f"execution {p['execution_pct']}%, daily loss {daily}, mode {p['mode']}",
        markup=False,
        highlight=False,
    )
    if not events:
        return
    figures = [
        Column(name, justify="right", overflow="fold") for name in ("drawdown %", "day loss %", "equity", "episode")
    ]
    table = Table(
        Column("time (UTC)", no_wrap=True),
        Column("kind", overflow="fold"),
        *figures,
        Column("reasons", overflow="fold"),
        title="what the guard would have done",
    )
    for e in events:
        at = datetime.fromisoformat(e["at"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            at,
            e["kind"],
            e["drawdown_pct"] or "-",
            e["day_loss_pct"] or "-",
            e["equity"],
            str(e["episode"]),
            ", ".join(e["reasons"]) or "-",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add `replay` to the `guard` command group."""
    app.command("replay")(replay)
