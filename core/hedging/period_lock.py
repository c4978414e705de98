"""Closing and reopening a period (seed 004 §4.3 Lock 1): closing takes one person,
reopening two distinct ones (core.hedging.periods.reopen_problem, as a designation's two
approvers). A posting dated in a closed period is refused (core.hedging.posting_day).
Pure: the period's state is an argument."""

from __future__ import annotations

from enum import StrEnum

from core.errors import HedgeopsError
from core.hedging.periods import reopen_problem


class PeriodAction(StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"


class PeriodRefused(HedgeopsError):
    """A close or reopen that the lock's rules refuse (nothing written)."""


def change_problem(action: PeriodAction, closed: bool, actor: str, second: str | None, reason: str) -> str | None:
    """Why this close or reopen is refused, or None."""
    if not actor.strip() or not reason.strip():
        return "a person (--by) and a reason (--reason) are required"
    if action is PeriodAction.CLOSE:
        return "the period is already closed" if closed else None
    if not closed:
        return "the period is open: only a closed period can be reopened"
    if second is None or not second.strip():
        return "a reopen needs a second person (--second)"
    return reopen_problem(actor, second)
