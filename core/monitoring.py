"""What a monitor is told about the nightly (the Nagios plugin convention: 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN) and when the nightly of a date is late. Pure: the
caller gives the run it found and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum

from core.values import RunStatus


class CheckState(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class RunFacts:
    """The newest attempt of a nightly, as the ledger has it."""

    batch_run_id: int
    status: RunStatus
    exceptions: int = 0
    conflicts: int = 0
    price_missing: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    state: CheckState
    message: str

    def line(self, subject: str) -> str:
        """The one status line of a plugin: `NIGHTLY OK - ...`."""
        return f"{subject.upper()} {self.state.name} - {self.message}"


def nightly_deadline(day: date, nightly_at: time, grace: timedelta) -> datetime:
    """The nightly of `day` is sent at `nightly_at` (UTC) on `day`; it is late once
    `grace` has passed since."""
    return datetime.combine(day, nightly_at, tzinfo=UTC) + grace


def previous_business_day(today: date) -> date:
    """The weekday before `today` (Monday's is Friday)."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def latest_due(now: datetime, nightly_at: time, grace: timedelta) -> date:
    """The newest date whose nightly deadline has passed at `now`."""
    day = now.date() + timedelta(days=1)
    while nightly_deadline(day, nightly_at, grace) > now:
        day -= timedelta(days=1)
    return day


def check_nightly(
    day: date, run: RunFacts | None, *, now: datetime, deadline: datetime, max_exceptions: int = 0
) -> Check:
    """OK when it succeeded (or has at most `max_exceptions` exceptions and nothing else
    wrong), or is not due yet; WARNING when it completed with conflicts or more
    exceptions; CRITICAL when it failed, or is missing or still running after its deadline."""
    late = now >= deadline
    due = f"deadline {deadline.isoformat(timespec='minutes')}"
    if run is None:
        if late:
            return Check(CheckState.CRITICAL, f"no nightly run for {day}, {due} passed")
        return Check(CheckState.OK, f"nightly for {day} not started yet ({due})")
    where = f"nightly {day} (batch run {run.batch_run_id})"
    if run.status is RunStatus.RUNNING:
        state = CheckState.CRITICAL if late else CheckState.OK
        return Check(state, f"{where} still running, {due}{' passed' if late else ''}")
    if run.status is RunStatus.FAILED:
        return Check(CheckState.CRITICAL, f"{where} failed: {run.error or 'no error recorded'}")
    figures = f"exceptions={run.exceptions} price_missing={run.price_missing} conflicts={run.conflicts}"
    if run.conflicts:
        return Check(CheckState.WARNING, f"{where} completed with conflicts; {figures}")
    if run.exceptions + run.price_missing > max_exceptions:
        return Check(CheckState.WARNING, f"{where} {run.status.value}; {figures} (more than {max_exceptions})")
    return Check(CheckState.OK, f"{where} {run.status.value}; {figures}")
