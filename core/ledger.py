"""Rules of the run ledger: what a run is of, how it ends, when a running run is abandoned."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from core.keys import run_lock_key
from core.values import Counts, RunStatus

#: The family of nightly jobs: one running attempt per (job, as_of_date).
JOB_FAMILY = "job"


@dataclass(frozen=True, slots=True)
class RunScope:
    """What one run is of and how it is guarded: its job and date, the lock that narrows
    duplicate triggers, the family whose lock and staleness apply (the runtime maps
    families to them), whether one attempt runs per date or per job whatever the date,
    and the error a run ends with when it counted exceptions (None: they do not fail it;
    `{n}` is their number)."""

    job: str
    as_of: date
    lock_name: str
    family: str = JOB_FAMILY
    any_date: bool = False
    exceptions_error: str | None = None

    def stored(self) -> dict[str, Any]:
        """The guard part, kept in the run's details so that whoever ends it knows it."""
        return {k: v for k, v in asdict(self).items() if k not in ("job", "as_of")}

    @classmethod
    def of_run(cls, job: str, as_of: date, details: dict[str, Any]) -> RunScope:
        """The scope a run was started with (a job run when its details do not say)."""
        stored = details.get("scope")
        return cls(job, as_of, **stored) if isinstance(stored, dict) else job_scope(job, as_of)


def job_scope(job: str, as_of: date) -> RunScope:
    return RunScope(str(job), as_of, run_lock_key(str(job), as_of))


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
