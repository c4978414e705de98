"""Rules of the run ledger: how a run ends, when a running run is abandoned."""
from __future__ import annotations

from datetime import datetime, timedelta

from core.values import Counts, RunStatus


def final_status(counts: Counts, error: str | None = None) -> RunStatus:
    """failed on an error; completed_with_conflicts when any result conflicted."""
    if error:
        return RunStatus.FAILED
    if counts.conflicts:
        return RunStatus.COMPLETED_WITH_CONFLICTS
    return RunStatus.SUCCEEDED


def combined_status(statuses: list[RunStatus]) -> RunStatus:
    """The status of a run made of steps: the worst of its steps."""
    if RunStatus.FAILED in statuses:
        return RunStatus.FAILED
    if RunStatus.COMPLETED_WITH_CONFLICTS in statuses:
        return RunStatus.COMPLETED_WITH_CONFLICTS
    return RunStatus.SUCCEEDED


def is_abandoned(heartbeat_at: datetime, now: datetime, stale_after: timedelta) -> bool:
    """A running run whose last sign of life is older than `stale_after` was killed."""
    return now - heartbeat_at > stale_after


def chunks(ids: list[int], size: int) -> list[list[int]]:
    """Split ids into consecutive chunks of at most `size`."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [ids[start:start + size] for start in range(0, len(ids), size)]
