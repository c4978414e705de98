"""What the CLI asks of MT5 cycles: which terminals to sync, a cycle as JSON with its
divergences by reason and the guard's actions, a cycle's reconciliation rows, and the
guard's alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import HedgeopsError
from core.mt5.accounts import CYCLE_JOB_PREFIX
from core.mt5.cycle_details import CycleDetails
from db import ledger
from db.models import BatchRun
from db.mt5.accounts import terminals_of
from db.mt5.cycles import guard_actions
from db.mt5.guard_models import DrawdownAlert
from db.mt5.models import ReconciliationLog
from tasks.ports import ports
from tasks.summary import run_summary


def terminals_to_sync(logins: Sequence[int] | None) -> list[str]:
    with ports().uow() as uow:
        return terminals_of(uow.session, logins)


def cycle_summary(run_id: int) -> dict[str, Any]:
    """The run as `run --json` prints it, with its terminal, accounts, divergences and the
    guard's actions."""
    with ports().uow() as uow:
        return cycle_views(uow.session, [ledger.get_run(uow.session, run_id)])[0]


def cycle_views(session: Session, cycles: Sequence[BatchRun]) -> list[dict[str, Any]]:
    """Each sync cycle as its summary, with its terminal, accounts, divergences by reason and
    `guard`: the close intents the drawdown guard made in it, the close orders it sent and
    the alerts it raised (a divergence such as `unknown_position` the guard closed shows
    here as its intent)."""
    ids = [run.id for run in cycles]
    r = ReconciliationLog
    stmt = (
        select(r.batch_run_id, r.reason, func.count())
        .where(r.batch_run_id.in_(ids), r.status == "divergence")
        .group_by(r.batch_run_id, r.reason)
        .order_by(r.batch_run_id, r.reason)
    )
    divergences: dict[int | None, dict[str, int]] = {}
    for run_id, reason, n in session.execute(stmt):
        divergences.setdefault(run_id, {})[reason] = int(n)
    actions = guard_actions(session, ids)
    views = []
    for run in cycles:
        cycle = CycleDetails.from_details(run.details)
        views.append(
            {
                **run_summary(run),
                "terminal": cycle.terminal,
                "accounts": cycle.accounts,
                "divergences": divergences.get(run.id, {}),
                "guard": actions[run.id],
            }
        )
    return views


RECONCILIATION_FIELDS = (
    "login",
    "ticket",
    "signal_id",
    "approval_id",
    "symbol",
    "direction",
    "status",
    "reason",
    "expected_volume",
    "volume",
    "entry_price",
    "open_price",
    "current_price",
    "exit_price",
    "close_reason",
    "close_profit",
)
ALERT_FIELDS = (
    "created_at",
    "login",
    "alert_type",
    "episode",
    "mode",
    "current_pct",
    "day_loss_pct",
    "threshold_pct",
    "equity",
    "action",
    "positions_closed",
    "realised_loss",
)


def reconciliation_rows(run_id: int) -> list[dict[str, Any]]:
    """Every reconciliation row of the sync cycle `run_id`, by login and ticket."""
    with ports().uow() as uow:
        run = uow.session.get(BatchRun, run_id)
        if run is None or not run.job.startswith(CYCLE_JOB_PREFIX):
            raise HedgeopsError(f"no MT5 sync cycle {run_id} (see `hedgeops mt5 cycles`)")
        r = ReconciliationLog
        stmt = select(r).where(r.batch_run_id == run_id).order_by(r.login, r.ticket, r.id)
        return [{f: getattr(row, f) for f in RECONCILIATION_FIELDS} for row in uow.session.scalars(stmt)]


def guard_alerts(login: int | None, since: date | None) -> list[dict[str, Any]]:
    """The drawdown guard's alerts, newest first: of one login, from a UTC day on."""
    a = DrawdownAlert
    stmt = select(a).order_by(a.created_at.desc(), a.id.desc())
    if login is not None:
        stmt = stmt.where(a.login == login)
    if since is not None:
        stmt = stmt.where(a.created_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC))
    with ports().uow() as uow:
        return [{f: getattr(row, f) for f in ALERT_FIELDS} for row in uow.session.scalars(stmt)]
