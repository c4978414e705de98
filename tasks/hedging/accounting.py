"""Hedge accounting on demand (the CLI's entries): closing and reopening periods, loading
"no longer expected" records. Each entry resolves its bundles once."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInput
from core.hedging.expectations import parse_no_longer_expected
from core.hedging.period_lock import PeriodAction
from db.hedging.dossiers import Loaded
from db.hedging.expectations import load_no_longer_expected
from db.hedging.periods import change_period
from tasks.ports import ports


def change_period_state(
    period: str, action: PeriodAction, *, actor: str, second: str | None, reason: str
) -> dict[str, Any]:
    """Close or reopen `period` (core.hedging.period_lock.PeriodRefused when refused: nothing written)."""
    p = ports()
    with p.uow() as uow:
        event = change_period(uow.session, period, action, actor=actor, second=second, reason=reason, now=p.clock())
        uow.commit()
        return {"period": period, "action": event.action, "by": event.actor, "second": event.second_actor}


def load_no_longer_expected_json(text: str, file: str) -> Loaded:
    """All or nothing: any bad record and nothing is written."""
    p = ports()
    rows, errors = parse_no_longer_expected(text, file, p.date_window)
    if errors:
        raise InvalidInput(f"{file}: {len(errors)} bad record(s); nothing loaded", errors)
    with p.uow() as uow:
        loaded = load_no_longer_expected(uow.session, rows, now=p.clock(), source=file)
        uow.commit()
    return loaded
