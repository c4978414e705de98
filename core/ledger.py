"""Rules of the run ledger: what a run is of, how it ends, when a running run is abandoned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from core.keys import run_lock_key
from core.run_details import RunRecord
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
    def of_run(cls, job: str, as_of: date, details: Mapping[str, Any]) -> RunScope:
        """The scope a run was started with (a job run when its details do not say)."""
        stored = RunRecord.from_details(details).scope
        return cls(job, as_of, **stored.model_dump()) if stored is not None else job_scope(job, as_of)


def job_scope(job: str, as_of: date) -> RunScope:
    return RunScope(str(job), as_of, run_lock_key(str(job), as_of))


#: Run outcomes from worst to best: a run of steps takes the worst of its steps'.
SEVERITY: tuple[RunStatus, ...] = (
    RunStatus.FAILED,
    RunStatus.COMPLETED_WITH_CONFLICTS,
    RunStatus.COMPLETED_WITH_EXCEPTIONS,
    RunStatus.SUCCEEDED,
)


def final_status(counts: Counts, error: str | None = None, *, shortfalls: int = 0) -> RunStatus:
    """failed on an error; completed_with_conflicts when any result conflicted;
    completed_with_exceptions when anything was not done (an exception counted, or a
    `shortfall`: a required D-1 price missing, a price source that failed); else succeeded."""
    if error:
        return RunStatus.FAILED
    if counts.conflicts:
        return RunStatus.COMPLETED_WITH_CONFLICTS
    if counts.exceptions or shortfalls:
        return RunStatus.COMPLETED_WITH_EXCEPTIONS
    return RunStatus.SUCCEEDED


def combined_status(statuses: list[RunStatus]) -> RunStatus:
    """The status of a run made of steps: the worst of its steps."""
    for status in SEVERITY:
        if status in statuses:
            return status
    return RunStatus.SUCCEEDED


def shortfalls(details: Mapping[str, Any]) -> int:
    """What a run's details say was not done without counting it as an exception: the
    required D-1 prices missing and the price sources that failed."""
    return RunRecord.from_details(details).shortfalls()


def exceptions_error(template: str, exceptions: int, details: Mapping[str, Any]) -> str:
    """The error of a run that exceptions fail: `{n}` their number, `{failures}` what
    the run's details list of them (e.g. each failed login and why)."""
    failures = "; ".join(RunRecord.from_details(details).failures or []) or "see the run's exceptions"
    return template.format(n=exceptions, failures=failures)


def is_abandoned(heartbeat_at: datetime, now: datetime, stale_after: timedelta) -> bool:
    """A running run whose last sign of life is older than `stale_after` was killed."""
    return now - heartbeat_at > stale_after


def chunks(ids: list[int], size: int) -> list[list[int]]:
    """Split ids into consecutive chunks of at most `size`."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [ids[start : start + size] for start in range(0, len(ids), size)]
