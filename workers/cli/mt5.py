"""`hedgeops mt5 accounts add|list`, `hedgeops load expected-positions FILE` and
`hedgeops run mt5-sync [--account LOGIN]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from core.errors import HedgeopsError
from core.redaction import redact_value
from core.rows import describe
from tasks import names
from workers.cli.common import (
    exit_code,
    fail,
    load_file,
    mode_or_exit,
    out,
    settings_or_exit,
    start,
)
from workers.settings import Settings

mt5_app = typer.Typer(help="MT5 accounts.", no_args_is_help=True)
accounts_app = typer.Typer(help="The MT5 accounts the sync reads (passwords by reference only).", no_args_is_help=True)
mt5_app.add_typer(accounts_app, name="accounts")


@accounts_app.command("add")
def add_account(
    login: Annotated[int, typer.Option(help="MT5 login (account number)")],
    server: Annotated[str, typer.Option(help="trade server, as the terminal names it")],
    terminal: Annotated[str, typer.Option(help="the terminal (worker queue mt5.<terminal>) it is synced on")],
    currency: Annotated[str, typer.Option(help="account currency, 3 letters")],
    credential: Annotated[str, typer.Option(help="where the password is: env:NAME or file:/absolute/path")],
    magic: Annotated[
        list[int] | None, typer.Option(help="a magic number of ours (repeat); none: every position")
    ] = None,
    policy: Annotated[str, typer.Option(help="the account's risk policy name")] = "default",
    disabled: Annotated[bool, typer.Option("--disabled", help="add it without syncing it")] = False,
) -> None:
    """Add an account. Adding the same one again changes nothing; other values are refused."""
    from core.mt5.accounts import AccountSpec
    from tasks.mt5.loading import add_account as add

    start(settings_or_exit())
    try:
        spec = AccountSpec(
            login=login,
            server=server,
            terminal=terminal,
            currency=currency,
            policy=policy,
            enabled=not disabled,
            magic_numbers=tuple(magic or ()),
            credential_ref=credential,
        )
        account, added = add(spec)
    except ValidationError as exc:
        raise fail(describe(exc)) from None
    except HedgeopsError as exc:
        raise fail(str(exc)) from None
    out.print(
        f"account {account.login}@{account.server} on terminal {account.terminal}: "
        f"{'added' if added else 'already there, unchanged'}",
        markup=False,
    )


@accounts_app.command("list")
def list_accounts(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Every account, by terminal and login."""
    from tasks.mt5.loading import list_accounts as listed

    start(settings_or_exit())
    accounts = listed()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "login": a.login,
                        "server": a.server,
                        "terminal": a.terminal,
                        "currency": a.currency,
                        "policy": a.policy,
                        "enabled": a.enabled,
                        "magic_numbers": list(a.magic_numbers),
                        "credential_ref": a.credential_ref,
                        "peak_equity": None if a.peak_equity is None else str(a.peak_equity),
                    }
                    for a in accounts
                ]
            )
        )
        return
    table = Table(
        "login",
        "server",
        "terminal",
        "currency",
        "policy",
        "enabled",
        "magic",
        "credential",
        "peak equity",
        title="MT5 accounts",
    )
    for a in accounts:
        table.add_row(
            str(a.login),
            a.server,
            a.terminal,
            a.currency,
            a.policy,
            "yes" if a.enabled else "no",
            ",".join(map(str, a.magic_numbers)) or "any",
            a.credential_ref,
            "-" if a.peak_equity is None else f"{a.peak_equity:,.2f}",
        )
    out.print(table)


@mt5_app.command("reconciliation")
def reconciliation(
    cycle: Annotated[int, typer.Argument(help="the sync cycle's batch run id (`hedgeops mt5 cycles`)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A sync cycle's reconciliation rows: each position of the union of expected and actual,
    classified (matched, slippage, partial_fill, manual_close, ..., gap, missing)."""
    from tasks.mt5.views import RECONCILIATION_FIELDS, reconciliation_rows

    start(settings_or_exit())
    try:
        rows = reconciliation_rows(cycle)
    except HedgeopsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table(*RECONCILIATION_FIELDS, title=f"reconciliation of cycle {cycle}")
    for row in rows:
        table.add_row(*("-" if row[f] is None else str(row[f]) for f in RECONCILIATION_FIELDS))
    out.print(table)


def load_expected_positions(file: Path) -> None:
    """Load expected positions (CSV). All or nothing; a known ticket never changes."""
    from tasks.mt5.loading import load_expected_csv

    load = load_file(file, load_expected_csv)
    out.print(
        f"{file.name}: {len(load.created)} created, {len(load.existing)} existing, "
        f"{len(load.ticket_assigned)} ticket assigned",
        markup=False,
    )


def run_mt5_sync(account: int | None, *, wait: bool, as_json: bool, timeout: int, in_process: bool = False) -> int:
    """One cycle of each terminal (of `account`, when given), in-process when embedded, else
    sent to each terminal's queue (and followed with --wait); returns the exit code."""
    from tasks.mt5.views import terminals_to_sync

    settings = settings_or_exit()
    mode_or_exit(settings, in_process)
    start(settings)
    logins = [account] if account is not None else None
    terminals = terminals_to_sync(logins)
    if not terminals:
        raise fail(f"no enabled MT5 account{f' with login {account}' if account else ''}")
    follow = wait or not settings.distributed
    summaries = [
        _trigger(settings, terminal, logins, follow=follow, timeout=timeout, quiet=as_json) for terminal in terminals
    ]
    show_cycles(summaries, as_json)
    return max((exit_code(s.get("status", "")) for s in summaries), default=0)


def _trigger(
    settings: Settings, terminal: str, logins: list[int] | None, *, follow: bool, timeout: int, quiet: bool
) -> dict[str, Any]:
    from tasks.mt5.views import cycle_summary
    from workers.cli import trigger

    kwargs = {"terminal": terminal, "trigger": "manual", "logins": logins}
    queue = names.queue_of_terminal(terminal)
    try:
        result = trigger.send(settings, names.RUN_SYNC_CYCLE, kwargs, queues={queue}, wait=follow)
        if not follow:
            return {
                "job": f"mt5_sync:{terminal}",
                "terminal": terminal,
                "status": "queued",
                "batch_run_id": None,
                "task_id": result.id,
            }
        started = trigger.started_run(result, timeout, what=f"queue {queue}")
    except trigger.Outcome as outcome:
        exit_ = fail(outcome.message, outcome.code)
        exit_.json = [outcome.as_json(job=f"mt5_sync:{terminal}", terminal=terminal)]
        raise exit_ from None
    if started.get("batch_run_id") is None:
        return {**started, "terminal": terminal}
    trigger.follow(started["batch_run_id"], timeout, quiet=quiet or not settings.distributed)
    summary = cycle_summary(started["batch_run_id"])
    return {**summary, "note": started["note"]} if started.get("note") else summary


def show_cycles(summaries: list[dict[str, Any]], as_json: bool) -> None:
    summaries = redact_value(summaries)  # a terminal's error text may hold a password
    if as_json:
        print(json.dumps(summaries))
        return
    table = Table(
        "run",
        "terminal",
        "status",
        "accounts",
        "created",
        "existing",
        "conflicts",
        "failed",
        "divergences",
        title="MT5 sync cycles",
    )
    for s in summaries:
        c = s.get("counts") or {}
        divergences = ", ".join(f"{k} {v}" for k, v in (s.get("divergences") or {}).items()) or "-"
        table.add_row(
            str(s.get("batch_run_id") or "-"),
            s.get("terminal", "-"),
            s["status"],
            str(s.get("accounts", "-")),
            *(str(c.get(k, "-")) for k in ("created", "existing", "conflicts")),
            str(c.get("exceptions", "-")),
            divergences,
        )
    out.print(table)
    for s in summaries:
        if s.get("error") or s.get("note"):
            out.print(f"run {s.get('batch_run_id')}: {s.get('error') or s.get('note')}", markup=False)
    show_guard_actions(summaries)


def show_guard_actions(summaries: list[dict[str, Any]]) -> None:
    """One line per cycle in which the drawdown guard acted: its close intents (login:
    ticket status), the close orders it sent and its alerts (login type action)."""
    for s in summaries:
        guard = s.get("guard") or {}
        intents, alerts = guard.get("close_intents") or [], guard.get("alerts") or []
        if not (intents or alerts or guard.get("closes_sent")):
            continue
        made = ", ".join(f"{i['login']}:{i['ticket']} {i['status']}" for i in intents) or "-"
        raised = ", ".join(f"{a['login']} {a['alert_type']} {a['action']}" for a in alerts) or "-"
        out.print(
            f"run {s['batch_run_id']}: guard: close intents {made}; closes sent {guard.get('closes_sent', 0)}; "
            f"alerts {raised}",
            markup=False,
            highlight=False,
        )
