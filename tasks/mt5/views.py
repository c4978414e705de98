"""What the CLI asks of MT5 cycles: which terminals to sync, and a cycle as JSON with its
divergences by reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from core.mt5.cycle_details import CycleDetails
from db import ledger
from db.mt5.accounts import terminals_of
from db.mt5.models import ReconciliationLog
from tasks.runtime import runtime
from tasks.summary import run_summary


def terminals_to_sync(logins: Sequence[int] | None) -> list[str]:
    with runtime().uow() as uow:
        return terminals_of(uow.session, logins)


def cycle_summary(run_id: int) -> dict[str, Any]:
    """The run as `run --json` prints it, with its terminal, accounts and divergences."""
    with runtime().uow() as uow:
        run = ledger.get_run(uow.session, run_id)
        cycle = CycleDetails.from_details(run.details)
        r = ReconciliationLog
        stmt = (
            select(r.reason, func.count())
            .where(r.batch_run_id == run_id, r.status == "divergence")
            .group_by(r.reason)
            .order_by(r.reason)
        )
        divergences = {reason: int(n) for reason, n in uow.session.execute(stmt)}
        return {
            **run_summary(run),
            "terminal": cycle.terminal,
            "accounts": cycle.accounts,
            "divergences": divergences,
        }
