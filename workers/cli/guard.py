"""`hedgeops guard status [--json]`, `hedgeops guard reset LOGIN --by NAME --reason TEXT`, `guard alerts`
(and `guard replay`, from workers.cli.guard_replay when present)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from core.errors import HedgeopsError
from workers.cli import guard_replay
from workers.cli.common import fail, out, parse_day, settings_or_exit, start

guard_app = typer.Typer(
    help="The drawdown guard: state per account, the audited reset of a tripped one.", no_args_is_help=True
)


@guard_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one per account")] = False) -> None:
    """Per account: state (armed, warned, tripped), episode, peak, today's anchor and its
    basis, drawdown %, day loss %, close intents pending."""
    start(settings_or_exit())
    from tasks.mt5.guard_admin import guard_status

    views = guard_status()
    if as_json:
        for view in views:
            out.print(json.dumps(view.as_dict()), markup=False, highlight=False)
        return
    table = Table(
        "login", "terminal", "state", "episode", "peak", "equity", "drawdown %", "day loss %", "anchor", "pending"
    )
    for v in views:
        d = v.as_dict()
        anchor = (
            f"{d['anchor']['value']} ({d['anchor']['basis']}, {d['anchor']['trading_day']})" if d["anchor"] else "-"
        )
        table.add_row(
            str(v.account.login),
            v.account.terminal,
            v.status,
            str(v.episode),
            d["peak_equity"] or "-",
            d["equity"] or "-",
            d["drawdown_pct"] or "-",
            d["day_loss_pct"] or "-",
            anchor,
            str(v.pending_intents),
        )
    out.print(table)


@guard_app.command("reset")
def reset(
    login: Annotated[int, typer.Argument(help="the tripped account's login")],
    by: Annotated[str, typer.Option("--by", help="who resets it (audited)")],
    reason: Annotated[str, typer.Option("--reason", help="why (audited)")],
    keep_peak: Annotated[
        bool, typer.Option("--keep-peak", help="keep the peak equity (default: re-based to the current equity)")
    ] = False,
) -> None:
    """Re-arm a tripped account: the only way its latch is cleared; audited with who and why.
    The peak equity is re-based to the current equity unless --keep-peak."""
    start(settings_or_exit())
    from tasks.mt5.guard_admin import guard_reset

    try:
        view = guard_reset(login, by, reason, keep_peak=keep_peak)
    except HedgeopsError as exc:
        raise fail(str(exc)) from None
    out.print(
        f"account {login}: {view.status} (episode {view.episode} ended by {by.strip()}; peak {view.peak_equity})",
        markup=False,
    )


@guard_app.command("alerts")
def alerts(
    login: Annotated[int | None, typer.Option("--login", help="only this account's alerts")] = None,
    since: Annotated[str | None, typer.Option("--since", help="from this UTC day on, YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The drawdown guard's alerts (warnings and executions), newest first."""
    from tasks.mt5.views import ALERT_FIELDS, guard_alerts

    day = parse_day(since, "--since") if since else None
    start(settings_or_exit())
    rows = guard_alerts(login, day)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table(*ALERT_FIELDS, title="drawdown guard alerts")
    for row in rows:
        table.add_row(*("-" if row[f] is None else str(row[f]) for f in ALERT_FIELDS))
    out.print(table)


guard_replay.register(guard_app)  # the replay command lives in its own module
